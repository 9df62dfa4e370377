"""The fallback with no sound device: the engine's kernel paced by the clock, into a WAV.

The session runs exactly as it would live (the same dispatch thread, inputs and feedback); only the
speaker is a file. Kept out of stream.py so editing it never invalidates the compiled kernels.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .engine import Engine
from .recorder import WavRecorder
from .stream import warm_up


class PacedRenderer:
    """No sound card: render in step with the clock into a WAV, so the session runs exactly as live.

    The WAV's header is rewritten every second (engine/recorder.py), so even `kill -9` leaves a file
    that holds all but the last second; at `max_seconds` it stops writing and calls `on_full` once."""

    def __init__(self, engine: Engine, clock: Any, path: str | Path, blocksize: int = 512, lead: float = 0.02,
                 max_seconds: float | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.path = Path(path).expanduser()
        self.blocksize = blocksize
        self.lead = lead
        self.max_seconds = max_seconds
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._recorder: WavRecorder | None = None
        self.on_tick: Any = None
        self.on_full: Any = None  # called once, from the render thread, when the WAV reaches max_seconds

    @property
    def output_latency(self) -> float:
        e = self.engine
        return self.lead + (self.blocksize + e.latency_samples) / e.samplerate + 0.002

    @property
    def seconds(self) -> float:
        """Audio written so far."""
        return self._recorder.seconds if self._recorder is not None else 0.0

    def open(self) -> None:
        warm_up()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._recorder = WavRecorder(self.path, self.engine.samplerate)
        self._t0 = self.clock.now() + self.lead
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="copilot-engine-paced", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        e = self.engine
        recorder = self._recorder
        assert recorder is not None
        out = np.zeros(2 * self.blocksize, np.float32)
        start = e.frames
        cap = None if self.max_seconds is None else int(self.max_seconds * e.samplerate)
        while self._running.is_set():
            s = e.frames - start
            if cap is not None and s >= cap:
                self._running.clear()
                if self.on_full is not None:
                    with contextlib.suppress(Exception):
                        self.on_full()
                return
            due = self._t0 + s / e.samplerate - self.lead
            wait = due - self.clock.now()
            if wait > 0:
                time.sleep(min(wait, 0.05))
                continue
            n = self.blocksize if cap is None else min(self.blocksize, cap - s)
            t = self._t0 + (s + e.latency_samples) / e.samplerate
            e.set_clock_map(e.frames, self.clock.beat_at_time(t), self.clock.tempo / 60.0 / e.samplerate)
            e.render(n, out)
            recorder.write(out[: 2 * n].reshape(-1, 2))
            if self.on_tick is not None:
                with contextlib.suppress(Exception):
                    self.on_tick()

    def close(self) -> None:
        self._running.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        self._thread = None
        if self._recorder is not None:
            self._recorder.close()
