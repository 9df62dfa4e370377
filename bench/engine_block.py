"""Block render time of the full two-deck chain at 64 frames (goal: median ≤ 15 µs, p99 ≤ 40 µs).

    python bench/engine_block.py [--quick] [--blocks N]

Times come from the kernel's own clock (clock_gettime inside the numba code), so they are what the
audio callback spends. Baseline in the same run: the idle engine (no deck playing: ring, beat map,
FX tails and limiter only), and the block's real-time budget (64 frames at 48 kHz = 1,333 µs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, kernel_times_us, machine, summary

from copilot.engine.engine import Engine
from copilot.engine.state import EngineSettings
from copilot.engine.stream import warm_up


def measure(eng: Engine, blocks: int, frames: int = 64) -> np.ndarray:
    out = np.zeros(2 * frames, np.float32)
    for _ in range(500):  # settle caches and branch predictors
        eng.render(frames, out)
    done = 0
    chunks = []
    while done < blocks:
        n = min(2000, blocks - done)
        for _ in range(n):
            eng.render(frames, out)
        chunks.append(kernel_times_us(eng, n))
        done += n
    return np.concatenate(chunks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run (5,000 blocks)")
    ap.add_argument("--blocks", type=int, default=50_000)
    args = ap.parse_args()
    blocks = 5_000 if args.quick else args.blocks
    print(f"warm-up (compile or load cache): {warm_up():.2f} s   [{machine()}]")
    idle = Engine(EngineSettings(samplerate=SR))
    idle.set_clock_map(0, 0.0, 124.0 / 60.0 / SR)
    t_idle = measure(idle, blocks)
    t_full = measure(full_graph(), blocks)
    budget = 64 / SR * 1e6
    print(f"{blocks} blocks of 64 frames, µs per block")
    print(f"  idle engine      {summary(t_idle)}")
    print(f"  full 2-deck      {summary(t_full)}")
    print(f"  full / idle      {np.median(t_full) / np.median(t_idle):.1f}x (median)")
    print(f"  budget used      {np.median(t_full) / budget * 100:.2f} % median, "
          f"{np.percentile(t_full, 99) / budget * 100:.2f} % p99 of {budget:.0f} µs")
    print(f"  goal median ≤ 15 µs: {'met' if np.median(t_full) <= 15 else 'NOT met'}; "
          f"p99 ≤ 40 µs: {'met' if np.percentile(t_full, 99) <= 40 else 'NOT met'}")


if __name__ == "__main__":
    main()
