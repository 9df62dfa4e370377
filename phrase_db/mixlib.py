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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .constants import EMBED_DIM, LABELS
from .keys import Key
from .loader import folder_records
from .planner import Planner
from .store import PhraseRecord, PhraseTable, Store, TrackRecord, default_db_path

FALLBACK = "example crate"  # the library with no crate folder and no analysed database
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
        return cls.from_records(folder_records(fallback or []), FALLBACK)

    @classmethod
    def from_records(cls, records: list[TrackRecord], source: str) -> MixLibrary:
        """A library held in memory (crate folders, tests, benchmarks)."""
        table = phrase_table(records)
        planner = Planner.from_table(table, {t.id: t for t in records})
        return cls({t.id: MixTrack.of(t) for t in records}, planner, source)


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
