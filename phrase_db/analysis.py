"""One track in, everything the planner needs out: grid, key, phrases, loudness, embeddings, tags.

`analyze_file` is what the worker processes run; it is pure (reads the file, returns data) so a
crash or a corrupt file costs one track and nothing else.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import read_for_analysis, read_tags, resample
from .beatgrid import NO_BEAT, AnalysisError, BeatGrid, downbeat_phase, fit_grid, music_span
from .constants import ANALYSIS_VERSION
from .features import SR, key_chroma, phrase_embedding, spectra
from .keys import Key, estimate_key
from .loudness import integrated_lufs
from .sections import Phrase, find_phrases


@dataclass
class TrackAnalysis:
    path: str
    duration: float
    sample_rate: int
    channels: int
    grid: BeatGrid
    key: Key
    key_confidence: float
    lufs: float
    phrases: list[Phrase]
    tags: dict[str, Any] = field(default_factory=dict)
    lattice_offset: int = 0
    seconds: float = 0.0  # how long the analysis took
    version: int = ANALYSIS_VERSION
    notes: list[str] = field(default_factory=list)  # warnings a performer should see (a truncated file …)

    @property
    def title(self) -> str:
        return str(self.tags.get("title") or Path(self.path).stem)

    @property
    def artist(self) -> str:
        return str(self.tags.get("artist") or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "title": self.title, "artist": self.artist,
            "duration": round(self.duration, 3), "bpm": round(self.grid.bpm, 4),
            "first_beat": round(self.grid.first_beat, 5), "beats": self.grid.count,
            "downbeats": len(self.grid.downbeat_times()), "beat_confidence": round(self.grid.confidence, 3),
            "key": self.key.name, "camelot": self.key.camelot, "key_confidence": round(self.key_confidence, 3),
            "lufs": None if not math.isfinite(self.lufs) else round(self.lufs, 2),
            "phrases": [p.to_dict() for p in self.phrases], "tags": self.tags.get("tags", []),
        }


def analyze_file(path: Path | str) -> TrackAnalysis:
    """Analyse one file. Raises CorruptFile / AnalysisError with a readable reason."""
    started = time.perf_counter()
    path = Path(path)
    decoded = read_for_analysis(path)
    data, sr = decoded.data, decoded.samplerate
    y = resample(data.mean(axis=1), sr, SR)
    result = analyze_signal(y, tags=read_tags(path), path=str(path))
    result.notes = [f"{path.name}: {note}" for note in decoded.notes]
    result.duration = len(data) / sr
    result.sample_rate = sr
    result.channels = data.shape[1]
    result.lufs = integrated_lufs(data, sr)
    result.seconds = time.perf_counter() - started
    return result


def analyze_signal(y: np.ndarray, tags: dict[str, Any] | None = None, path: str = "") -> TrackAnalysis:
    """Analyse mono audio at features.SR (grid, key, phrases, embeddings; no loudness or tags)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    period, phase, confidence, _, _ = fit_grid(y, SR)
    if confidence < NO_BEAT:
        raise AnalysisError(f"no beat (beat confidence {confidence:.2f}): a tone, noise or beatless audio; "
                            "a track needs a steady beat to mix")
    start, end = music_span(y, SR)
    first = phase + math.ceil((start - 0.03 - phase) / period) * period
    count = max(0, math.floor((end - 0.05 - first) / period) + 1)
    if count < 8:
        raise AnalysisError("fewer than 8 beats of music")
    beats = first + period * np.arange(count)

    sp = spectra(y)
    times = sp.times
    accent = sp.flux[np.clip(np.searchsorted(times, beats), 0, len(sp.flux) - 1)]
    downbeat = downbeat_phase(beats, sp.chroma, sp.chroma_times, accent)
    grid = BeatGrid(60.0 / period, float(first), int(count), downbeat, confidence)

    bar_starts = beats[downbeat::4]
    full = bar_starts + 4 * period <= end + period  # the last bar may ring out a beat early
    bar_starts = bar_starts[full]
    if len(bar_starts) == 0:
        raise AnalysisError("not a single full bar of music")
    bar_times = np.append(bar_starts, bar_starts[-1] + 4 * period)
    phrases, _, offset = find_phrases(sp, bar_times)
    for p in phrases:
        p.embedding = phrase_embedding(sp, bar_times[p.start_bar : p.start_bar + p.bars + 1])

    key, key_conf = estimate_key(key_chroma(sp))
    return TrackAnalysis(path=path, duration=len(y) / SR, sample_rate=SR, channels=1, grid=grid, key=key,
                         key_confidence=key_conf, lufs=-math.inf, phrases=phrases, tags=dict(tags or {}),
                         lattice_offset=offset)
