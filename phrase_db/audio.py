"""Reading a track: samples (through libsndfile, or ffmpeg for what libsndfile cannot read), tags
(mutagen, libsndfile, a JSON sidecar, the name).

`read_audio` is the one front door for audio files (the phrase DB's analysis and the engine's decks
both read through it). Every failure becomes `CorruptFile` with one sentence a performer can act on,
never a traceback and never a hang: headers that claim absurd rates, channel counts or lengths are
refused before anything is allocated, the file is decoded in blocks, and ffmpeg runs under a timeout.
A file that stops early (cut off mid-copy, a damaged FLAC frame) keeps what decodes and says so in
`Decoded.notes` ("truncated: …").
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".aifc", ".wave")
SNDFILE_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".aifc")  # libsndfile's own
MAX_SECONDS = 4 * 3600.0  # longer than any track or mix worth decoding whole
MAX_CHANNELS = 64
RATES = (1000, 768_000)  # Hz: a header outside this is damage, not audio
BLOCK = 1 << 16  # frames per read
FFMPEG_TIMEOUT = 120.0  # seconds for one file (a 2-hour MP3 decodes in a fraction of that)
FFMPEG_RATE = 48_000
ABSURD = 1e4  # a float sample beyond this (80 dB over full scale) is damage, not audio


class CorruptFile(ValueError):
    """The file cannot be decoded; the message says which and why."""


@dataclasses.dataclass
class Decoded:
    data: np.ndarray  # (frames, channels) float32
    samplerate: int
    notes: list[str] = dataclasses.field(default_factory=list)  # what a performer should know (truncated, …)
    nonfinite: int = 0  # samples that were NaN, infinite or absurd (set to 0 here)


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def read_audio(path: Path | str) -> Decoded:
    """Decode a whole file. CorruptFile (one sentence) when nothing usable can be read."""
    path = Path(path)
    if not path.exists():
        raise CorruptFile(f"{path.name}: no such file")
    if not path.is_file():
        raise CorruptFile(f"{path.name}: not a file")
    if path.stat().st_size == 0:
        raise CorruptFile(f"{path.name}: an empty file")
    try:
        decoded = _read_sndfile(path)
    except CorruptFile:
        if path.suffix.lower() in SNDFILE_EXTENSIONS or _sndfile_reads(path.suffix):
            raise
        decoded = _read_ffmpeg(path)
    data = decoded.data
    if data.size == 0 or data.shape[0] < 16:
        raise CorruptFile(f"{path.name}: no audio frames")
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(data) <= ABSURD)  # NaN, infinite, or a float file's garbage (1e30): never real audio
    if bad.any():
        decoded.nonfinite = int(bad.sum())
        data[bad] = 0.0
    return decoded


def read_for_analysis(path: Path | str) -> Decoded:
    """`read_audio`, refusing NaN audio (a measurement on patched samples would be a lie)."""
    decoded = read_audio(path)
    if decoded.nonfinite:
        raise CorruptFile(f"{Path(path).name}: {decoded.nonfinite} samples are NaN, infinite or absurdly loud")
    return decoded


def load_audio(path: Path) -> tuple[np.ndarray, int, np.ndarray]:
    """(frames × channels float32, native rate, mono at the native rate), for analysis."""
    decoded = read_for_analysis(path)
    return decoded.data, decoded.samplerate, decoded.data.mean(axis=1)


def _read_sndfile(path: Path) -> Decoded:
    try:
        fh = sf.SoundFile(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several kinds; each means "cannot decode"
        raise CorruptFile(f"{path.name}: cannot decode ({_short(exc)})") from None
    with fh:
        sr, channels, declared, subtype = int(fh.samplerate), int(fh.channels), int(fh.frames), str(fh.subtype)
        if not RATES[0] <= sr <= RATES[1]:
            raise CorruptFile(f"{path.name}: damaged header (a sample rate of {sr} Hz)")
        if not 1 <= channels <= MAX_CHANNELS:
            raise CorruptFile(f"{path.name}: damaged header ({channels} channels)")
        limit = int(MAX_SECONDS * sr)
        notes: list[str] = []
        blocks: list[np.ndarray] = []
        frames = 0
        try:
            while frames <= limit:
                block = fh.read(BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block)
                frames += len(block)
        except Exception as exc:  # noqa: BLE001 - a damaged frame mid-file: keep what came before it
            if not frames:
                raise CorruptFile(f"{path.name}: cannot decode ({_short(exc)})") from None
            notes.append(f"truncated or damaged after {frames / sr:.1f} s ({_short(exc)}); playing what decodes")
        if frames > limit:
            raise CorruptFile(f"{path.name}: longer than {MAX_SECONDS / 3600:g} hours; not a track")
        info = _extra_info(fh)
    if not notes:
        if 0 < declared < 1 << 62 and frames < declared - sr // 20:  # 2^63 - 1: "length unknown"
            notes.append(f"truncated: {frames / sr:.1f} s of the {declared / sr:.1f} s its header promises")
        elif (cut := _cut_wav(info, channels, subtype)) is not None:
            notes.append(f"truncated: {frames / sr:.1f} s of the {frames / sr + cut:.1f} s its header promises")
        elif "lacks an end-of-stream" in info:
            notes.append(f"truncated: the stream stops at {frames / sr:.1f} s without its proper end")
    data = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
    return Decoded(data, sr, notes)


def _extra_info(fh: sf.SoundFile) -> str:
    try:
        return str(fh.extra_info)
    except Exception:  # noqa: BLE001 - only a diagnostic
        return ""


_WAV_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _cut_wav(info: str, channels: int, subtype: str) -> float | None:
    """Seconds missing from a WAV whose data chunk claims more bytes than the file holds."""
    m = _WAV_DATA.search(info)
    if m is None or subtype not in _BYTES:
        return None
    claimed, real = int(m.group(1)), int(m.group(2))
    if claimed <= real:
        return None
    rate = re.search(r"Sample Rate\s*:\s*(\d+)", info)
    if rate is None or not int(rate.group(1)):
        return None
    return (claimed - real) / (channels * _BYTES[subtype] * int(rate.group(1)))


def _sndfile_reads(suffix: str) -> bool:
    """libsndfile ≥ 1.1 reads MP3 itself; older ones leave it to ffmpeg."""
    return suffix.lower() == ".mp3" and "MP3" in sf.available_formats()


def _probe(path: Path) -> None:
    """ffprobe's word on the first audio stream: refused like libsndfile's headers when it is absurd (a
    1 Hz stream would come out of ffmpeg as minutes of 48 kHz audio per kilobyte)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
           "-of", "json", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT / 4, check=False)
        streams = json.loads(done.stdout or b"{}").get("streams") or []
    except (subprocess.TimeoutExpired, OSError, ValueError):
        raise CorruptFile(f"{path.name}: cannot tell what audio it holds; skipped") from None
    if not streams:
        raise CorruptFile(f"{path.name}: cannot decode (no audio stream found)")
    rate, channels = int(streams[0].get("sample_rate") or 0), int(streams[0].get("channels") or 0)
    if not RATES[0] <= rate <= RATES[1]:
        raise CorruptFile(f"{path.name}: damaged header (a sample rate of {rate} Hz)")
    if not 1 <= channels <= MAX_CHANNELS:
        raise CorruptFile(f"{path.name}: damaged header ({channels} channels)")


