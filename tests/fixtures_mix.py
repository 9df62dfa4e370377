"""Test music for mixing: tracks whose parts can be told apart by frequency alone.

Each track is a bass line on one pitch (a sine, plucked on every eighth note) and a high "signature"
tone of its own, both far from every other track's, plus a JSON sidecar with the ground truth (tempo,
beats, key, sections with energy). A band-limited look at the rendered mix then says exactly which
track's bass is sounding when, and whether a track is still audible at all — judged from the audio,
not from copilot's log. `sidecar_crate` writes sidecar-only crates (a second of silence per file) for
planner tests that need many tracks with known keys, tempi and energies, and no audio to speak of.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SR = 48000


@dataclass(frozen=True)
class BassTrack:
    title: str
    bass_hz: float
    signature_hz: float
    bpm: float = 120.0
    key: str = "A minor"
    camelot: str = "8A"
    sections: tuple[tuple[str, int, float], ...] = (("intro", 8, 0.4), ("main", 16, 0.8), ("outro", 8, 0.4))

    @property
    def bars(self) -> int:
        return sum(b for _, b, _ in self.sections)


def render_bass_track(spec: BassTrack, sr: int = SR) -> np.ndarray:
    spb = 60.0 / spec.bpm
    n = round(spec.bars * 4 * spb * sr) + sr // 2
    t = np.arange(n) / sr
    playing = t < spec.bars * 4 * spb
    # smooth (raised-cosine) pulses on every eighth note: their sidebands stay within a few hertz of the
    # tone, so no track's bass or signature leaks into another's band (a plucked decay would spray them)
    pulse = 0.6 + 0.4 * np.cos(2 * np.pi * t / (spb / 2))
    bass = 0.5 * np.sin(2 * np.pi * spec.bass_hz * t) * pulse * playing
    signature = 0.15 * np.sin(2 * np.pi * spec.signature_hz * t) * (0.65 + 0.35 * np.cos(2 * np.pi * t / spb))
    signature *= playing
    mono = (bass + signature).astype(np.float32)
    return np.column_stack([mono, mono])


def write_bass_track(folder: Path, spec: BassTrack, sr: int = SR) -> Path:
    path = Path(folder) / f"{spec.title}.wav"
    audio = render_bass_track(spec, sr)
    sf.write(path, audio, sr, subtype="FLOAT")
    spb = 60.0 / spec.bpm
    sections, bar = [], 0
    for label, bars, energy in spec.sections:
        sections.append({"label": label, "start_bar": bar, "bars": bars, "energy": energy,
                         "start": bar * 4 * spb, "end": (bar + bars) * 4 * spb})
        bar += bars
    tonic, mode = spec.key.split()
    truth = {"title": spec.title, "artist": "copilot tests", "bpm": spec.bpm, "duration": len(audio) / sr,
             "beats": [i * spb for i in range(spec.bars * 4)], "sections": sections,
             "key": {"tonic": tonic, "mode": mode, "name": spec.key, "camelot": spec.camelot}}
    path.with_suffix(".json").write_text(json.dumps(truth))
    return path


def band_levels(audio: np.ndarray, sr: int, freqs: dict[str, float], hop: float = 0.02,
                window: int = 8192) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frame times and, per named frequency, the level (dB, relative to that tone's loudest frame) of the
    narrow band around it: a Hann-windowed DFT bin at exactly that frequency."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    step = int(hop * sr)
    starts = np.arange(0, max(1, len(mono) - window), step)
    times = (starts + window / 2) / sr
    win = np.hanning(window)
    frames = np.lib.stride_tricks.sliding_window_view(mono, window)[::step][: len(starts)] * win
    out = {}
    k = np.arange(window) / sr
    for name, f in freqs.items():
        probe = np.exp(-2j * np.pi * f * k)
        mag = np.abs(frames @ probe)
        out[name] = 20 * np.log10(mag / (mag.max() + 1e-20) + 1e-12)
    return times, out


def sidecar_crate(folder: Path, tracks: list[dict[str, Any]], sr: int = 8000) -> list[Path]:
    """Files of one second of silence, each with a sidecar giving its title, tempo, key and sections."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, t in enumerate(tracks):
        path = folder / f"{i:03d} {t['title']}.wav"
        sf.write(path, np.zeros((sr, 2), np.float32), sr)
        tonic, mode = t["key"].split()
        truth = {"title": t["title"], "bpm": t["bpm"], "duration": 1.0,
                 "key": {"tonic": tonic, "mode": mode, "name": t["key"]},
                 "sections": t.get("sections") or [
                     {"label": "intro", "start_bar": 0, "bars": 16, "energy": t["energy"] - 0.2},
                     {"label": "drop", "start_bar": 16, "bars": 32, "energy": t["energy"]},
                     {"label": "outro", "start_bar": 48, "bars": 16, "energy": t["energy"] - 0.2}]}
        path.with_suffix(".json").write_text(json.dumps(truth))
        paths.append(path)
    return paths
