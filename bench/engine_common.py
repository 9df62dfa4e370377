"""Shared by the engine benches: the full two-deck graph with every stage busy, and small stats."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.layout import TIMES
from copilot.engine.state import EngineSettings

SR = 48000


def full_graph(seconds: float = 30.0, decks: int = 2) -> Engine:
    """Decks playing (varispeed 118 and 126 BPM onto 124), a loop, EQ cuts, filter, echo and reverb
    sends, room, limiter working: the most the engine does per sample."""
    eng = Engine(EngineSettings(samplerate=SR, decks=decks))
    eng.set_clock_map(0, 0.0, 124.0 / 60.0 / SR)
    rng = np.random.default_rng(1)
    t = np.arange(int(SR * seconds)) / SR
    for d in range(decks):
        x = 0.5 * np.sin(2 * np.pi * (55 + 20 * d) * t) + 0.2 * rng.standard_normal(t.size)
        eng.load(d, Track(Path(f"deck{d}"), np.stack([x, np.roll(x, 7)], axis=1).astype(np.float32), SR,
                          118.0 + 8 * d))
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


def kernel_times_us(eng: Engine, last: int) -> np.ndarray:
    """Durations (µs) of the kernel's last `last` blocks, from its own log (no Python in the timing)."""
    stats = eng.state["stats"]
    times = eng.state["times"].reshape(TIMES, 3)
    n = min(last, int(stats[7]), TIMES)
    idx = (np.arange(int(stats[7]) - n, int(stats[7])) % TIMES)
    return times[idx, 1] / 1000.0


def summary(values: np.ndarray) -> str:
    return f"median {np.median(values):8.2f}  p99 {np.percentile(values, 99):8.2f}  max {np.max(values):8.2f}"


def machine() -> str:
    return f"{platform.machine()} {platform.python_version()} {time.strftime('%Y-%m-%d')}"
