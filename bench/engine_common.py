"""Shared by the engine benches: the full two-deck graph with every stage busy, and small stats."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.layout import S_TIME_IDX, TIMES
from copilot.engine.state import EngineSettings, MasterSettings

SR = 48000


def full_graph(seconds: float = 30.0, decks: int = 2, master: MasterSettings | None = None) -> Engine:
    """Decks playing (varispeed 118 and 126 BPM onto 124), a loop, EQ cuts, filter, echo and reverb
    sends, room, master chain and limiter working: the most the engine does per sample."""
    eng = Engine(EngineSettings(samplerate=SR, decks=decks, master=master or MasterSettings()))
    eng.set_clock_map(0, 0.0, 124.0 / 60.0 / SR)
    for d, x in enumerate(deck_audio(seconds, decks)):
        eng.load(d, Track(Path(f"deck{d}"), x, SR, deck_bpm(d)))
        eng.play(d)
        eng.fx(d, "echo" if d % 2 == 0 else "reverb", 0.5)
        eng.control("fx_send", 0.3, d)
        eng.control("eq_low", 0.3, d)
        eng.control("filter", 0.35 + 0.3 * d, d)
        eng.control("tremolo", 0.2, d)
    eng.loop(decks - 1, 4.0)
    eng.control("room", 0.2)
    eng.control("crossfader", 0.4)
    return eng


def deck_bpm(d: int) -> float:
    return 118.0 + 8 * d


def deck_audio(seconds: float, decks: int = 2) -> list[np.ndarray]:
    """Each deck's track: a low tone and noise, (frames, 2) float32 (the same every run)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(SR * seconds)) / SR
    out = []
    for d in range(decks):
        x = 0.5 * np.sin(2 * np.pi * (55 + 20 * d) * t) + 0.2 * rng.standard_normal(t.size)
        out.append(np.stack([x, np.roll(x, 7)], axis=1).astype(np.float32))
    return out


def key_lock(eng: Engine, seconds: float, bpm: float = 124.0) -> float:
    """Every deck of `full_graph` switched to its track stretched to `bpm` at its own pitch
    (engine/stretch.py, rendered here and now); returns the seconds the stretching took."""
    from copilot.engine.stretch import StretchJob, StretchKey

    took = 0.0
    for d, x in enumerate(deck_audio(seconds, eng.decks)):
        job = StretchJob(eng, StretchKey.of(f"deck{d}", deck_bpm(d) / bpm, 0.0), x).run()
        eng.stretch(d, job.slot, job.key.ratio)
        took += job.seconds
    return took


def kernel_times_us(eng: Engine, last: int) -> np.ndarray:
    """Durations (µs) of the kernel's last `last` blocks, from its own log (no Python in the timing)."""
    stats = eng.state["stats"]
    times = eng.state["times"].reshape(TIMES, 3)
    count = int(stats[S_TIME_IDX])
    n = min(last, count, TIMES)
    idx = (np.arange(count - n, count) % TIMES)
    return times[idx, 1] / 1000.0


def summary(values: np.ndarray) -> str:
    return f"median {np.median(values):8.2f}  p99 {np.percentile(values, 99):8.2f}  max {np.max(values):8.2f}"


def machine() -> str:
    return f"{platform.machine()} {platform.python_version()} {time.strftime('%Y-%m-%d')}"
