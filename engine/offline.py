"""Offline render: the real-time kernel, driven block by block on virtual time, faster than real time.

Output sample n of the file *is* the speaker: it sounds at clock time t0 + n / rate. The kernel
computes sample s `latency_samples` before it leaves the limiter, so the clock map says "kernel sample
s is beat_at(t0 + (s + latency) / rate)". Before each block, `advance(until)` (the session's, or a
test's dispatcher pump) delivers every payload due by the end of that block, exactly as the dispatch
thread would have; the kernel then places each on the sample of its beat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .engine import Engine
from .layout import MAX_BLOCK
from .recorder import WavRecorder


class OfflineClockMap:
    """Publishes the exact beat↔sample map for each block from a (manual) clock."""

    def __init__(self, engine: Engine, clock: Any, start_time: float | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.t0 = clock.now() if start_time is None else float(start_time)
        self._written = engine.frames  # output sample 0 = the kernel's frame count now

    def time_of_output(self, n: float) -> float:
        return self.t0 + n / self.engine.samplerate

    def output_index(self, kernel_sample: float) -> float:
        return kernel_sample - self._written + self.engine.latency_samples

    def block_end_time(self, frames: int) -> float:
        """Clock time at which the last sample of the next block will sound."""
        s = self.engine.frames - self._written + frames + self.engine.latency_samples
        return self.time_of_output(s)

    def publish(self) -> None:
        e = self.engine
        s = e.frames
        t = self.time_of_output(s - self._written + e.latency_samples)
        e.set_clock_map(s, self.clock.beat_at_time(t), self.clock.tempo / 60.0 / e.samplerate)


def render_offline(
    engine: Engine,
    clock: Any,
    seconds: float,
    advance: Callable[[float], Any] | None = None,
    path: str | Path | None = None,
    block: int = 1024,
    on_block: Callable[[float], Any] | None = None,
    stop: Callable[[], bool] | None = None,
    decks: list[np.ndarray] | None = None,
    next_due: Callable[[], float] | None = None,
    chunk: int | None = None,
) -> np.ndarray | Path:
    """Render `seconds` of the engine. `advance(until)` runs before each block (moves the clock and
    pumps the dispatcher up to `until`); `stop()` true ends the render early (the set cannot go on).
    Returns the audio (frames, 2), or the path when writing a WAV (24-bit, streamed block by block, so an
    hour-long render needs no hour of memory, its header kept true as it grows: engine/recorder.py).
    `decks`: a list that receives each deck's signal after its fader from the same pass, (decks, frames,
    2), aligned with the output sample for sample (the limiter's look-ahead delay added).

    `next_due()` (the clock time of the next thing `advance` would do; −inf: do not skip ahead) lets the
    Python side — `advance`, `on_block` — run once for up to `chunk` frames of blocks instead of once per
    block, while nothing is due: the kernel still renders block by block, each with its clock map. The
    block before the one an event is due in, and that block, are stepped one at a time as without it, so
    `advance` sends the same things before the same blocks and `on_block` has reported the decks one block
    before, as block by block."""
    if seconds <= 0:
        raise ValueError("render a positive duration")
    if decks is not None and block > MAX_BLOCK:
        raise ValueError(f"deck taps need blocks of at most {MAX_BLOCK} frames")
    cmap = OfflineClockMap(engine, clock)
    total = round(seconds * engine.samplerate)
    out = np.zeros(2 * block, np.float32)
    writer = None
    chunks: list[np.ndarray] = []
    if path is not None:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = WavRecorder(path, engine.samplerate)
    # the decks' taps in output samples (kernel sample s sounds at output sample s + latency), written block
    # by block into one array
    taps = np.zeros((engine.decks, total + engine.latency_samples, 2), np.float32) if decks is not None else None
    if decks is not None:
        engine.tap_decks(True)
    try:
        done = 0
        while done < total and not (stop is not None and stop()):
            blocks = _quiet_blocks(cmap, next_due(), block, min(chunk, total - done)) if next_due and chunk else 1
            span = min(blocks * block, total - done)
            until = cmap.block_end_time(span)
            if advance is not None:
                advance(until)
            if on_block is not None:
                on_block(until)
            end = done + span
            while done < end:
                n = min(block, end - done)
                cmap.publish()
                engine.render(n, out)
                frame = out[: 2 * n].reshape(n, 2)
                if taps is not None:
                    at = done + engine.latency_samples
                    taps[:, at:at + n] = engine.deck_taps(n)
                if writer is not None:
                    writer.write(frame)
                else:
                    chunks.append(frame.copy())
                done += n
    finally:
        if writer is not None:
            writer.close()
        if decks is not None:
            engine.tap_decks(False)
    if decks is not None and taps is not None:
        decks.append(taps[:, :done])
    if path is not None:
        return path
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)


def _quiet_blocks(cmap: OfflineClockMap, due: float, block: int, most: int) -> int:
    """Blocks from now that may share one Python step: those that end before `due`, but the last of them
    (stepped alone, so the decks are reported one block before the event's block, as block by block); at
    least one, at most `most` frames' worth."""
    k = 0
    while (k + 1) * block <= most and cmap.block_end_time((k + 1) * block) < due:
        k += 1
    return max(1, k - 1)


def manual_advance(clock: Any, dispatcher: Any) -> Callable[[float], Any]:
    """`advance` for tests and scripts without a session: move a ManualClock, pump the dispatcher."""

    def advance(until: float) -> Any:
        if until > clock.now():
            clock.advance(until - clock.now())
        return dispatcher.pump(until)

    return advance
