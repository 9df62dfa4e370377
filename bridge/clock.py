"""One clock for everything: beats and host time on Link's monotonic time base.

Every time in copilot is a float of seconds on `host_time()`, the clock Link itself uses
(CLOCK_MONOTONIC_RAW on Linux). Never mix it with `time.time()`.

A clock publishes immutable `ClockAnchor`s: (host time, beat, tempo) taken back to back. Readers on
hot threads (dispatch, engine feeder) just read the current anchor attribute; swapping a Python
attribute is atomic, so no lock is ever taken to turn a beat into a time.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

if sys.platform.startswith("linux"):

    def host_time() -> float:
        """Seconds on Link's clock (CLOCK_MONOTONIC_RAW on Linux)."""
        return time.clock_gettime(time.CLOCK_MONOTONIC_RAW)

elif sys.platform == "darwin":  # Link uses mach_absolute_time, which time.monotonic wraps on macOS

    def host_time() -> float:
        return time.monotonic()

else:  # Windows: Link uses QueryPerformanceCounter, as does perf_counter

    def host_time() -> float:
        return time.perf_counter()


@dataclass(frozen=True, slots=True)
class ClockAnchor:
    """A point where beat and time were read together; the grid is a straight line through it."""

    time: float
    beat: float
    tempo: float

    def time_at_beat(self, beat: float) -> float:
        return self.time + (beat - self.beat) * 60.0 / self.tempo

    def beat_at_time(self, t: float) -> float:
        return self.beat + (t - self.time) * self.tempo / 60.0


@runtime_checkable
class BeatClock(Protocol):
    """What every part of copilot may ask of the clock."""

    quantum: float

    def now(self) -> float: ...
    @property
    def anchor(self) -> ClockAnchor: ...
    @property
    def tempo(self) -> float: ...
    @property
    def playing(self) -> bool: ...
    @property
    def peers(self) -> int: ...
    @property
    def beat(self) -> float: ...
    def phase(self, quantum: float | None = None) -> float: ...
    def time_at_beat(self, beat: float) -> float: ...
    def beat_at_time(self, t: float) -> float: ...
    def set_tempo(self, bpm: float, wait: bool = True, at_beat: float | None = None) -> None: ...
    def start(self) -> float: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def next_boundary(beat: float, grid: float, origin: float = 0.0) -> float:
    """The first grid line at or after `beat` (grid in beats: 1 = beat, 4 = bar, 32 = 8-bar phrase)."""
    return origin + math.ceil((beat - origin) / grid - 1e-9) * grid


def last_boundary(beat: float, grid: float, origin: float = 0.0) -> float:
    """The grid line at or before `beat`."""
    return origin + math.floor((beat - origin) / grid + 1e-9) * grid


class AnchoredClock:
    """Shared arithmetic for clocks that publish anchors; subclasses decide where anchors come from."""

    def __init__(self, tempo: float, quantum: float) -> None:
        if not (20.0 <= tempo <= 999.0):
            raise ValueError(f"tempo must be 20..999 BPM, got {tempo}")
        if quantum <= 0:
            raise ValueError(f"quantum must be positive, got {quantum}")
        self.quantum = float(quantum)
        self._anchor = ClockAnchor(self.now(), 0.0, float(tempo))
        self._playing = False

    def now(self) -> float:
        """Current time on this clock's time base (host time, unless the clock is virtual)."""
        return host_time()

    @property
    def anchor(self) -> ClockAnchor:
        return self._anchor

    @property
    def tempo(self) -> float:
        return self._anchor.tempo

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def beat(self) -> float:
        return self._anchor.beat_at_time(self.now())

    def phase(self, quantum: float | None = None) -> float:
        q = self.quantum if quantum is None else quantum
        return self.beat % q

    def time_at_beat(self, beat: float) -> float:
        return self._anchor.time_at_beat(beat)

    def beat_at_time(self, t: float) -> float:
        return self._anchor.beat_at_time(t)


class InternalClock(AnchoredClock):
    """The clock when Link is off or nobody else is around: a straight line from start-up."""

    def __init__(self, tempo: float = 120.0, quantum: float = 4.0) -> None:
        super().__init__(tempo, quantum)
        self._lock = threading.Lock()

    @property
    def peers(self) -> int:
        return 0

    def set_tempo(self, bpm: float, wait: bool = True, at_beat: float | None = None) -> None:
        """Change tempo; the grid pivots on `at_beat` (a TEMPO action's own beat) or on now."""
        if not (20.0 <= bpm <= 999.0):
            raise ValueError(f"tempo must be 20..999 BPM, got {bpm}")
        with self._lock:
            if at_beat is None:
                now = self.now()
                self._anchor = ClockAnchor(now, self._anchor.beat_at_time(now), float(bpm))
            else:
                self._anchor = ClockAnchor(self._anchor.time_at_beat(at_beat), at_beat, float(bpm))

    def start(self) -> float:
        """Start playing on the next bar; returns the beat where playing starts."""
        with self._lock:
            start_beat = next_boundary(self.beat, self.quantum)
            self._playing = True
            return start_beat

    def stop(self) -> None:
        self._playing = False

    def close(self) -> None:
        self._playing = False


class ManualClock(InternalClock):
    """A clock whose time moves only when told: offline render, rehearsal and deterministic tests."""

    def __init__(self, tempo: float = 120.0, quantum: float = 4.0, start: float = 0.0) -> None:
        self._now = float(start)
        super().__init__(tempo, quantum)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        return self._now

    def advance_to_beat(self, beat: float) -> float:
        target = self.time_at_beat(beat)
        if target > self._now:
            self._now = target
        return self._now
