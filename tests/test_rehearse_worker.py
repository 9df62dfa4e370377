"""A rehearsal worker made ready once (`rehearsal.worker.ready`): the first candidate's imports done, and
the heap keeping what a candidate frees, so the next candidate's large arrays cost no page faults. Run
in a fresh interpreter: the heap setting is the process's for good."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import json, resource, sys
import numpy as np

def faults():
    began = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):  # what a candidate does: a render-sized array taken, filled and freed
        a = np.zeros(20_000_000, np.float32)
        a[:] = 1.0
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - began

plain = faults()
from copilot.rehearsal import worker
kept = worker.ready()
faults()  # the heap grows to the high-water mark once
print(json.dumps({"plain": plain, "kept": kept, "after": faults(),
                  "imported": all(m in sys.modules for m in worker.FIRST_USE)}))
"""


def test_a_ready_worker_has_its_first_use_imports_and_reuses_freed_memory() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["imported"]
    assert got["kept"]  # glibc (Debian): both settings taken
    assert got["plain"] > 200  # by default each 80 MB array is mapped afresh: pages fault in every time
    assert got["after"] < got["plain"] / 10
