"""The writer's side of the command ring: single producer, single consumer, no lock on the audio side.

Rows are written first, then the tail index is advanced (one aligned int64 store), so the kernel
never sees a half-written command. Python threads that write (dispatch, loader, panic) serialise on
a Python lock among themselves; the audio thread never touches that lock. A full ring drops the
command and counts it: it never blocks the dispatcher.

Note on memory order: x86 keeps stores in program order; on weakly ordered CPUs the numpy store of
the tail could in theory pass the row stores. The kernel fences its side; CPython's own locking
around the writer (the GIL release/acquire) is a full barrier in practice on ARM too.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from .layout import C_ENVELOPE, RING_HEAD, RING_ROWS, RING_TAIL, ROW
from .state import EngineState

NAN = float("nan")


def row(code: int, target: int = -1, beat: float | None = None, *args: float) -> np.ndarray:
    """One command row: code, target (deck, lane or slot), beat (None = at once), up to 5 arguments."""
    if len(args) > ROW - 3:
        raise ValueError("a command row holds at most 5 arguments")
    out = np.full(ROW, NAN)
    out[0] = code
    out[1] = target
    out[2] = NAN if beat is None else float(beat)
    out[3:3 + len(args)] = args
    return out


def envelope_rows(lane: int, corners: Sequence[tuple[float, float]]) -> np.ndarray:
    """An envelope as a header row plus corner rows (4 corners a row)."""
    pts = [(float(b), float(v)) for b, v in corners if math.isfinite(b)]
    if not pts:
        raise ValueError("an envelope needs at least one corner with a finite beat")
    n = len(pts)
    body = np.full((n + 3) // 4 * 8, NAN)
    body[: 2 * n] = np.array(pts).ravel()
    head = row(C_ENVELOPE, lane, pts[0][0], n)
    return np.concatenate([head, body]).reshape(-1, ROW)


class CommandRing:
    def __init__(self, state: EngineState) -> None:
        self._rows = state["ring"].reshape(RING_ROWS, ROW)
        self._idx = state["ring_idx"]
        self._lock = threading.Lock()
        self.dropped = 0
        self.written = 0

    def push(self, rows: np.ndarray) -> bool:
        """Write rows as one unit; False (and counted) if the ring has no room."""
        rows = np.atleast_2d(rows)
        n = len(rows)
        with self._lock:
            head = int(self._idx[RING_HEAD])
            tail = int(self._idx[RING_TAIL])
            if tail + n - head > RING_ROWS:
                self.dropped += 1
                return False
            for k in range(n):
                self._rows[(tail + k) % RING_ROWS] = rows[k]
            self._idx[RING_TAIL] = tail + n
            self.written += n
        return True

    def free(self) -> int:
        return RING_ROWS - int(self._idx[RING_TAIL] - self._idx[RING_HEAD])
