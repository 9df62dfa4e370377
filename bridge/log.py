"""The session log: JSON Lines of every intent, every decision with its reason, every message sent with
its beat, due time and send time — so a set can be replayed and examined afterwards.

Hot threads only put records on a queue; a writer thread does the file I/O. A log that cannot be written
(the disk is full, the folder went away) stops with one line to the performer and takes nothing else
down: records are dropped from then on, the set goes on.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clock import host_time


def _default(obj: Any) -> Any:
    to_log = getattr(obj, "to_log", None)
    if callable(to_log):
        return to_log()
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, bytes):
        return obj.hex(" ")
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return repr(obj)


class SessionLog:
    def __init__(self, path: Path | str | None, on_fail: Callable[[str], None] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.on_fail = on_fail  # told once, in words, when the log stops (never raises into the writer)
        self.failed: str | None = None
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.unwritable = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._thread = threading.Thread(target=self._write, name="copilot-log", daemon=True)
            self._thread.start()

    def record(self, kind: str, **fields: Any) -> None:
        if self.path is None or self.failed is not None:
            return
        fields["type"] = kind
        fields.setdefault("t", host_time())
        self._queue.put(fields)

    def record_sent(self, sent: Any) -> None:
        """For the dispatch thread: one queue put; the writer thread turns it into a record."""
        if self.path is not None and self.failed is None:
            self._queue.put(sent)

    def _write(self) -> None:
        from .dispatch import make_realtime

        make_realtime(20)  # it wakes after every send; never preempted while it holds the GIL
        while True:
            item = self._queue.get()
            if item is None:
                break
            if self.failed is not None:
                continue  # stopped: drain what hot threads still put, keep nothing
            if not isinstance(item, dict):
                item = sent_record(item)
            try:
                self._fh.write(json.dumps(item, default=_default, ensure_ascii=False) + "\n")
                self.written += 1
                if self._queue.empty():
                    self._fh.flush()
            except OSError as exc:  # the disk is full, the folder is gone: stop the log, not the set
                self._stop_writing(exc)
            except (TypeError, ValueError, RecursionError):  # one record that is not JSON: that one is lost
                self.unwritable += 1
        if self.failed is None:
            try:
                self._fh.flush()
            except OSError as exc:
                self._stop_writing(exc)

    def _stop_writing(self, exc: OSError) -> None:
        self.failed = exc.strerror or type(exc).__name__
        if self.on_fail is not None:
            with contextlib.suppress(Exception):
                self.on_fail(f"✗ the session log stopped after {self.written} records ({self.failed}: {self.path}); "
                             "the set goes on without it — free some space for the next set")

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5.0)
            with contextlib.suppress(OSError):  # a full disk fails the last flush too: said already
                self._fh.close()
            self._thread = None


def sent_record(sent: Any) -> dict[str, Any]:
    """A dispatcher `Sent` as a log record: target, beat, due and send times, and the wire bytes."""
    payload = sent.payload
    data = payload.to_log() if hasattr(payload, "to_log") else {"payload": type(payload).__name__}
    return {"type": "sent", "target": sent.sink, "beat": sent.beat, "due": sent.due, "sent": sent.sent,
            "action": sent.action_id, "t": sent.sent, **data}


def read_log(path: Path | str) -> list[dict[str, Any]]:
    """All records of a session log (for replay, tests and `copilot` tooling)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
