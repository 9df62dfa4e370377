"""Tracks for rehearsal tests: a kick on every beat and a bass line on its own pitch, with a sidecar of
ground truth (tempo, beats, key, 8-bar sections), so the critic's answers are known in advance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48000


@dataclass(frozen=True)
class KickTrack:
    title: str
    bass_hz: float
    key: str = "A minor"
    bpm: float = 120.0
    sections: tuple[tuple[str, int, float], ...] = (("intro", 8, 0.5), ("main", 8, 0.8), ("outro", 8, 0.5))

    @property
    def bars(self) -> int:
        return sum(b for _, b, _ in self.sections)


def write_kick_track(folder: Path, spec: KickTrack, sr: int = SR) -> Path:
    spb = 60.0 / spec.bpm
    beats = spec.bars * 4
    n = round(beats * spb * sr) + sr // 2
    t = np.arange(n) / sr
    x = np.zeros(n)
    k = np.arange(round(0.12 * sr)) / sr
    thump = 0.6 * np.sin(2 * np.pi * 50 * k * (1 + 2 * np.exp(-k / 0.01))) * np.exp(-k / 0.035)
    for b in range(beats):
        i = round(b * spb * sr)
        x[i:i + len(thump)] += thump[: n - i]
    playing = t < beats * spb
    off_beat = 0.5 + 0.5 * np.cos(2 * np.pi * (t / spb - 0.5))  # the bass breathes on the off-beat
    x += 0.25 * np.sin(2 * np.pi * spec.bass_hz * t) * off_beat * playing
    x += 0.03 * np.sin(2 * np.pi * 3000 * t) * playing  # a little top so the spectrum is not empty
    path = Path(folder) / f"{spec.title}.wav"
    sf.write(path, np.column_stack([x, x]).astype(np.float32), sr, subtype="FLOAT")
    sections, bar = [], 0
    for label, bars, energy in spec.sections:
        sections.append({"label": label, "start_bar": bar, "bars": bars, "energy": energy})
        bar += bars
    tonic, mode = spec.key.split()
    truth = {"title": spec.title, "artist": "copilot tests", "bpm": spec.bpm, "duration": n / sr,
             "beats": [i * spb for i in range(beats)], "sections": sections,
             "key": {"tonic": tonic, "mode": mode, "name": spec.key}}
    path.with_suffix(".json").write_text(json.dumps(truth))
    return path
