"""How long a full garbage collection holds the GIL (and so the dispatch thread) in a set's process,
before and after the heap is frozen the way `copilot run` freezes it once the set is up.

    python bench/spine_gc.py [--rounds 7]

The process imports what a live session loads (CLI, session, every bundled target and input, numpy,
numba), then times `gc.collect()` over everything alive (baseline), freezes the heap, allocates a
set's worth of new objects and times it again. Median and worst of `--rounds` each.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time

import numpy as np


def load_a_set() -> None:
    import copilot.cli.main  # noqa: F401
    from copilot.bridge import dispatch, link, router, scheduler, session  # noqa: F401
    from copilot.plugins import (  # noqa: F401
        ableton,
        midi_monitor,
        mixxx,
        motion_input,
        serato,
        standalone,
        voice_input,
    )


def timed_collections(rounds: int) -> np.ndarray:
    ms = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        gc.collect()
        ms.append((time.perf_counter() - t0) * 1e3)
    return np.asarray(ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    load_a_set()
    from copilot.bridge.dispatch import freeze_heap

    alive = len(gc.get_objects())
    before = timed_collections(args.rounds)
    freeze_heap()
    new = [{"beat": i / 4, "value": i % 128} for i in range(20_000)]  # a set's own allocations since
    after = timed_collections(args.rounds)
    print(f"# {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}")
    print(f"baseline: full collection over {alive:,} objects     median {np.median(before):7.2f} ms  "
          f"max {before.max():7.2f} ms")
    print(f"frozen:   full collection over {len(gc.get_objects()):,} objects  median {np.median(after):7.2f} ms  "
          f"max {after.max():7.2f} ms   ({len(new):,} new dicts)")
    print(f"ratio baseline / frozen: {np.median(before) / max(np.median(after), 1e-6):.0f}x (median)")


if __name__ == "__main__":
    main()
