"""What the dispatcher tells a port about the send under way, without every target passing it along.

A target's `send(payload)` ends in a port's `send(data)`; a port that is fed ahead of time (the native
JACK out, bridge/jack_midi.py) needs the payload's due time, and hands back a ticket that lets a PANIC or
a cancel withdraw it before it is due. Per thread: only the dispatch thread sets it; any other thread
that sends (a tempo watcher, a test) finds `due` None and sends at once.
"""

from __future__ import annotations

import threading
from typing import Any


class Handover(threading.local):
    due: float | None = None  # Link time the payload is due on the wire; None: now
    tickets: list[tuple[Any, int]] | None = None  # (port, ticket) for each message handed ahead


HANDOVER = Handover()
