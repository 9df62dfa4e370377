"""Offline render speed of the full two-deck chain (goal ≥ 200x real time) against Spotify's
pedalboard running an equivalent chain on the same material in the same run.

    python bench/engine_offline.py [--quick] [--seconds S] [--block N] [--stages]

Engine: two varispeed decks (cubic reads), trim, LR8 3-band kill EQ (12 biquads per channel),
one-knob SVF filter, tremolo, faders, equal-power crossfader, echo and reverb sends, master
low-pass, look-ahead limiter with 4x true-peak detection; rendered block by block from Python, as
`copilot run --out` does.

pedalboard (a bench-only dependency), stage for stage, each whole 2-deck file in one call (its
fastest way; no per-block Python):
- "equivalent": per deck Gain (trim), twelve 2nd-order IIR sections (4 low-pass at 250 Hz,
  4 high-pass at 2.5 kHz, 4 peak filters standing in for the all-passes: the engine's EQ work),
  a 2nd-order low-/high-pass (the one-knob filter), Gain (fader); the mix; Delay, Reverb, a
  20 kHz low-pass and BrickwallLimiter(−1 dB, 1.3 ms look-ahead, true_peak=True).
  Still in pedalboard's favour: no varispeed reads (its decks arrive at tempo), no tremolo, no
  per-sample automation; against it: its Reverb is full Freeverb (8 combs + 4 all-passes per
  channel; the engine's room has 4 + 2).
- "light": pedalboard's idiomatic 3-band (LowShelf, Peak, HighShelf: three sections, no kill),
  Ladder filter, Delay, Reverb and its plain Limiter (no look-ahead, no true peak): the chain the
  first engine figures were compared with.
`--stages` adds a stage-by-stage table: the engine's stages from its profiling mask
(bench/engine_stages.py), pedalboard's plugins timed one by one on the same material.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, machine
from engine_stages import ALL_OFF, STAGES, ns_per_frame

from copilot.engine.layout import LOOKAHEAD
from copilot.engine.stream import warm_up


def engine_speed(seconds: float, block: int) -> float:
    eng = full_graph(seconds + 5)
    out = np.zeros(2 * block, np.float32)
    blocks = int(seconds * SR) // block
    t0 = time.perf_counter()
    for _ in range(blocks):
        eng.render(block, out)
    return blocks * block / SR / (time.perf_counter() - t0)


def material(seconds: float) -> list[np.ndarray]:
    """The engine bench's two decks (engine_common.full_graph), as (2, frames) float32 at tempo."""
    rng = np.random.default_rng(1)
    t = np.arange(int(SR * seconds)) / SR
    decks = []
    for d in range(2):
        x = 0.5 * np.sin(2 * np.pi * (55 + 20 * d) * t) + 0.2 * rng.standard_normal(t.size)
        decks.append(np.stack([x, np.roll(x, 7)]).astype(np.float32))
    return decks


def pedalboard_chains(kind: str) -> tuple[list[Any], Any] | None:
    """(one chain per deck, the master chain), or None without pedalboard."""
    try:
        import pedalboard as pb
    except ImportError:
        return None
    decks = []
    for d in range(2):
        if kind == "equivalent":
            eq = ([pb.LowpassFilter(250.0) for _ in range(4)] + [pb.HighpassFilter(2500.0) for _ in range(4)]
                  + [pb.PeakFilter(float(f), 0.0, 0.7) for f in (250.0, 250.0, 2500.0, 2500.0)])
            knob = pb.LowpassFilter(2000.0) if d == 0 else pb.HighpassFilter(300.0)
        else:
            eq = [pb.LowShelfFilter(250, -6.0), pb.PeakFilter(790, 0.0), pb.HighShelfFilter(2500, 0.0)]
            knob = pb.LadderFilter(pb.LadderFilter.Mode.LPF12, 2000)
        decks.append(pb.Pedalboard([pb.Gain(0.0), *eq, knob, pb.Gain(-3.0)]))
    if kind == "equivalent":
        master = pb.Pedalboard([pb.Delay(0.36, 0.45, 0.3), pb.Reverb(0.5, 0.3, 0.2, 0.8), pb.LowpassFilter(20000.0),
                                pb.BrickwallLimiter(-1.0, 80.0, LOOKAHEAD / SR * 1000.0, true_peak=True)])
    else:
        master = pb.Pedalboard([pb.Delay(0.36, 0.45, 0.3), pb.Reverb(0.5, 0.3, 0.2, 0.8), pb.Limiter(-1.0, 80.0)])
    return decks, master


def pedalboard_runner(seconds: float, kind: str) -> Callable[[], float] | None:
    """A function that renders the chain once over the material and returns its speed (x real time)."""
    chains = pedalboard_chains(kind)
    if chains is None:
        return None
    decks, master = chains
    audio = material(seconds)

    def run() -> float:
        t0 = time.perf_counter()
        mix = decks[0](audio[0], SR, reset=True) + decks[1](audio[1], SR, reset=True)
        master(mix, SR, reset=True)
        return seconds / (time.perf_counter() - t0)

    return run


