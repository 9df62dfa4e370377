"""The tracks a mix can be planned with: the analysed library, else what sidecars and tags say.

The next-phrase planner (planner.py) ranks phrases; a mix needs tracks too — where each phrase starts,
how long a track runs, its key and tempo — and the same answer for a fresh machine with no database:
the example crate and a `--crate` folder are described from their JSON sidecars (tempo, grid, key,
sections with labels and energy), their sections cut into 32/16/8-bar phrases as the analysis would.
A file with neither analysis nor sidecar still counts (title, tags, a tempo tag), with no phrases: a
mix with it falls back to 32-beat blocks.

`MixTrack.resolved()` is the same dict a LOAD's library lookup rides on (path, title, bpm, key …)
plus the phrases, so the session's timeline knows where the phrase lines are once it is loaded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .constants import EMBED_DIM, LABELS
from .keys import Key
from .planner import Planner
from .sections import split_phrases
from .store import PhraseRecord, PhraseTable, Store, TrackRecord, default_db_path

WHOLE_TRACK = 10**12  # phrase ids for tracks known only as a whole (no sections): far above any real id


@dataclass(frozen=True)
class MixTrack:
    """One track as a mix needs it (beats are the track's own, from its first beat)."""

    id: int
    path: str
    title: str
    artist: str = ""
    bpm: float | None = None
    key: Key | None = None
    first_beat: float = 0.0
    duration: float | None = None
    lufs: float | None = None
    tags: tuple[str, ...] = ()
    phrases: tuple[PhraseRecord, ...] = field(default=(), compare=False)

    @property
    def beats(self) -> float | None:
        """Length in the track's own beats from beat 1 (None when unknown)."""
        if self.phrases:
            return 4.0 * max(p.start_bar + p.bars for p in self.phrases)
        if self.duration and self.bpm:
            return (self.duration - self.first_beat) * self.bpm / 60.0
        return None

    def resolved(self, why: str = "") -> dict[str, Any]:
        return {
            "path": self.path, "title": self.title, "artist": self.artist,
            "bpm": None if self.bpm is None else round(self.bpm, 3),
            "key": None if self.key is None else f"{self.key.name} ({self.key.camelot})",
            "first_beat": self.first_beat, "duration": self.duration, "lufs": self.lufs,
            "phrases": [{"start_bar": p.start_bar, "bars": p.bars, "label": p.label, "energy": round(p.energy, 3)}
                        for p in self.phrases],
            "why": why,
        }

    @classmethod
    def of(cls, t: TrackRecord) -> MixTrack:
        return cls(t.id, t.path, t.title, t.artist, t.bpm, t.key, t.first_beat or 0.0, t.duration, t.lufs,
                   t.tags, t.phrases)


@dataclass
class MixLibrary:
    """Tracks by id and path, and a phrase planner over them."""

    tracks: dict[int, MixTrack]
    planner: Planner
    source: str
    by_path: dict[str, MixTrack] = field(init=False)
    rows_of: dict[int, np.ndarray] = field(init=False)  # track id → its phrase rows, in phrase order

    def __post_init__(self) -> None:
        self.by_path = {t.path: t for t in self.tracks.values()}
        table = self.planner.table
        order = np.lexsort((table.index, table.track_ids))
        ids = table.track_ids[order]
        cuts = np.flatnonzero(np.diff(ids)) + 1
        self.rows_of = {int(table.track_ids[g[0]]): g for g in np.split(order, cuts) if len(g)}

    def __len__(self) -> int:
        return len(self.tracks)

    def find(self, track: dict[str, Any] | None) -> MixTrack | None:
        """The library's record of a deck's track (by path, else by title)."""
        if not track:
            return None
        path = track.get("path")
        if path and str(path) in self.by_path:
            return self.by_path[str(path)]
        title = str(track.get("title") or "").lower()
        return next((t for t in self.tracks.values() if title and t.title.lower() == title), None)

    # -- building ------------------------------------------------------------------------------------
    @classmethod
    def open(cls, db: str | Path | None, folders: list[Path], fallback: list[Path] | None = None) -> MixLibrary:
        """The folders the performer named (`--crate`), else the analysed database when it has tracks, else
        the fallback folders (the example crate)."""
        if folders:
            return cls.from_records(folder_records(folders), "crate sidecars")
        path = Path(db) if db else default_db_path()
        if path.exists():
            try:
                with Store(path, readonly=True) as store:
                    records = store.tracks(with_phrases=True)
                    if records:
                        planner = Planner(store)
                        planner.store = None  # type: ignore[assignment] - everything it needs is in memory
                        return cls({t.id: MixTrack.of(t) for t in records}, planner, f"phrase database {path}")
            except Exception:  # noqa: BLE001 - a damaged database: the crate still makes a set
                pass
        return cls.from_records(folder_records(fallback or []), "example crate")

    @classmethod
    def from_records(cls, records: list[TrackRecord], source: str) -> MixLibrary:
        """A library held in memory (crate folders, tests, benchmarks)."""
        table = phrase_table(records)
        planner = Planner.from_table(table, {t.id: t for t in records})
        return cls({t.id: MixTrack.of(t) for t in records}, planner, source)


def folder_records(folders: list[Path]) -> list[TrackRecord]:
    """Every audio file in the folders as a track record, from its sidecar (tempo, grid, key, sections)."""
    from .audio import is_audio, read_tags

    out: list[TrackRecord] = []
    seen: set[str] = set()
    next_phrase = 1
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(p for p in Path(folder).glob("*") if p.is_file() and is_audio(p)):
            if str(path) in seen:
                continue
            seen.add(str(path))
            truth = _sidecar(path)
            tags = read_tags(path) if not truth else {}
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
    return x if np.isfinite(x) else None


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


def phrase_table(records: list[TrackRecord]) -> PhraseTable:
    """The planner's column arrays for tracks held in memory (a track without phrases gets one whole
    phrase, so it can still be ranked; one without a tempo or key cannot and is left out)."""
    rows: list[tuple[int, int, int, int, float, float, int]] = []
    for t in records:
        if t.bpm is None or t.key is None:
            continue
        phrases = t.phrases or (PhraseRecord(WHOLE_TRACK + abs(t.id), t.id, 0, 0, "main", 0, 8, 0.0, 0.0, 0.5),)
        for p in phrases:
            rows.append((p.id, t.id, p.index, LABELS.index(p.label), p.energy, t.bpm, t.key.index))
    rows.sort()
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return PhraseTable(
        ids=np.array(cols[0], np.int64), track_ids=np.array(cols[1], np.int64), index=np.array(cols[2], np.int32),
        label=np.array(cols[3], np.int8), energy=np.array(cols[4], np.float32), bpm=np.array(cols[5], np.float32),
        key=np.array(cols[6], np.int16), embedding=np.zeros((n, EMBED_DIM), np.float32), generation=1,
    )
