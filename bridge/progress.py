"""Slow steps say what they are doing: a spinner on a terminal, one line anywhere else.

Nothing is shown for a step that ends within `after` seconds (most do once caches are warm); a slower
one shows its name while it runs and how long it took when it ends. The spinner goes to stderr and
leaves nothing behind; the lines go to the caller's `report` (the session's log sees them too).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def busy(what: str, report: Callable[[str], None] | None = None, after: float = 1.0) -> Iterator[None]:
    """`with busy("compiling the engine's kernels", session.report): …`"""
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    started = time.monotonic()
    done = threading.Event()
    shown: dict[str, Any] = {}

    def show() -> None:
        if done.wait(after):
            return
        if sys.stderr.isatty():
            try:
                from rich.console import Console

                status = Console(stderr=True).status(f"{what} …")
                status.start()
                shown["status"] = status
                return
            except Exception:  # noqa: BLE001 - no rich, odd terminal: a plain line will do
                pass
        say(f"{what} …")
        shown["line"] = True

    watcher = threading.Thread(target=show, name="copilot-busy", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        if "status" in shown:
            shown["status"].stop()
        if shown:
            say(f"{what}: done in {time.monotonic() - started:.1f} s")
