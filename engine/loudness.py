"""Loudness matching: each track's gain from its integrated loudness, so decks meet at one target.

The loudness comes from the phrase database's analysis (its LOAD answer carries `lufs`) or a sidecar;
a track without one is measured when it loads, on the loader's thread (BS.1770 integrated loudness,
`phrase_db.loudness`). The gain is an offset on the deck's trim, in the trim's own units, and the two
together stay inside the trim's caps (`bridge.params`: at most +6 dB of boost by default); the kernel
moves the offset no faster than the trim's slope cap.
"""

from __future__ import annotations

import math

from copilot.bridge.params import PARAMS
from copilot.phrase_db.loudness import integrated_lufs

from .files import Track, finite_number
from .layout import TRIM_DB


def track_lufs(track: Track) -> float | None:
    """Integrated loudness of a track: the analysis's figure if it came with one, else measured now."""
    for key in ("lufs", "loudness_lufs"):
        value = finite_number(track.meta.get(key))
        if value is not None:
            return value
    measured = integrated_lufs(track.audio, track.samplerate)
    if math.isfinite(measured):
        track.meta["lufs"] = round(measured, 2)
        return measured
    return None  # silence: nothing to match


def offset(lufs: float | None, target: float) -> float:
    """The trim offset (trim units) that brings `lufs` to `target`, within the trim's caps."""
    if lufs is None:
        return 0.0
    trim = PARAMS["trim"]
    units = (target - lufs) / TRIM_DB
    return min(trim.hi - trim.neutral, max(trim.lo - trim.neutral, units))


def offset_db(units: float) -> float:
    return units * TRIM_DB

