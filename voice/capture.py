"""Microphone capture that never puts Python on an audio thread.

Under JACK every client's callback runs in one process graph: a Python callback that waits for
the GIL (held by the dispatcher, the parser …) makes the whole graph late, the engine included.
So the PortAudio callback here is a numba `@cfunc` that only copies samples into a ring buffer
(no allocation, no locks, no GIL). A plain reader thread polls the ring every few milliseconds,
resamples to 16 kHz (soxr) and hands 512-sample frames with their capture time to a sink.
(PortAudio's own blocking-read mode is not an option: its JACK implementation crashes.)

`FileSource` plays a WAV file through the same sink at real-time pace (or as fast as possible):
`copilot voice listen --file` and the latency bench use it.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .vad import FRAME, RATE

FrameSink = Callable[[np.ndarray, float], None]  # (512 samples at 16 kHz, capture time of the last one)
Clock = Callable[[], float]

_HEADER = 4  # [frames written, channels, channel to keep, capacity]
_callback: Any = None


def capture_callback() -> Any:
    """The cfunc, compiled once per process (numba caches it on disk)."""
    global _callback
    if _callback is None:
        from numba import carray, cfunc, types

        unsigned_long = types.uint64 if ctypes.sizeof(ctypes.c_ulong) == 8 else types.uint32
        sig = types.int32(types.voidptr, types.voidptr, unsigned_long, types.voidptr, unsigned_long, types.voidptr)

        @cfunc(sig, nopython=True, cache=True)
        def capture(inp, out, frames, time_info, status, user):  # pragma: no cover - runs in C
            header = carray(user, _HEADER, np.float64)
            capacity = np.int64(header[3])
            channels = np.int64(header[1])
            keep = np.int64(header[2])
            ring = carray(user, _HEADER + capacity, np.float64)
            samples = carray(inp, frames * channels, np.float32)
            written = np.int64(header[0])
            for i in range(frames):
                ring[_HEADER + (written + i) % capacity] = samples[i * channels + keep]
            header[0] = written + frames  # published last: the reader trusts samples below this count
            return 0

        _callback = capture
    return _callback


class Ring:
    """The shared buffer: float64 so the write counter stays exact (2^53 frames ≈ 6000 years at 48 kHz)."""

    def __init__(self, seconds: float, rate: int, channels: int = 1, keep_channel: int = 0) -> None:
        self.capacity = int(seconds * rate)
        self.buf = np.zeros(_HEADER + self.capacity, dtype=np.float64)
        self.buf[1], self.buf[2], self.buf[3] = channels, keep_channel, self.capacity
        self.read = 0
        self.dropped = 0

    @property
    def written(self) -> int:
        return int(self.buf[0])

    def take(self) -> np.ndarray:
        """Samples written since the last take (oldest first); counts an overrun as dropped audio."""
        written = self.written
        new = written - self.read
        if new <= 0:
            return np.zeros(0, dtype=np.float32)
        if new > self.capacity:
            self.dropped += new - self.capacity
            self.read = written - self.capacity
            new = self.capacity
        start = self.read % self.capacity
        idx = (start + np.arange(new)) % self.capacity
        self.read = written
        return self.buf[_HEADER + idx].astype(np.float32)


class Framer:
    """Any-rate blocks → 16 kHz frames of 512 samples, each stamped with its capture time."""

    def __init__(self, in_rate: int, sink: FrameSink) -> None:
        import soxr

        self.in_rate = int(in_rate)
        self.sink = sink
        self._resampler = soxr.ResampleStream(self.in_rate, RATE, 1, dtype="float32") if in_rate != RATE else None
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, block: np.ndarray, at: float) -> None:
        """`block` at in_rate; `at` is the capture time of its last sample."""
        if block.size == 0:
            return
        data = self._resampler.resample_chunk(block) if self._resampler is not None else block
        data = np.nan_to_num(np.asarray(data, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        self._pending = np.concatenate([self._pending, data])
        n = self._pending.size // FRAME
        for k in range(n):
            frame = self._pending[k * FRAME:(k + 1) * FRAME]
            behind = (self._pending.size - (k + 1) * FRAME) / RATE
            self.sink(frame, at - behind)
        self._pending = self._pending[n * FRAME:].copy()


def input_devices() -> list[dict[str, Any]]:
    import sounddevice as sd

    return [dict(d, index=i) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


class MicSource:
    """A PortAudio input (device by index or name part) feeding a sink from a reader thread."""

    def __init__(
        self,
        sink: FrameSink,
        device: int | str | None = None,
        channel: int = 0,
        samplerate: int | None = None,
        clock: Clock = time.monotonic,
        poll_s: float = 0.005,
        ring_s: float = 4.0,
    ) -> None:
        import sounddevice as sd

        try:
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            which = "no default audio input" if device is None else f"no audio input {device!r}"
            raise ValueError(f"{which} ({exc}); plug in a microphone or start JACK/PipeWire — "
                             f"`copilot voice devices` lists the inputs") from exc
        self.device_name = str(info["name"])
        channels = int(info["max_input_channels"])
        if not 0 <= channel < channels:
            raise ValueError(f"{self.device_name} has {channels} input channel(s); channel {channel + 1} is not one")
        self.samplerate = int(samplerate or info["default_samplerate"])
        self.clock = clock
        self.poll_s = poll_s
        self.ring = Ring(ring_s, self.samplerate, channels, channel)
        self.framer = Framer(self.samplerate, sink)
        callback = capture_callback()
        self._stream = sd._StreamBase(  # the public classes wrap the callback in Python; we must not
            kind="input", samplerate=self.samplerate, blocksize=0, device=info["index"], channels=channels,
            dtype="float32", callback=callback.address, userdata=sd._ffi.cast("void*", self.ring.buf.ctypes.data),
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    @property
    def stream(self) -> Any:
        return self._stream

    def start(self) -> None:
        self._stream.start()
        self._thread = threading.Thread(target=self._run, name="copilot-voice-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            block = self.ring.take()
            if block.size:
                try:
                    self.framer.push(block, self.clock())
                except Exception:  # noqa: BLE001 - a bad frame must not end capture
                    self.errors += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        try:
            self._stream.stop()
        finally:
            self._stream.close()

    def status(self) -> dict[str, Any]:
        return {"device": self.device_name, "rate": self.samplerate, "dropped_samples": self.ring.dropped,
                "errors": self.errors}


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 and its rate; a clear ValueError for anything that is not readable audio."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise ValueError(f"cannot read {path} as audio: {exc}") from exc
    if audio.size == 0:
        raise ValueError(f"{path} holds no audio")
    return audio.mean(axis=1).astype(np.float32), int(rate)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    if rate == RATE:
        return audio.astype(np.float32)
    return soxr.resample(audio, rate, RATE).astype(np.float32)


class FileSource:
    """A WAV file as if it were a microphone: frames at real-time pace (`speed`=1) or flat out (0)."""

    def __init__(self, sink: FrameSink, path: str | Path | None = None, audio: np.ndarray | None = None,
                 rate: int = RATE, speed: float = 1.0, clock: Clock = time.monotonic,
                 on_end: Callable[[float], None] | None = None) -> None:
        if audio is None:
            if path is None:
                raise ValueError("FileSource needs a path or audio")
            audio, rate = read_wav(path)
        self.audio = to_16k(audio, rate)
        if self.audio.size % FRAME:  # the last partial frame is audio too: pad it with silence
            self.audio = np.concatenate([self.audio, np.zeros(FRAME - self.audio.size % FRAME, np.float32)])
        self.sink = sink
        self.speed = speed
        self.clock = clock
        self.on_end = on_end  # called with the capture time of the last sample once every frame is out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self.finished = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="copilot-voice-file", daemon=True)
        self._thread.start()

    def run(self) -> None:
        self.started_at = t0 = self.clock()
        last = t0
        for k in range(self.audio.size // FRAME):
            if self._stop.is_set():
                return
            due = t0 + (k + 1) * FRAME / RATE / self.speed if self.speed > 0 else self.clock()
            wait = due - self.clock()
            if wait > 0:
                time.sleep(wait)
            last = due if self.speed > 0 else self.clock()
            self.sink(self.audio[k * FRAME:(k + 1) * FRAME], last)
        if self.on_end is not None:
            self.on_end(last)
        self.finished.set()

    def time_of_sample(self, n: int) -> float:
        """Capture time of sample n (real-time pace only)."""
        return self.started_at + n / RATE / max(self.speed, 1e-9)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.join(2.0)

    def status(self) -> dict[str, Any]:
        return {"file_seconds": round(self.audio.size / RATE, 2)}
