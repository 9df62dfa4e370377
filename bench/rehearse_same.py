"""The stored results of the bench crate's candidates, another commit's critic and offline render against
this tree's, byte for byte — and the CPU per warm candidate of each, interleaved in one process (the
same machine at the same moment: on a shared machine only the ratio means much).

    python bench/rehearse_same.py                 # 6 tracks → 30 distinct candidates, against main
    python bench/rehearse_same.py --base HEAD~3   # against another commit

The other commit's `rehearsal/critic.py` and `engine/offline.py` are loaded from git and swapped in for
each candidate's first pass (the rest of the session is this tree's: a change elsewhere is not compared).
What is compared is what the rehearsal store keeps (`Rehearsals.put`: the result as JSON), but for its
timings and worker id. Exits 1 if any candidate differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from rehearse import crate  # the bench crate: kick tracks with room for a 16-bar transition

from copilot.engine import offline
from copilot.rehearsal import critic, sandbox
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import batches, enumerate_candidates, init_worker, rehearse_one

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = ("seconds", "cpu_seconds", "worker")  # what differs between any two runs


def module_at(ref: str, path: str, name: str, folder: Path) -> ModuleType:
    """`path` as it is at commit `ref`, imported as `name` (relative imports resolve in its package)."""
    source = folder / Path(path).name
    source.write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{path}"], check=True,
                                     capture_output=True, text=True).stdout)
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stored(result: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if k not in VOLATILE})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="main", help="the commit to compare against")
    ap.add_argument("--tracks", type=int, default=6, help="tracks in the crate (2–8): n × (n − 1) candidates")
    args = ap.parse_args()
    init_worker()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("crate", "out", "base"):
            (root / sub).mkdir()
        base_critic = module_at(args.base, "rehearsal/critic.py", "copilot.rehearsal._critic_base", root / "base")
        base_offline = module_at(args.base, "engine/offline.py", "copilot.engine._offline_base", root / "base")
        ours = (critic, offline.render_offline)

        def use(base: bool) -> None:
            sandbox.critic, offline.render_offline = (base_critic, base_offline.render_offline) if base else ours

        settings = RenderSettings()
        candidates = enumerate_candidates(crate(root / "crate", args.tracks), ["bass_swap"], bars=16)
        todo = [(c, c.key(settings, critic.CRITIC_VERSION)) for c in candidates]
        differ, cpu = 0, {True: [], False: []}
        for rnd in range(2):  # the first round compares (and warms), the second times, each order in turn
            for batch in batches(todo, settings):
                for c, k in batch:
                    got = {}
                    for base in (True, False) if rnd == 0 else (False, True):
                        use(base)
                        r = rehearse_one(c, settings, str(root / "out"), k)
                        got[base] = stored(r)
                        if rnd and r.get("score") is not None:
                            cpu[base].append(r["cpu_seconds"])
                    if rnd == 0 and got[True] != got[False]:
                        differ += 1
                        print(f"DIFFERS: {c.describe()}\n  {args.base}: {got[True]}\n  this tree: {got[False]}")
        use(False)
    print(f"{len(todo)} candidates: {len(todo) - differ} stored results byte-identical, {differ} differ")
    if cpu[True] and cpu[False]:
        a, b = statistics.mean(cpu[True]), statistics.mean(cpu[False])
        print(f"CPU per warm candidate: {args.base} {a:.3f} s (median {statistics.median(cpu[True]):.3f}), "
              f"this tree {b:.3f} s (median {statistics.median(cpu[False]):.3f}): {b / a:.3f}×")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
