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
from .layout import MAX_BLOCK, MAX_DECKS, S_FRAMES
from .recorder import WavRecorder


class OfflineClockMap:
    """Publishes the exact beat↔sample map for each block from a (manual) clock."""

    def __init__(self, engine: Engine, clock: Any, start_time: float | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.t0 = clock.now() if start_time is None else float(start_time)
        self._written = engine.frames  # output sample 0 = the kernel's frame count now
        # fixed for the engine's life, read once: `publish` runs before every block of an offline render
        self._rate = engine.samplerate
        self._latency = engine.latency_samples
        self._stats = engine.state["stats"]

    def time_of_output(self, n: float) -> float:
        return self.t0 + n / self.engine.samplerate

    def output_index(self, kernel_sample: float) -> float:
        return kernel_sample - self._written + self.engine.latency_samples

    def block_end_time(self, frames: int) -> float:
        """Clock time at which the last sample of the next block will sound."""
        return self.t0 + (int(self._stats[S_FRAMES]) - self._written + frames + self._latency) / self._rate

    def publish(self) -> None:
        s = int(self._stats[S_FRAMES])
        t = self.t0 + (s - self._written + self._latency) / self._rate
        self.engine.set_clock_map(s, self.clock.beat_at_time(t), self.clock.tempo / 60.0 / self._rate)


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
    from .kernel import render as kernel  # what `Engine.render` calls, looked up once, not per block

    cmap = OfflineClockMap(engine, clock)
    total = round(seconds * engine.samplerate)
    latency, table = engine.latency_samples, engine.state.table
    writer = None
    if path is not None:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = WavRecorder(path, engine.samplerate)
    # into memory, each block is rendered in place in the whole render's array (no copy per block, no
    # concatenation at the end; zeros are mapped as they are first written, so a render stopped early holds
    # only what it rendered); to a WAV, into one block's buffer, streamed out
    audio = np.zeros(2 * (block if writer is not None else total), np.float32)
    # the decks' taps in output samples (kernel sample s sounds at output sample s + latency), written block
    # by block into one array from the kernel's tap (the same memory every block: `Engine.deck_taps`)
    taps = _tap_array(engine.decks, total, latency) if decks is not None else None
    tap = engine.state["tap"].reshape(MAX_DECKS, MAX_BLOCK, 2)[: engine.decks]
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
                if writer is not None:
                    kernel(table, audio, n)
                    writer.write(audio[: 2 * n].reshape(n, 2))
                else:
                    kernel(table, audio[2 * done: 2 * (done + n)], n)
                if taps is not None:
                    taps[:, done + latency: done + latency + n] = tap[:, :n]
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
    return audio[: 2 * done].reshape(done, 2)


def _tap_array(decks: int, total: int, latency: int) -> np.ndarray:
    """Room for each deck's tap (decks, frames, 2), float32 as the render. Every frame handed back is
    written by a block but the first `latency` (before the kernel's first sample sounds): only those are
    zeroed. A rehearsal worker's heap hands back the last candidate's memory, which np.zeros would clear
    whole first (tens of MB per candidate, each frame then written again)."""
    taps = np.empty((decks, total + latency, 2), np.float32)
    taps[:, :latency] = 0.0
    return taps


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