def _read_ffmpeg(path: Path) -> Decoded:
    """What libsndfile cannot read (M4A/AAC, MP3 on an old libsndfile): ffmpeg to 48 kHz stereo float."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise CorruptFile(f"{path.name}: cannot decode this kind of file without ffmpeg (install ffmpeg)")
    _probe(path)
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-t", str(MAX_SECONDS), "-f", "f32le",
           "-ac", "2", "-ar", str(FFMPEG_RATE), "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise CorruptFile(f"{path.name}: ffmpeg took longer than {FFMPEG_TIMEOUT:g} s; skipped") from None
    except OSError as exc:
        raise CorruptFile(f"{path.name}: cannot run ffmpeg ({exc.strerror})") from None
    data = np.frombuffer(done.stdout[: len(done.stdout) // 8 * 8], np.float32).reshape(-1, 2).copy()
    if done.returncode != 0 and not len(data):
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise CorruptFile(f"{path.name}: cannot decode ({why[-1][:160] if why else 'ffmpeg failed'})")
    notes = ["damaged: ffmpeg stopped early; playing what decodes"] if done.returncode != 0 else []
    return Decoded(data, FFMPEG_RATE, notes)


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return y.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32, copy=False)


def _short(exc: Exception) -> str:
    """libsndfile's complaint without its boilerplate: "Error opening '/long/path': Format not recognised."
    → "format not recognised"."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^Error opening .*?: (?=\S)", "", text)
    text = re.sub(r"^Error\s*:\s*", "", text).rstrip(".")
    return (text[:1].lower() + text[1:])[:160] if text else type(exc).__name__


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
