"""Offline render speed of the full two-deck chain (goal ≥ 200x real time) against Spotify's
pedalboard running an equivalent chain on the same material in the same run.

    python bench/engine_offline.py [--quick] [--seconds S] [--block N]

Engine: two varispeed decks (cubic interpolation), trim, LR8 3-band EQ, one-knob SVF filter, faders,
equal-power crossfader, echo and reverb sends, master low-pass, 4x true-peak look-ahead limiter.
pedalboard (bench-only dependency): per deck Gain, LowShelf + Peak + HighShelf, Ladder filter, Gain;
the mix; Delay, Reverb, Limiter; and the same with 14 second-order EQ sections per channel (the
engine's LR8 work). pedalboard does no varispeed and no true-peak detection, so both favour it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, machine

from copilot.engine.stream import warm_up


def engine_speed(seconds: float, block: int) -> float:
    eng = full_graph(seconds + 5)
    out = np.zeros(2 * block, np.float32)
    blocks = int(seconds * SR) // block
    t0 = time.perf_counter()
    for _ in range(blocks):
        eng.render(block, out)
    return blocks * block / SR / (time.perf_counter() - t0)


def pedalboard_runner(seconds: float, same_filter_count: bool = False):  # type: ignore[no-untyped-def]
    """A function that runs the pedalboard chain once and returns its speed (None: not installed).

    `same_filter_count`: the 3-band EQ becomes 14 second-order sections per channel, the work the
    engine's LR8 EQ does (pedalboard has no Linkwitz-Riley crossovers)."""
    try:
        import pedalboard as pb
    except ImportError:
        return None
    rng = np.random.default_rng(1)
    t = np.arange(int(SR * seconds)) / SR
    decks = []
    for d in range(2):
        x = 0.5 * np.sin(2 * np.pi * (55 + 20 * d) * t) + 0.2 * rng.standard_normal(t.size)
        decks.append(np.stack([x, np.roll(x, 7)]).astype(np.float32))
    if same_filter_count:
        eq = [pb.PeakFilter(float(f), -0.5, 0.7) for f in np.geomspace(60, 12000, 14)]
    else:
        eq = [pb.LowShelfFilter(250, -6.0), pb.PeakFilter(790, 0.0), pb.HighShelfFilter(2500, 0.0)]
    chains = [pb.Pedalboard([pb.Gain(0.0), *eq, pb.LadderFilter(pb.LadderFilter.Mode.LPF12, 2000), pb.Gain(-3.0)])
              for _ in range(2)]
    master = pb.Pedalboard([pb.Delay(0.36, 0.45, 0.3), pb.Reverb(0.5, 0.3, 0.2, 0.8), pb.Limiter(-1.0, 80.0)])

    def run() -> float:
        t0 = time.perf_counter()
        mix = chains[0](decks[0], SR, reset=True) + chains[1](decks[1], SR, reset=True)
        master(mix, SR, reset=True)
        return seconds / (time.perf_counter() - t0)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s of audio, 3 repeats")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    seconds, repeats = (10.0, 3) if args.quick else (args.seconds, args.repeats)
    print(f"warm-up: {warm_up():.2f} s   [{machine()}]")
    pedal = pedalboard_runner(seconds)
    pedal14 = pedalboard_runner(seconds, same_filter_count=True)
    eng, pb, pb14 = [], [], []
    for _ in range(repeats):  # interleaved, so all see the same machine
        eng.append(engine_speed(seconds, args.block))
        if pedal is not None and pedal14 is not None:
            pb.append(pedal())
            pb14.append(pedal14())
    print(f"engine      {seconds:.0f} s of 2-deck audio, block {args.block}: median {np.median(eng):7.1f}x real time "
          f"(min {np.min(eng):.1f}x, max {np.max(eng):.1f}x)")
    if pedal is None:
        print("pedalboard  not installed (pip install 'flowfield-copilot[bench]'): no baseline")
        return
    print(f"pedalboard  same material, equivalent chain:      median {np.median(pb):7.1f}x real time "
          f"(min {np.min(pb):.1f}x, max {np.max(pb):.1f}x)")
    print(f"pedalboard  with the engine's filter count (14/ch): median {np.median(pb14):7.1f}x real time")
    print(f"engine / pedalboard: {np.median(eng) / np.median(pb):.2f}x (3-band chain), "
          f"{np.median(eng) / np.median(pb14):.2f}x (same filter count)   goal ≥ 200x real time: "
          f"{'met' if np.median(eng) >= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
