"""A rehearsal worker process made ready once: the modules a candidate's session imports on first use,
and a heap that keeps what a candidate frees for the next.

Each candidate allocates and frees the same few large arrays (the render, the decks' taps, the critic's
float64 copies: tens of MB each). glibc hands blocks that large straight back to the kernel (mmap), so
the next candidate takes every page again as a fault, zeroed — 0.03–0.09 s of system time per
candidate. With the thresholds raised (`mallopt`), freed blocks stay in the process's heap for the
next candidate: the same samples, less CPU. The price is the heap keeping its high-water mark (a few
hundred MB per worker), which a rehearsal worker can afford and a live set's process never pays: this
runs only in rehearsal workers, and in the process that runs a one-worker rehearsal itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
HEAP_KEEP = 256 << 20  # bytes: blocks up to this come from the heap, and up to this much free heap is kept
# what the first candidate's session imports on first use (the plugins, the offline render, the stretcher,
# the phrase database's index): 0.1–0.3 s, paid before the first candidate rather than in it
FIRST_USE = ("copilot.plugins.standalone", "copilot.plugins.phrase_db", "copilot.engine.offline",
             "copilot.engine.keylock", "copilot.engine.recorder", "copilot.rehearsal.report",
             "copilot.rehearsal.sandbox")


def keep_heap(size: int = HEAP_KEEP) -> bool:
    """Large blocks from the heap, and freed ones kept there (glibc only; elsewhere nothing changes).
    True if the C library took both settings."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, size)) and bool(mallopt(M_TRIM_THRESHOLD, size))


@functools.cache
def ready() -> bool:
    """This process made ready for candidates, once (a local pool's start-up, a Dask worker's first
    batch, a one-worker rehearsal's first candidate). True if the heap is kept."""
    for module in FIRST_USE:
        importlib.import_module(module)
    return keep_heap()
