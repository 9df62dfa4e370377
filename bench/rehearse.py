"""Rehearsal throughput: 16-bar candidate transitions rendered and scored per minute, with 1 and 2 local
worker processes and on a 2-worker Dask LocalCluster, against the real-time rate (one transition per
its own duration). The baseline is the 1-worker run, measured in the same run; `--before` also runs the
way before the third pass in this process (three passes per candidate, each shifted track stretched
whole, every candidate drawn), so its speed-up is measured on the same machine at the same time.

    python bench/rehearse.py                 # 4 tracks → 12 candidates per configuration
    python bench/rehearse.py --quick         # 3 tracks → 6 candidates
    python bench/rehearse.py --tracks 6      # 30 candidates: the workers' start-up spread thinner
    python bench/rehearse.py --before        # and the previous code path, 1 worker
    python bench/rehearse.py --crate         # a crate-like mix: every built-in 16-bar template × 2 entries

Each configuration runs twice: first with a cold stretch cache (a fresh out folder: every key shift is
Rubber Band's work), then again in the same folder (warm: the stretches on disk, as a resumed or second
overnight rehearsal finds them). Local workers and the Dask workers are started and warmed before the
clock starts, as a long rehearsal's are — the local pool afresh for the cold run, then kept for the warm
one, as the Dask workers are; in-memory caches (stretches, decoded files, loudness) are emptied before
every configuration, in every worker.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from copilot.phrase_db.loader import folder_records
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import enumerate_candidates, run
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track

LONG = (("intro", 8, 0.5), ("main", 16, 0.8), ("outro", 16, 0.5))  # room for a 16-bar transition


def crate(folder: Path, n: int) -> list:
    hz = (55.0, 61.7, 73.4, 82.4, 98.0, 65.4, 69.3, 77.8)
    keys = ("A minor", "B minor", "D minor", "E minor", "G minor", "C minor", "C# minor", "D# minor")
    for i in range(n):
        write_kick_track(folder, KickTrack(f"Track {i + 1}", hz[i], key=keys[i], sections=LONG))
    return folder_records([folder])


def cold() -> None:
    """An in-process run starts as a fresh worker would: no stretch, decoded file or loudness kept in
    memory from the last (what is on disk in the run's folder stays: that is the warm cache)."""
    from copilot.engine import files, stretch
    from copilot.rehearsal import sandbox

    stretch._FINISHED.clear()
    stretch.keep_on_disk(None)
    files.keep_decoded(0)
    sandbox._LUFS.clear()


def _cold_a_while() -> None:
    cold()
    time.sleep(0.5)  # busy a while: the other workers take the other calls


def fresh(pool, renew: bool) -> None:
    """Local workers ready before the clock starts: new ones, warm (the pool's initializer), or (`renew`
    false) the same ones with their in-memory caches emptied, as the Dask workers' are between runs."""
    if renew:
        pool.renew()
    for f in [pool.pool.submit(_cold_a_while) for _ in range(pool.workers)]:  # one each: none idle yet
        f.result()


def measure(label: str, candidates: list, folder: Path, settings: RenderSettings | None = None, **kw) -> dict:
    cold()
    began = time.perf_counter()
    done = run(candidates, settings or RenderSettings(), folder, set(), lambda r: None, **kw)
    wall = time.perf_counter() - began
    scored = [r for r in done.results if r.get("score") is not None]
    span = sum(r["transition_seconds"] for r in scored)
    per_unit = [r["seconds"] for r in scored]
    cpu = sum(r["cpu_seconds"] for r in scored)
    out = {"label": label, "scored": len(scored), "failed": done.failed, "wall_s": wall,
           "per_minute": len(scored) / wall * 60, "realtime": span / wall,
           "unit_median_s": statistics.median(per_unit) if per_unit else None,
           "unit_p99_s": max(per_unit) if per_unit else None,
           "cpu_per_unit_s": cpu / len(scored) if scored else None}
    print(f"{label:>22}: {out['scored']:3d} scored in {wall:6.1f} s = {out['per_minute']:6.1f}/min, "
          f"{out['realtime']:5.1f}× real time; per unit median {out['unit_median_s']:.2f} s, "
          f"max {out['unit_p99_s']:.2f} s; CPU per unit {out['cpu_per_unit_s']:.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tracks", type=int, default=None, help="tracks in the crate (2–8)")
    ap.add_argument("--before", action="store_true", help="also the previous code path, 1 worker")
    ap.add_argument("--crate", action="store_true",
                    help="a crate-like mix: every built-in template at 16 bars × the first 2 entry phrases")
    args = ap.parse_args()
    n = args.tracks or (3 if args.quick else 4)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}; python "
          f"{platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "crate").mkdir()
        tracks = crate(root / "crate", n)
        if args.crate:
            candidates = enumerate_candidates(tracks, None, entries=2, bars=16)
        else:
            candidates = enumerate_candidates(tracks, ["bass_swap"], bars=16)
        print(f"{len(tracks)} tracks, {len(candidates)} candidates; load average {os.getloadavg()}")
        if args.before:
            from copilot.engine import keylock

            ahead, keylock.OFFLINE_AHEAD = keylock.OFFLINE_AHEAD, None
            try:
                measure("before, 1 worker", candidates, root / "w0", RenderSettings(one_pass=False), workers=1,
                        plot=True)
            finally:
                keylock.OFFLINE_AHEAD = ahead
        from distributed import Client, LocalCluster

        from copilot.rehearsal.runner import WorkerPool

        figures: dict[str, dict] = {}
        with WorkerPool(2) as pool, \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            from copilot.rehearsal import worker

            client.run(worker.ready)  # warm, as the local pool's initializer: imports are not rehearsal
            for cache in ("cold", "warm"):
                figures[f"one {cache}"] = measure(f"1 worker, {cache} stretches", candidates, root / "w1", workers=1)
                fresh(pool, renew=cache == "cold")
                figures[f"two {cache}"] = measure(f"2 local workers, {cache}", candidates, root / "w2", pool=pool)
                client.run(cold)
                figures[f"dask {cache}"] = measure(f"Dask LocalCluster ×2, {cache}", candidates, root / "dask",
                                                   client=client)
    print(f"load average {os.getloadavg()}")
    for cache in ("cold", "warm"):
        one, two, dask = (figures[f"{k} {cache}"] for k in ("one", "two", "dask"))
        print(f"{cache} stretches: speed-up 1 → 2 local workers {two['per_minute'] / one['per_minute']:.2f}×; "
              f"Dask ×2 against 1 worker {dask['per_minute'] / one['per_minute']:.2f}×; "
              f"CPU-bound on 2 free cores (2 × 60 s / the 1-worker CPU per unit): "
              f"{120 / one['cpu_per_unit_s']:.0f}/min")
    print("goal: ≥ 300 16-bar transitions per minute (≥ 150× real time), ≥ 1.8× from 1 to 2 workers")


if __name__ == "__main__":
    main()
