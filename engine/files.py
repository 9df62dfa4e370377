"""Audio files into deck-ready buffers: decode, resample, find the beat grid. Never on the audio thread.

Files are read through the phrase DB's one front door for audio (`phrase_db.audio.read_audio`:
libsndfile, ffmpeg for what it cannot read, bounded and never a traceback). Resampling is soxr. The
beat grid comes from a JSON sidecar when there is one (the example crate writes them: ground truth by
construction), else from the resolver's answer, else from the phrase DB's beat tracker — which says
"no beat" for a tone or noise rather than inventing a tempo.

A missing, corrupt or beatless file raises `TrackError` with a sentence a performer can act on; the
caller keeps the deck as it was. What decoded but should be known (a truncated file) is in
`Track.meta["notes"]`.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
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
    data, sr, _ = decode_with_notes(path)
    return data, sr


_KEPT: OrderedDict[tuple[str, int, int], tuple[np.ndarray, int, list[str]]] = OrderedDict()
_KEPT_LOCK = threading.Lock()
_KEEP = [0, 0]  # bytes allowed, bytes held


def keep_decoded(limit_bytes: int) -> None:
    """Keep up to `limit_bytes` of decoded files in this process, the least recently loaded dropped first
    (0, the default: none). For rehearsal workers, which load the same two files for every candidate of
    a pair (decoding a track cost a quarter of a candidate's render); a live set decodes each load. The
    kept audio is read-only, so no deck can change what the next load gets."""
    with _KEPT_LOCK:
        _KEEP[0] = max(0, int(limit_bytes))
        _trim()


def _trim() -> None:
    while _KEPT and _KEEP[1] > _KEEP[0]:
        _, (data, _, _) = _KEPT.popitem(last=False)
        _KEEP[1] -= data.nbytes


def decode_with_notes(path: Path) -> tuple[np.ndarray, int, list[str]]:
    """`decode`, plus what a performer should know about the file (truncated, damaged, NaN samples).
    Kept per process when `keep_decoded` allows (by the file's real path, size and time)."""
    if not _KEEP[0]:
        return _decode_with_notes(path)
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return _decode_with_notes(path)  # says why in its own words
    with _KEPT_LOCK:
        kept = _KEPT.get(key)
        if kept is not None:
            _KEPT.move_to_end(key)
            return kept[0], kept[1], list(kept[2])
    data, sr, notes = _decode_with_notes(path)
    with _KEPT_LOCK:
        if key not in _KEPT and data.nbytes <= _KEEP[0]:
            data.flags.writeable = False
            _KEPT[key] = (data, sr, list(notes))
            _KEEP[1] += data.nbytes
            _trim()
    return data, sr, notes


def _decode_with_notes(path: Path) -> tuple[np.ndarray, int, list[str]]:
    from copilot.phrase_db.audio import CorruptFile, read_audio

    try:
        decoded = read_audio(path)
    except CorruptFile as exc:
        raise TrackError(str(exc)) from None
    notes = list(decoded.notes)
    if decoded.nonfinite:
        notes.append(f"{decoded.nonfinite} samples were not numbers; they play as silence")
    return decoded.data, decoded.samplerate, notes


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
    """(bpm, first beat in seconds) for files that came without a grid; TrackError for beatless audio."""
    from copilot.phrase_db.beatgrid import NO_BEAT, AnalysisError, fit_grid
    from copilot.phrase_db.features import SR

    mono = resample(np.ascontiguousarray(data.mean(axis=1, keepdims=True)), sr, SR)[:, 0]
    try:
        period, phase, confidence, _, _ = fit_grid(mono, SR)
    except AnalysisError as exc:
        raise TrackError(f"no beat found ({exc}); give its BPM in a sidecar JSON") from None
    if confidence < NO_BEAT:
        raise TrackError(f"no beat (beat confidence {confidence:.2f}): a tone, noise or beatless audio")
    bpm = 60.0 / period
    while bpm < 70:
        bpm *= 2
    while bpm > 180:
        bpm /= 2
    return bpm, phase % (60.0 / bpm)


def load_track(path: str | Path, samplerate: int, hints: dict[str, Any] | None = None) -> Track:
    """Decode, resample and grid one file. `hints` (from a resolver) may carry bpm/first_beat/title."""
    path = Path(path).expanduser()
    data, sr, notes = decode_with_notes(path)
    meta = {**sidecar(path), **{k: v for k, v in (hints or {}).items() if v is not None}, "notes": notes}
    bpm = finite_number(meta.get("bpm"))
    first = finite_number(meta.get("first_beat"))
    if first is None and isinstance(meta.get("beats"), list) and meta["beats"]:
        first = finite_number(meta["beats"][0])
    if bpm is None:
        try:
            bpm, guessed = estimate_grid(to_stereo(data), sr)
        except TrackError as exc:
            raise TrackError(f"{path.name}: {exc}") from None
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
