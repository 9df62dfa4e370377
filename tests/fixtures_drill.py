"""The music that goes on during a fault drill: a knob turned 50 times a second into a live session."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from copilot.intents.schema import Deck


def turn_knob(session: Any, every: float = 0.02) -> None:
    """Until the session stops: deck A's low EQ swings (a steady CC stream on the target's port). Runs at
    a helper thread's real-time priority, as a live input's thread does: a busy machine must not starve it."""
    from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime

    make_realtime(HELPER_PRIORITY)
    i = 0
    while not session._stop.is_set():
        session.move("eq_low", 0.5 + 0.4 * math.sin(i / 10), Deck.A)
        i += 1
        time.sleep(every)


def knob_thread(session: Any) -> threading.Thread:
    thread = threading.Thread(target=turn_knob, args=(session,), daemon=True, name="drill-knob")
    thread.start()
    return thread
