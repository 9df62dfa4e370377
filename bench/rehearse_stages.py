"""Where a warm rehearsal candidate's CPU goes: the render (one offline session) against the critic, and
the critic metric by metric — in this process, one worker, after every candidate has run once (stretches,
decoded files and loudness kept, numba kernels loaded), as a long rehearsal's worker runs them.

    python bench/rehearse_stages.py               # 3 tracks → 6 candidates, each twice
    python bench/rehearse_stages.py --tracks 6    # 30 candidates
    python bench/rehearse_stages.py --profile     # and cProfile's top functions of the critic

CPU is this process's (user and system apart, with minor page faults): a shared machine's load aside.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rehearse import crate  # the bench crate: kick tracks with room for a 16-bar transition

from copilot.rehearsal import critic, sandbox
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import enumerate_candidates, init_worker


def cpu_now() -> tuple[float, float, int]:
    """This process's CPU seconds (user + system), system seconds, minor page faults."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime, u.ru_stime, u.ru_minflt


def per_call(f: Callable[[], Any], reps: int = 5) -> float:
    """CPU seconds of one call of `f` (the mean of `reps`, after one)."""
    f()
    began = time.process_time()
    for _ in range(reps):
        f()
    return (time.process_time() - began) / reps


def metrics_of(r: sandbox.Rendered) -> dict[str, float]:
    """The critic's parts on one rendered candidate, each alone."""
    ctx, sr = r.context, r.context.samplerate
    lows = (critic.low_band(r.out_alone, sr), critic.low_band(r.in_alone, sr))
    alone = (r.out_alone[: round(ctx.start * sr)], r.in_alone[round(ctx.end * sr):])
    return {"low bands (both decks)": per_call(lambda: (critic.low_band(r.out_alone, sr),
                                                        critic.low_band(r.in_alone, sr))),
            "on_grid": per_call(lambda: critic.on_grid(r.out_alone, r.in_alone, r.mix, ctx, lows)),
            "loudness": per_call(lambda: critic.loudness(r.mix, ctx)),
            "bass_clash": per_call(lambda: critic.bass_clash(r.out_alone, r.in_alone, ctx, lows)),
            "overs": per_call(lambda: critic.overs(r.mix, ctx)),
            "spectral": per_call(lambda: critic.spectral_balance(r.mix, ctx, *alone)),
            "judge (all)": per_call(lambda: critic.judge(r.mix, ctx, r.out_alone, r.in_alone))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=3, help="tracks in the crate (2–8)")
    ap.add_argument("--rounds", type=int, default=2, help="warm rounds over every candidate")
    ap.add_argument("--profile", action="store_true", help="cProfile the critic's calls")
    args = ap.parse_args()
    init_worker()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "crate").mkdir()
        (root / "out").mkdir()
        candidates = enumerate_candidates(crate(root / "crate", args.tracks), ["bass_swap"], bars=16)
        settings = RenderSettings()
        for c in candidates:  # every first touch paid
            sandbox.render(c, settings, root / "out").judge()
        totals = {"render": [0.0, 0.0, 0], "judge": [0.0, 0.0, 0]}
        profile = cProfile.Profile()
        for _ in range(args.rounds):
            for c in candidates:
                a = cpu_now()
                r = sandbox.render(c, settings, root / "out")
                b = cpu_now()
                if args.profile:
                    profile.enable()
                r.judge()
                if args.profile:
                    profile.disable()
                d = cpu_now()
                for stage, (x, y) in (("render", (a, b)), ("judge", (b, d))):
                    totals[stage] = [t + (y[i] - x[i]) for i, t in enumerate(totals[stage])]
        n = args.rounds * len(candidates)
        print(f"{n} warm candidates ({len(candidates)} distinct), CPU per candidate:")
        for stage, (cpu, system, faults) in totals.items():
            print(f"  {stage:>7}: {cpu / n:.3f} s (system {system / n:.3f} s), {faults / n:.0f} minor faults")
        print("the critic's parts, each alone on the last candidate (CPU per call):")
        for part, cpu in metrics_of(r).items():
            print(f"  {part:>22}: {cpu * 1000:6.1f} ms")
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
