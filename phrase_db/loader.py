"""LOAD{query}: which file does "load dubby 118" mean?

With an analysed library, the phrase database answers (titles, tags, tempo, key). Without one (a
fresh machine), the tracks we can describe without analysis still count: the bundled example crate
and a `--crate` folder, through their JSON sidecars and file tags. The answer is the contract of
the `copilot_library` hook's `resolve`: {"path", "title", "artist", "bpm", "key", "lufs", "why"} plus the runners-up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .keys import Key
from .query import Hit, search_tracks
from .store import Store, TrackRecord, default_db_path


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


def folder_tracks(folder: Path) -> list[TrackRecord]:
    """Audio files in `folder` described by sidecars and tags only (no analysis)."""
    from .audio import is_audio, read_tags

    out = []
    for i, path in enumerate(sorted(p for p in Path(folder).glob("*") if p.is_file() and is_audio(p))):
        tags = read_tags(path)
        bpm, key = None, None
        side = path.with_suffix(".json")
        try:
            truth = json.loads(side.read_text()) if side.exists() else {}
            bpm = float(truth["bpm"]) if "bpm" in truth else None
            key = Key.parse(truth["key"]["name"]) if isinstance(truth.get("key"), dict) else None
        except (ValueError, KeyError, TypeError):
            pass
        if bpm is None and tags.get("bpm"):
            try:
                bpm = float(tags["bpm"])
            except ValueError:
                bpm = None
        if key is None and tags.get("key"):
            try:
                key = Key.parse(str(tags["key"]))
            except ValueError:
                key = None
        out.append(TrackRecord(
            id=-(i + 1), path=str(path), content_hash="", status="ok", error=None, analysis_version=0,
            analyzed_at=time.time(), title=str(tags.get("title", path.stem)), artist=str(tags.get("artist", "")),
            genre=str(tags.get("genre", "")), tags=tuple(tags.get("tags", ())), bpm=bpm, key=key,
        ))
    return out


def resolve(query: str, db: str | Path | None = None, folders: list[Path] | None = None,
            alternatives: int = 4) -> dict[str, Any] | None:
    """The best track for a LOAD query, or None when nothing matches."""
    tracks, source = library_tracks(db)
    hits: list[Hit] = search_tracks(tracks, query, limit=alternatives + 1) if tracks else []
    if not hits:
        extra: list[TrackRecord] = []
        for folder in folders or []:
            if Path(folder).is_dir():
                extra += folder_tracks(Path(folder))
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
        "why": f"best match for '{query}' in the {source}: " + ("; ".join(best.why) or "closest title"),
        "alternatives": [h.to_dict() for h in hits[1:]],
    }
