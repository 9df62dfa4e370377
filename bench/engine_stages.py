"""Where the offline render's time goes: the full two-deck chain rendered with one stage switched off
at a time (the kernel's profiling mask, `settings[F_STAGES]`), in the same run.

    python bench/engine_stages.py [--quick] [--seconds S] [--block N]

A stage's cost is (all on) − (that stage off), in ns per stereo output frame and as a share of the
whole, in this thread's CPU time, best of the repeats (on a shared machine other work only adds
time). Stages interact a little (switching the filter off makes the limiter work harder, for one),
so the lines do not add up exactly. "deck reads" swaps the cubic reads for a cheap saw; "rest" is everything no
switch removes (beat map, lanes, faders, sends, tremolo, mixing, sub-block bookkeeping). The first
line says on how many sub-blocks the 4x true-peak interpolator ran (it is skipped where no peak can
reach the ceiling).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, machine

from copilot.engine.layout import (
    F_STAGES,
    OFF_CHAIN,
    OFF_ECHO,
    OFF_EQ,
    OFF_FILTER,
    OFF_LIMITER,
    OFF_LOWPASS,
    OFF_METER,
    OFF_READ,
    OFF_REVERB,
    OFF_TRUE_PEAK,
)
from copilot.engine.state import MasterSettings
from copilot.engine.stream import warm_up

STAGES = {
    "deck reads (cubic)": OFF_READ,
    "3-band EQ": OFF_EQ,
    "filter": OFF_FILTER,
    "echo": OFF_ECHO,
    "reverb": OFF_REVERB,
    "master chain (HPF, tilt, compressor)": OFF_CHAIN,
    "loudness meter": OFF_METER,
    "master low-pass": OFF_LOWPASS,
    "true-peak interpolator": OFF_TRUE_PEAK,
    "limiter (whole)": OFF_LIMITER,
}
ALL_OFF = OFF_READ | OFF_EQ | OFF_FILTER | OFF_ECHO | OFF_REVERB | OFF_LOWPASS | OFF_LIMITER | OFF_CHAIN | OFF_METER


def ns_per_frame(mask: int, seconds: float, block: int) -> tuple[float, float]:
    """ns per output frame with these stages off, and the share of sub-blocks that ran the detector."""
    eng = full_graph(seconds + 5, master=MasterSettings(tilt_db=1.0))  # every chain stage busy
    eng.state["settings"][F_STAGES] = mask
    out = np.zeros(2 * block, np.float32)
    for _ in range(SR // block):  # one second to let the FX and the limiter settle
        eng.render(block, out)
    before = eng.stats()
    blocks = int(seconds * SR) // block
    t0 = time.thread_time()  # CPU time: what the render costs, not how long others kept the core
    for _ in range(blocks):
        eng.render(block, out)
    took = time.thread_time() - t0
    after = eng.stats()
    runs = (after["true_peak_runs"] - before["true_peak_runs"]) / max(1, after["subblocks"] - before["subblocks"])
    return took / (blocks * block) * 1e9, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s of audio per case, 3 repeats")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    seconds, repeats = (5.0, 3) if args.quick else (args.seconds, args.repeats)
    print(f"warm-up: {warm_up():.2f} s   [{machine()}]   block {args.block}, {seconds:.0f} s per case")
    cases = {"all on": 0, **STAGES, "all off": ALL_OFF}
    times: dict[str, list[float]] = {name: [] for name in cases}
    tp_share = 0.0
    for _ in range(repeats):  # interleaved, so every case sees the same machine
        for name, mask in cases.items():
            t, runs = ns_per_frame(mask, seconds, args.block)
            times[name].append(t)
            if name == "all on":
                tp_share = runs
    full = float(np.min(times["all on"]))
    print(f"all on: {full:7.1f} ns/frame = {1e9 / full / SR:6.1f}x real time (median of {repeats}: "
          f"{np.median(times['all on']):.1f}) "
          f"(true-peak interpolator ran on {tp_share * 100:.0f} % of sub-blocks)")
    print(f"{'stage':26s} {'ns/frame':>9s} {'share':>7s}   (all on − stage off, best of {repeats})")
    for name in STAGES:
        cost = full - float(np.min(times[name]))
        print(f"{name:26s} {cost:9.1f} {cost / full * 100:6.1f} %")
    floor = float(np.min(times["all off"]))
    print(f"{'rest (all stages off)':26s} {floor:9.1f} {floor / full * 100:6.1f} %")


if __name__ == "__main__":
    main()