def pedalboard_stages(seconds: float, repeats: int) -> dict[str, float]:
    """ns per output frame of each pedalboard plugin of the equivalent chain, alone (best of repeats)."""
    import pedalboard as pb

    chains = pedalboard_chains("equivalent")
    assert chains is not None
    decks, master = chains
    audio = material(seconds)
    mix = decks[0](audio[0], SR) + decks[1](audio[1], SR)
    frames = audio[0].shape[1]
    groups: dict[str, list[tuple[Any, np.ndarray]]] = {"EQ (12 IIR sections)": [], "filter": [], "gains": []}
    for d, chain in enumerate(decks):
        plugins = list(chain)
        groups["gains"] += [(plugins[0], audio[d]), (plugins[-1], audio[d])]
        groups["EQ (12 IIR sections)"] += [(p, audio[d]) for p in plugins[1:13]]
        groups["filter"].append((plugins[13], audio[d]))
    names = {pb.Delay: "delay", pb.Reverb: "reverb", pb.LowpassFilter: "master low-pass",
             pb.BrickwallLimiter: "limiter (true peak)"}
    for p in master:
        groups[names[type(p)]] = [(p, mix)]
    best: dict[str, float] = {}
    for name, items in groups.items():
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for plugin, x in items:
                plugin(x, SR, reset=True)
            runs.append(time.perf_counter() - t0)
        best[name] = min(runs) / frames * 1e9
    return best


def stage_table(seconds: float, block: int, repeats: int) -> None:
    cases = {"all on": 0, **STAGES, "all off": ALL_OFF}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, mask in cases.items():
            times[name].append(ns_per_frame(mask, seconds, block)[0])
    full = min(times["all on"])
    eng = {name: full - min(times[name]) for name in STAGES}
    pbs = pedalboard_stages(seconds, repeats)
    rows = [("deck reads (varispeed cubic)", eng["deck reads (cubic)"], None),
            ("3-band EQ", eng["3-band EQ"], pbs["EQ (12 IIR sections)"]),
            ("filter", eng["filter"], pbs["filter"]),
            ("echo / delay", eng["echo"], pbs["delay"]),
            ("reverb", eng["reverb"], pbs["reverb"]),
            ("master low-pass", eng["master low-pass"], pbs["master low-pass"]),
            ("limiter with true peak", eng["limiter (whole)"], pbs["limiter (true peak)"]),
            ("rest: lanes, faders, sends, mix", min(times["all off"]), pbs["gains"])]
    print(f"\nstage by stage, ns per stereo output frame (best of {repeats}; engine: all on − stage off)")
    print(f"  {'stage':34s} {'engine':>8s} {'pedalboard':>11s}")
    for name, e, p in rows:
        print(f"  {name:34s} {e:8.1f} {'—' if p is None else f'{p:.1f}':>11s}")
    print(f"  {'whole chain':34s} {full:8.1f} {sum(pbs.values()):11.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s of audio, 3 repeats")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stages", action="store_true", help="also a stage-by-stage table against pedalboard")
    args = ap.parse_args()
    seconds, repeats = (10.0, 3) if args.quick else (args.seconds, args.repeats)
    print(f"warm-up: {warm_up():.2f} s   [{machine()}]   load average {os.getloadavg()[0]:.2f}")
    equivalent = pedalboard_runner(seconds, "equivalent")
    light = pedalboard_runner(seconds, "light")
    eng, pb_eq, pb_light = [], [], []
    for _ in range(repeats):  # interleaved, so all see the same machine
        eng.append(engine_speed(seconds, args.block))
        if equivalent is not None and light is not None:
            pb_eq.append(equivalent())
            pb_light.append(light())
    print(f"engine              {seconds:.0f} s of 2-deck audio, block {args.block}: median {np.median(eng):7.1f}x "
          f"real time (min {np.min(eng):.1f}x, max {np.max(eng):.1f}x)")
    if equivalent is None:
        print("pedalboard          not installed (pip install 'flowfield-copilot[bench]'): no baseline")
        return
    print(f"pedalboard equivalent chain (12 IIR/ch, true-peak limiter): median {np.median(pb_eq):7.1f}x "
          f"(min {np.min(pb_eq):.1f}x, max {np.max(pb_eq):.1f}x)")
    print(f"pedalboard light chain (3-band, plain limiter):              median {np.median(pb_light):7.1f}x")
    print(f"engine / pedalboard: {np.median(eng) / np.median(pb_eq):.2f}x (equivalent chain), "
          f"{np.median(eng) / np.median(pb_light):.2f}x (light chain)   goal ≥ 200x real time and ahead: "
          f"{'met' if np.median(eng) >= 200 and np.median(eng) > np.median(pb_eq) else 'NOT met'}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.stages:
        stage_table(min(seconds, 10.0), args.block, repeats)


if __name__ == "__main__":
    main()
