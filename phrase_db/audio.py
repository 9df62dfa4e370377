"""Reading a track: samples (through libsndfile), tags (mutagen, libsndfile, a JSON sidecar, the name).

Every failure becomes `CorruptFile` with a sentence a performer can act on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".aifc", ".wave")


class CorruptFile(ValueError):
    """The file cannot be decoded; the message says which and why."""


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def load_audio(path: Path) -> tuple[np.ndarray, int, np.ndarray]:
    """(stereo-or-mono float32 frames × channels, native rate, mono at the native rate)."""
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several kinds; each means "cannot decode"
        raise CorruptFile(f"{path.name}: cannot decode ({_short(exc)})") from None
    if data.size == 0:
        raise CorruptFile(f"{path.name}: no audio frames")
    if not np.all(np.isfinite(data)):
        bad = int((~np.isfinite(data)).sum())
        raise CorruptFile(f"{path.name}: {bad} samples are NaN or infinite")
    return data, int(sr), data.mean(axis=1)


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return y.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32, copy=False)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:160]


# -- tags ---------------------------------------------------------------------------------------------
_FIELDS = ("title", "artist", "album", "genre", "comment", "bpm", "key")
_MUTAGEN_KEYS = {
    "title": ("title", "TIT2", "\xa9nam"),
    "artist": ("artist", "TPE1", "\xa9ART"),
    "album": ("album", "TALB", "\xa9alb"),
    "genre": ("genre", "TCON", "\xa9gen"),
    "comment": ("comment", "description", "COMM", "\xa9cmt"),
    "bpm": ("bpm", "TBPM", "tmpo"),
    "key": ("initialkey", "key", "TKEY"),
}


def read_tags(path: Path) -> dict[str, Any]:
    """title, artist, album, genre, comment, tags (words) from every source, best first.

    Order: JSON sidecar `<name>.json` (the example crate and hand-written notes), file tags
    (mutagen: ID3, Vorbis comments, MP4, AIFF), libsndfile's strings, then "Artist - Title" in the
    file name.
    """
    found: dict[str, Any] = {}
    for source in (_sidecar_tags, _mutagen_tags, _sndfile_tags, _name_tags):
        try:
            for k, v in source(path).items():
                if v and not found.get(k):
                    found[k] = v
        except Exception:  # noqa: BLE001 - a broken tag block never stops the analysis
            continue
    words = set(found.get("tags") or [])
    for field in ("genre", "comment"):
        words.update(w.lower() for w in re.findall(r"[\w#-]+", str(found.get(field, ""))) if len(w) > 1)
    found["tags"] = sorted(words)
    found.setdefault("title", path.stem)
    found.setdefault("artist", "")
    return found


def _sidecar_tags(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".json")
    if not side.is_file():
        return {}
    data = json.loads(side.read_text())
    if not isinstance(data, dict):
        return {}
    out = {k: str(data[k]) for k in ("title", "artist", "album", "genre", "comment") if data.get(k)}
    if isinstance(data.get("tags"), list):
        out["tags"] = [str(t).lower() for t in data["tags"]]
    return out


def _mutagen_tags(path: Path) -> dict[str, Any]:
    import mutagen

    f = mutagen.File(str(path))
    if f is None or not f.tags:
        return {}
    out: dict[str, Any] = {}
    tags = f.tags
    for field, keys in _MUTAGEN_KEYS.items():
        for key in keys:
            value = _first(tags, key)
            if value:
                out[field] = value
                break
    return out


def _first(tags: Any, key: str) -> str:
    try:
        values = tags.getall(key) if hasattr(tags, "getall") else tags.get(key)  # ID3 | Vorbis, MP4
    except Exception:  # noqa: BLE001 - odd tag frames read as missing
        return ""
    if not values:
        return ""
    if not isinstance(values, list):
        values = [values]
    text = getattr(values[0], "text", values[0])
    if isinstance(text, list):
        text = text[0] if text else ""
    return str(text).strip()


def _sndfile_tags(path: Path) -> dict[str, Any]:
    with sf.SoundFile(str(path)) as fh:
        return {k: v for k, v in fh.copy_metadata().items() if k in _FIELDS and v}


def _name_tags(path: Path) -> dict[str, Any]:
    stem = re.sub(r"^\d+[\s._-]+", "", path.stem)  # "01 Artist - Title"
    if " - " in stem:
        artist, title = stem.split(" - ", 1)
        return {"artist": artist.strip(), "title": title.strip()}
    return {"title": stem.strip()}
