"""Audio files into deck-ready buffers: decode, resample, find the beat grid. Never on the audio thread.

WAV/FLAC/OGG (and MP3 with libsndfile ≥ 1.1) go through soundfile; anything soundfile cannot read is
tried with librosa/audioread (which uses ffmpeg when present). Resampling is soxr. The beat grid comes
from a JSON sidecar when there is one (the example crate writes them: ground truth by construction),
else from the resolver's answer, else from librosa's beat tracker.

A missing or corrupt file raises `TrackError` with a sentence a performer can act on; the caller
keeps the deck as it was.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".m4a")


class TrackError(ValueError):
    """A file the engine will not load, with the reason in plain words."""


@dataclass
class Track:
    """Decoded audio at the engine's rate (interleaved stereo float32) and its beat grid."""

    path: Path
    audio: np.ndarray  # shape (frames, 2), float32, C-contiguous
    samplerate: int
    bpm: float
    first_beat: float = 0.0  # seconds from the start of the file to beat 1
    title: str = ""
    key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0])

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate

    @property
    def samples_per_beat(self) -> float:
        return self.samplerate * 60.0 / self.bpm

    @property
    def beats(self) -> float:
        return (self.seconds - self.first_beat) * self.bpm / 60.0


def sidecar(path: Path) -> dict[str, Any]:
    """Ground truth next to a file: `name.json` or `name.wav.json` (empty when absent or unreadable)."""
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def decode(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the file's rate; TrackError when nothing can read it."""
    if not path.exists():
        raise TrackError(f"no such file: {path}")
    if not path.is_file():
        raise TrackError(f"not a file: {path}")
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as first:  # noqa: BLE001 - libsndfile raises its own types, RuntimeError, TypeError
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():  # librosa warns that it falls back to audioread: we know
                warnings.simplefilter("ignore")
                mono_or_multi, sr = librosa.load(str(path), sr=None, mono=False)
        except Exception:  # noqa: BLE001 - any decoder failure means: this file cannot be read
            raise TrackError(f"cannot read {path.name}: {first}") from None
        data = np.atleast_2d(mono_or_multi).T.astype(np.float32)
    if data.size == 0 or data.shape[0] < 16:
        raise TrackError(f"{path.name} holds no audio")
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return data, int(sr)


def to_stereo(data: np.ndarray) -> np.ndarray:
    if data.shape[1] == 1:
        return np.repeat(data, 2, axis=1)
    return data[:, :2]


def resample(data: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return data
    import soxr

    return soxr.resample(data, sr_in, sr_out, quality="HQ").astype(np.float32)


def estimate_grid(data: np.ndarray, sr: int) -> tuple[float, float]:
    """(bpm, first beat in seconds) from librosa's tracker, for files that came without a grid."""
    import librosa

    mono = data.mean(axis=1)
    tempo, beats = librosa.beat.beat_track(y=mono, sr=sr, units="time")
    bpm = float(np.atleast_1d(tempo)[0])
    if not math.isfinite(bpm) or bpm <= 0:
        raise TrackError("could not find a beat in this file; give its BPM in a sidecar JSON")
    while bpm < 70:
        bpm *= 2
    while bpm > 180:
        bpm /= 2
    first = float(beats[0]) if len(beats) else 0.0
    period = 60.0 / bpm
    return bpm, first % period


def load_track(path: str | Path, samplerate: int, hints: dict[str, Any] | None = None) -> Track:
    """Decode, resample and grid one file. `hints` (from a resolver) may carry bpm/first_beat/title."""
    path = Path(path).expanduser()
    data, sr = decode(path)
    meta = {**sidecar(path), **{k: v for k, v in (hints or {}).items() if v is not None}}
    bpm = finite_number(meta.get("bpm"))
    first = finite_number(meta.get("first_beat"))
    if first is None and isinstance(meta.get("beats"), list) and meta["beats"]:
        first = finite_number(meta["beats"][0])
    if bpm is None:
        bpm, guessed = estimate_grid(to_stereo(data), sr)
        first = guessed if first is None else first
    if not 20.0 <= bpm <= 400.0:
        raise TrackError(f"{path.name}: a tempo of {bpm:g} BPM is not believable")
    audio = np.ascontiguousarray(resample(to_stereo(data), sr, samplerate), dtype=np.float32)
    return Track(path, audio, samplerate, float(bpm), float(first or 0.0),
                 str(meta.get("title") or path.stem), meta.get("key"), meta)


def finite_number(value: Any) -> float | None:
    """A finite float from a sidecar or tag value, else None."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def find_audio(folder: str | Path) -> list[Path]:
    """Audio files in a folder (not recursive into hidden folders), sorted by name."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))
