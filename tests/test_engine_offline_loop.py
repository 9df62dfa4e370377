"""`render_offline`'s loop renders each block in place in the whole render's array and reads the kernel's
deck tap once per block: the mix and each deck's tap are the same, sample for sample, as the plain way
— `Engine.render` into a block buffer, the block copied out, `Engine.deck_taps` — with the master chain
on, commands landing on beats mid-render, and a render ending off a block's edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from copilot.bridge.clock import ManualClock
from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.offline import OfflineClockMap, manual_advance, render_offline
from copilot.engine.state import EngineSettings

SR, BPM, BLOCK = 48000, 124.0, 512


def scene() -> tuple[Engine, ManualClock]:
    """Two decks of tones through the master chain; B starts, A ramps and ducks on beats mid-render."""
    eng = Engine(EngineSettings(samplerate=SR, decks=2))
    clock = ManualClock(BPM)
    t = np.arange(8 * SR) / SR
    for d, hz in enumerate((55.0, 440.0)):
        x = 0.6 * np.sin(2 * np.pi * hz * t) * (1 + 0.5 * np.sin(2 * np.pi * 2.0 * t))
        eng.load(d, Track(Path(f"deck{d}"), np.stack([x, 0.8 * x], 1).astype(np.float32), SR, BPM, 0.0), beat=0.0)
    eng.play(0, 0.0)
    eng.play(1, 2.37)  # off the beat, inside a block
    eng.control("volume", 0.4, 0, 5.1)
    eng.control("filter", 0.7, 1, 7.5)
    return eng, clock


def plain(eng: Engine, clock: ManualClock, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Block by block the plain way: the reference."""
    cmap, advance = OfflineClockMap(eng, clock), manual_advance(clock, _Pump())
    total, lat = round(seconds * SR), eng.latency_samples
    taps = np.zeros((eng.decks, total + lat, 2), np.float32)
    eng.tap_decks(True)
    chunks, done = [], 0
    while done < total:
        n = min(BLOCK, total - done)
        advance(cmap.block_end_time(n))
        cmap.publish()
        out = eng.render(n)
        chunks.append(out.reshape(n, 2).copy())
        taps[:, done + lat: done + lat + n] = eng.deck_taps(n)
        done += n
    eng.tap_decks(False)
    return np.concatenate(chunks), taps[:, :done]


class _Pump:
    def pump(self, until: float) -> None:  # nothing to dispatch: the commands are in the engine's ring
        return None


def test_the_offline_loop_renders_what_block_by_block_renders(tmp_path: Path) -> None:
    seconds = 6.0 + 123 / SR  # the last block short
    ref_mix, ref_taps = plain(*scene(), seconds)
    eng, clock = scene()
    decks: list[np.ndarray] = []
    mix = render_offline(eng, clock, seconds, manual_advance(clock, _Pump()), block=BLOCK, decks=decks)
    assert isinstance(mix, np.ndarray) and mix.shape == ref_mix.shape == (round(seconds * SR), 2)
    assert np.abs(ref_mix).max() > 0.1 and np.abs(ref_taps[1]).max() > 0.05  # both decks heard
    assert np.array_equal(mix, ref_mix)
    assert np.array_equal(decks[0], ref_taps)
    eng, clock = scene()  # to a WAV: the same samples (its own buffer, streamed)
    wav = render_offline(eng, clock, seconds, manual_advance(clock, _Pump()), path=tmp_path / "m.wav", block=BLOCK)
    written, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == SR and written.shape == ref_mix.shape
    assert np.abs(written - ref_mix).max() < 2.0 ** -22  # 24-bit


def test_the_taps_are_whole_in_memory_another_render_left_dirty(monkeypatch: pytest.MonkeyPatch) -> None:
    """The taps' array is not cleared first (a rehearsal worker's heap hands back the last candidate's
    memory): every frame handed back is written, the latency's head as zeros — here with every fresh
    array full of NaN, a render to its end and one stopped early."""
    empty = np.empty

    def dirty(*args: Any, **kwargs: Any) -> np.ndarray:
        x = empty(*args, **kwargs)
        x.fill(np.nan)
        return x

    monkeypatch.setattr(np, "empty", dirty)
    seconds = 3.0 + 77 / SR
    ref_mix, ref_taps = plain(*scene(), seconds)
    assert ref_taps.shape[1] > Engine(EngineSettings(samplerate=SR, decks=2)).latency_samples > 0
    for stop_after in (None, 40):
        eng, clock = scene()
        decks: list[np.ndarray] = []
        calls = iter(range(10**9))
        stop = (lambda: next(calls) >= stop_after) if stop_after else None  # noqa: B023
        mix = render_offline(eng, clock, seconds, manual_advance(clock, _Pump()), block=BLOCK, decks=decks, stop=stop)
        assert isinstance(mix, np.ndarray)
        done = len(mix)
        assert done == (len(ref_mix) if stop_after is None else 40 * BLOCK)
        assert np.array_equal(decks[0], ref_taps[:, :done])
