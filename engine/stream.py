"""Real time: a numba `@cfunc` PortAudio callback, and the feeder that keeps its beat map true.

The callback is C: PortAudio calls it with the engine's address table as `userdata`; it never takes
the GIL, so no Python thread can starve it (shared/reference/engine.md: a Python callback lost
two thirds of its blocks to one busy thread; this one lost none). It is plugged into sounddevice's
private `_StreamBase` (the python-rtmixer technique; sounddevice is pinned for that reason).

The feeder (a Python thread, every 10 ms) publishes "kernel sample s sounds on Link beat b": the
callback logs (start time, first sample) each block; the earliest-arriving callbacks give the audio
clock's offset from host time; add the device's output latency and the limiter's look-ahead, ask the
Link clock which beat that instant is, and publish. The kernel slews gently toward each new map.

With no sound device the engine plays into a WAV instead, paced by the clock (engine/paced.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import numpy as np
from numba import carray, cfunc, types

from .engine import Engine
from .kernel import render
from .layout import A_STATS, ARRAYS, S_CALLBACKS, S_TIME_IDX, S_UNDERFLOW_AT, S_UNDERFLOWS, TIMES
from .native import voidptr

TABLE_LEN = 2 * len(ARRAYS)
PA_OUTPUT_UNDERFLOW = 4
FEED_INTERVAL = 0.01
SIGNATURE = types.intc(types.voidptr, types.voidptr, types.uint64, types.voidptr, types.uint64, types.voidptr)


@cfunc(SIGNATURE, nopython=True, cache=True, error_model="numpy")
def audio_callback(inp, outp, frames, time_info, status, user):  # type: ignore[no-untyped-def]
    tbl = carray(user, (TABLE_LEN,), np.int64)
    if status & PA_OUTPUT_UNDERFLOW:
        stats = carray(voidptr(tbl[2 * A_STATS]), (tbl[2 * A_STATS + 1],), np.int64)
        stats[S_UNDERFLOWS] += 1
        stats[S_UNDERFLOW_AT] = stats[S_CALLBACKS]  # which block: start-up, or mid-set?
    n = np.int64(frames)  # uint64 mixed with int64 would turn every index into a float
    out = carray(outp, (n * 2,), np.float32)
    render(tbl, out, n)
    return 0


class NoAudioDevice(RuntimeError):
    """No output device could be opened; the message says which and why."""


def warm_up() -> float:
    """Compile (or load from cache) every kernel on a scratch state; returns the seconds it took."""
    t0 = time.perf_counter()
    scratch = Engine()
    scratch.set_clock_map(0, 0.0, 2.0 / scratch.samplerate)
    scratch.render(64)
    _ = audio_callback.address
    return time.perf_counter() - t0


def output_devices() -> list[dict[str, Any]]:
    import sounddevice as sd

    try:
        return [d for d in sd.query_devices() if d["max_output_channels"] >= 2]
    except Exception:  # noqa: BLE001 - no PortAudio, no devices: say so, never crash doctor
        return []


def clock_offset(engine: Engine, window: int = 256) -> float | None:
    """Host time of kernel sample 0 as the audio clock sees it (the earliest callbacks are the truth)."""
    stats = engine.state["stats"]
    times = engine.state["times"].reshape(TIMES, 3)
    count = int(stats[S_TIME_IDX])
    if count < 2:
        return None
    n = min(window, count - 1, TIMES - 1)
    idx = (np.arange(count - n, count) % TIMES)
    rows = times[idx]
    rows = rows[rows[:, 0] > 0]
    if rows.size == 0:
        return None
    return float(np.min(rows[:, 0] * 1e-9 - rows[:, 2] / engine.samplerate))


class EngineStream:
    """The engine on a sound device: open, keep its beat map true, close."""

    def __init__(self, engine: Engine, clock: Any, device: Any = None, blocksize: int = 64,
                 latency: float | str = "low") -> None:
        if not 16 <= blocksize <= 4096:
            raise ValueError(f"block size must be 16..4096 frames, got {blocksize}")
        self.engine = engine
        self.clock = clock
        self.device = device
        self.blocksize = int(blocksize)
        self.latency_request = latency
        self.latency = 0.0
        self._stream: Any = None
        self._feeder: threading.Thread | None = None
        self._running = threading.Event()
        self.on_tick: Any = None  # called from the feeder thread (e.g. deck-state feedback)

    def open(self) -> None:
        import sounddevice as sd

        warm_up()
        e = self.engine
        try:
            self._stream = sd._StreamBase(
                kind="output", samplerate=e.samplerate, blocksize=self.blocksize, device=self.device,
                channels=2, dtype="float32", latency=self.latency_request,
                callback=sd._ffi.cast("PaStreamCallback*", audio_callback.address),
                userdata=sd._ffi.cast("void*", e.state.table.ctypes.data),
            )
        except Exception as exc:  # noqa: BLE001 - PortAudio/cffi errors vary by host API
            raise NoAudioDevice(f"cannot open an audio output ({exc})") from None
        self.latency = float(self._stream.latency)
        self._publish(self.clock.now())  # a first guess before any callback has run
        self._running.set()
        self._stream.start()
        self._feeder = threading.Thread(target=self._feed, name="copilot-engine-feeder", daemon=True)
        self._feeder.start()

    @property
    def output_latency(self) -> float:
        """Send-ahead a target needs: device latency + limiter look-ahead + one block + dispatch margin."""
        e = self.engine
        return self.latency + (e.latency_samples + self.blocksize) / e.samplerate + 0.002

    def _publish(self, host_zero: float) -> None:
        """Kernel sample s sounds at host_zero + s/rate + latency + look-ahead."""
        e = self.engine
        s = e.frames
        t = host_zero + (s + e.latency_samples) / e.samplerate + self.latency
        e.set_clock_map(s, self.clock.beat_at_time(t), self.clock.tempo / 60.0 / e.samplerate)

    def _feed(self) -> None:
        while self._running.is_set():
            offset = clock_offset(self.engine)
            if offset is not None:
                self._publish(offset)
            if self.on_tick is not None:
                with contextlib.suppress(Exception):  # a bad observer must never stop the feeder
                    self.on_tick()
            time.sleep(FEED_INTERVAL)

    def close(self) -> None:
        self._running.clear()
        if self._feeder is not None:
            self._feeder.join(1.0)
            self._feeder = None
        if self._stream is not None:
            try:
                self._stream.stop()
            finally:
                self._stream.close()
                self._stream = None

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def underflows(self) -> int:
        return int(self.engine.state["stats"][S_UNDERFLOWS])
