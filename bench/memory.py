"""A process's memory as the kernel counts it, for the benches that watch a set's memory (soak, fuzz_live).

RSS mixes three things that move for different reasons: anonymous memory (heaps, stacks: what the
session allocates — a leak shows here), file-backed pages (libraries' code: grows when new code first
runs) and shared memory (JACK's segments, mapped by every JACK client the process opens: the watchdog's
probe client maps them for the moment it lives, +65–95 MB in RSS, and unmaps them when it closes).
"""

from __future__ import annotations

import os

import numpy as np


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_parts_mb(pid: int | str = "self") -> dict[str, float]:
    """{"rss_mb", "anon_mb", "file_mb", "shmem_mb"} from /proc/PID/status."""
    parts = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                name = "rss" if key == "VmRSS" else key[3:].lower()
                parts[f"{name}_mb"] = round(int(value.split()[0]) / 1024, 1)
    return parts


def slope_mb_per_minute(times_s: list[float], mb: list[float]) -> float | None:
    """The least-squares line's slope through (time, MB) samples: a trend that one passing peak barely moves
    (max − min is set by the one highest sample)."""
    if len(times_s) < 3:
        return None
    return float(np.polyfit(np.asarray(times_s) / 60.0, np.asarray(mb), 1)[0])
