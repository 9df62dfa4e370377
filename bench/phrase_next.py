"""`db next` top-10 over 100k phrases: p99 latency (goal ≤ 1 ms) and recall@10 against exact.

    python bench/phrase_next.py            # 100k phrases, 2000 queries, all three indexes
    python bench/phrase_next.py --quick    # 20k phrases, 300 queries, no HNSW build

A synthetic library shaped like a dance collection (clustered timbre, mostly 118–130 BPM, every
key, intro…outro phrases). Each query is the full `Planner.rank` path the CLI uses: build the query
vector from the phrase being left, search, filter (±6 % tempo, other tracks), top 10 with scores.
faiss runs single-threaded (faiss.omp_set_num_threads(1)). Indexes, same run:
- keys  — ours: 24 inverted lists (one per key), scan the compatible keys, exactness bound;
- flat  — exact brute force (the baseline, recall 1 by definition);
- hnsw  — faiss HNSW (M=32, efSearch 96) on the same inner-product vectors, for reference.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from copilot.phrase_db.planner import Planner  # noqa: E402
from copilot.tests.fixtures_phrase import synthetic_table  # noqa: E402


def run(planner: Planner, rows: np.ndarray,
        truth: list[set[int]] | None) -> tuple[np.ndarray, np.ndarray, float, list[set[int]]]:
    """Wall and CPU milliseconds per query (CPU time ignores other processes on a busy machine)."""
    wall, cpu, recalls, answers = [], [], [], []
    for i, row in enumerate(rows):
        c0, w0 = time.thread_time(), time.perf_counter()
        got, _ = planner.rank(int(row), k=10)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
        answers.append({int(r) for r in got})
        if truth is not None:
            recalls.append(len(answers[-1] & truth[i]) / max(1, len(truth[i])))
    return np.array(wall) * 1e3, np.array(cpu) * 1e3, float(np.mean(recalls)) if recalls else 1.0, answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--phrases", type=int, default=None)
    args = ap.parse_args()
    n = args.phrases or (20_000 if args.quick else 100_000)
    queries = 300 if args.quick else 2000
    table, _ = synthetic_table(n, seed=11)
    rows = np.random.default_rng(12).integers(0, n, queries)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}; {n} phrases, {queries} queries, top 10")

    kinds = ["flat", "keys"] + ([] if args.quick else ["hnsw"])
    truth: list[set[int]] | None = None
    flat_p99 = None
    for kind in kinds:
        started = time.perf_counter()
        planner = Planner.from_table(table, kind=kind)
        build = time.perf_counter() - started
        run(planner, rows[:50], None)  # warm caches
        ms, cpu, recall, answers = run(planner, rows, truth)
        if kind == "flat":
            truth, flat_p99 = answers, float(np.percentile(cpu, 99))
        print(f"{kind:>5}: build {build:6.2f} s  wall p50 {np.median(ms):.3f} p99 {np.percentile(ms, 99):.3f} ms  "
              f"cpu p50 {np.median(cpu):.3f} p99 {np.percentile(cpu, 99):.3f} ms  recall@10 {recall:.4f}"
              + (f"  cpu p99 vs flat {flat_p99 / np.percentile(cpu, 99):.1f}×" if kind != "flat" else ""))


if __name__ == "__main__":
    main()
