"""LOAD{query}: which file does "load dubby 118" mean?

With an analysed library, the phrase database answers (titles, tags, tempo, key). Without one (a
fresh machine), the tracks we can describe without analysis still count: the bundled example crate
and a `--crate` folder, through their JSON sidecars and file tags. The answer is the contract of
the `copilot_library` hook's `resolve`: {"path", "title", "artist", "bpm", "key", "lufs", "why"} plus the
runners-up, and the track's grid and phrases (`first_beat`, `duration`, `phrases`), so a deck that holds
it knows where its phrase lines are (mixing.py).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from .constants import LABELS
from .keys import Key
from .query import Hit, search_tracks
from .sections import split_phrases
from .store import PhraseRecord, Store, TrackRecord, default_db_path


def library_tracks(db: str | Path | None) -> tuple[list[TrackRecord], str]:
    """Analysed tracks from the database at `db` (default location if None); [] if there is none."""
    path = Path(db) if db else default_db_path()
    if not path.exists():
        return [], f"no phrase database at {path}"
    try:
        with Store(path, readonly=True) as store:
            return store.tracks(with_phrases=False), f"phrase database {path}"
    except Exception as exc:  # noqa: BLE001 - a damaged database must not stop a LOAD from the crate
        return [], f"phrase database {path} unreadable ({exc})"


FOLDER_PHRASES = 10**9  # phrase ids of tracks described by sidecars (never clash with a database's)


def folder_records(folders: list[Path]) -> list[TrackRecord]:
    """Every audio file in the folders as a track record, from its sidecar (tempo, grid, key, sections)."""
    from .audio import is_audio, read_tags

    found: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
    seen: set[str] = set()
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(p for p in Path(folder).glob("*") if p.is_file() and is_audio(p)):
            if str(path) not in seen:
                seen.add(str(path))
                found.append((path, _sidecar(path), read_tags(path)))
    return truth_records(found)


def truth_records(items: list[tuple[Path, dict[str, Any], dict[str, Any]]]) -> list[TrackRecord]:
    """Track records from (path, sidecar truth, file tags): also for files not written yet, whose truth
    is known (the example crate on a first run)."""
    out: list[TrackRecord] = []
    next_phrase = FOLDER_PHRASES
    for path, truth, tags in items:
        record = sidecar_record(-(len(out) + 1), path, truth, tags, next_phrase)
        next_phrase += len(record.phrases)
        out.append(record)
    return out


def _sidecar(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".json")
    try:
        data = json.loads(side.read_text()) if side.exists() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def sidecar_record(track_id: int, path: Path, truth: dict[str, Any], tags: dict[str, Any],
                   first_phrase_id: int = 1) -> TrackRecord:
    """A track record from a sidecar's ground truth (or tags): sections become 32/16/8-bar phrases."""
    bpm = _number(truth.get("bpm")) or _number(tags.get("bpm"))
    key = None
    raw_key = truth.get("key")
    for text in ((raw_key or {}).get("name") if isinstance(raw_key, dict) else raw_key, tags.get("key")):
        if key is None and text:
            try:
                key = Key.parse(str(text).split("(")[0].strip())
            except ValueError:
                key = None
    beats = truth.get("beats")
    first = _number(beats[0]) if isinstance(beats, list) and beats else _number(truth.get("first_beat"))
    phrases: list[PhraseRecord] = []
    for s, sec in enumerate(truth.get("sections") or []):
        try:
            start, bars = int(sec["start_bar"]), int(sec["bars"])
        except (KeyError, TypeError, ValueError):
            continue
        label = str(sec.get("label", "main")).lower()
        label = label if label in LABELS else "main"
        energy = _number(sec.get("energy"))
        for a, n in split_phrases(start, bars):
            phrases.append(PhraseRecord(first_phrase_id + len(phrases), track_id, len(phrases), s, label, a, n,
                                        0.0, 0.0, 0.5 if energy is None else float(energy)))
    return TrackRecord(
        id=track_id, path=str(path), content_hash="", status="ok", error=None, analysis_version=0,
        analyzed_at=time.time(), title=str(truth.get("title") or tags.get("title") or path.stem),
        artist=str(truth.get("artist") or tags.get("artist") or ""),
        tags=tuple(str(t) for t in (truth.get("tags") or tags.get("tags") or ())),
        duration=_number(truth.get("duration")), bpm=bpm, first_beat=first, key=key,
        lufs=_number(truth.get("lufs")), phrases=tuple(phrases),
    )


def _phrases(track: TrackRecord, db: str | Path | None) -> tuple[PhraseRecord, ...]:
    """A hit's phrases: read with it (folders), or from the database for that one track."""
    if track.phrases or track.id < 0:
        return track.phrases
    try:
        with Store(Path(db) if db else default_db_path(), readonly=True) as store:
            full = store.track(track.id)
    except Exception:  # noqa: BLE001 - no phrases: the mix falls back to 32-beat blocks
        return ()
    return full.phrases if full is not None else ()


def resolve(query: str, db: str | Path | None = None, folders: list[Path] | None = None,
            alternatives: int = 4) -> dict[str, Any] | None:
    """The best track for a LOAD query, or None when nothing matches."""
    tracks, source = library_tracks(db)
    hits: list[Hit] = search_tracks(tracks, query, limit=alternatives + 1) if tracks else []
    if not hits:
        extra: list[TrackRecord] = []
        for folder in folders or []:
            extra += folder_records([Path(folder)])
        hits = search_tracks(extra, query, limit=alternatives + 1)
        source = "example crate" if extra else source
    if not hits:
        return None
    best = hits[0]
    t = best.track
    return {
        "path": t.path, "title": t.title, "artist": t.artist,
        "bpm": None if t.bpm is None else round(t.bpm, 2),
        "key": None if t.key is None else f"{t.key.name} ({t.key.camelot})",
        "lufs": None if t.lufs is None else round(t.lufs, 2),  # for the engine's loudness matching
        "first_beat": t.first_beat, "duration": t.duration,
        "phrases": [{"start_bar": p.start_bar, "bars": p.bars, "label": p.label, "energy": round(p.energy, 3)}
                    for p in _phrases(t, db)],  # where its phrase lines are, once it is on a deck
        "why": f"best match for '{query}' in the {source}: " + ("; ".join(best.why) or "closest title"),
        "alternatives": [h.to_dict() for h in hits[1:]],
    }
