"""The phrase database on disk: SQLite in WAL mode (readers never wait for the analyser).

Tables: `tracks` (one row per file: where, which content, tags, grid, key, loudness, or why it
failed), `phrases` (one row per phrase with its embedding), `analysis_versions` (what each analysis
version did), `meta` (schema version and a *generation* counter that every change to phrases bumps,
so the faiss index beside the database knows when it is stale). Each track is written in its own
transaction: a crash loses at most the tracks being analysed at that moment.

A file that is not a phrase database, or a damaged one, is a `DamagedDatabase` with one sentence naming
the file and the way out (`copilot db check`, `copilot db analyze --rebuild`), from the moment it is
opened or wherever later the damage shows; `check()` is what `copilot db check` reports.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .constants import ANALYSIS_NOTES, ANALYSIS_VERSION, EMBED_DIM, LABELS
from .keys import Key

if TYPE_CHECKING:
    from .analysis import TrackAnalysis

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS analysis_versions (
    version INTEGER PRIMARY KEY, notes TEXT NOT NULL, first_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT,
    analysis_version INTEGER NOT NULL REFERENCES analysis_versions(version),
    analyzed_at REAL NOT NULL,
    title TEXT, artist TEXT, album TEXT, genre TEXT, tags TEXT NOT NULL DEFAULT '',
    duration REAL, sample_rate INTEGER, channels INTEGER,
    bpm REAL, first_beat REAL, beat_count INTEGER, downbeat INTEGER, beat_confidence REAL,
    key_index INTEGER, key_confidence REAL, lufs REAL, lattice_offset INTEGER, seconds REAL
);
CREATE INDEX IF NOT EXISTS tracks_by_hash ON tracks(content_hash);
CREATE TABLE IF NOT EXISTS phrases (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    section INTEGER NOT NULL,
    label TEXT NOT NULL,
    start_bar INTEGER NOT NULL,
    bars INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    energy REAL NOT NULL,
    loudness_db REAL, density REAL, low_share REAL,
    embedding BLOB NOT NULL,
    UNIQUE (track_id, idx)
);
CREATE INDEX IF NOT EXISTS phrases_by_track ON phrases(track_id);
"""


class DamagedDatabase(RuntimeError):
    """The file cannot be used as a phrase database; the message says which file and what to do."""

    def __init__(self, path: Path, why: str) -> None:
        self.path, self.why = path, why
        super().__init__(
            f"{path} is not a usable phrase database ({why}); `copilot db check --db {path}` says what is "
            f"wrong, `copilot db analyze FOLDER --rebuild --db {path}` builds it afresh (the old file is kept)")


class NotWrittenYet(FileNotFoundError):
    """An SQLite file with no tables at all: a database being born (the analyser's first instant) or
    never written — nothing to read yet, and nothing damaged."""


def damaged(path: Path, why: str) -> DamagedDatabase:
    return DamagedDatabase(path, why)


def set_aside(db: Path | str | None = None) -> list[tuple[Path, Path]]:
    """Move a database (and its WAL, shared memory and index files) out of the way for a rebuild: renamed
    `<name>.damaged-<time>`, never deleted. Returns (old, new) for each file moved."""
    path = Path(db) if db is not None else default_db_path()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm", ".faiss", ".faiss.json"):
        old = path.with_name(path.name + suffix)
        if old.exists():
            new = old.with_name(f"{path.name}.damaged-{stamp}{suffix}")
            old.rename(new)
            moved.append((old, new))
    return moved


def _why(exc: sqlite3.Error) -> str:
    text = str(exc) or type(exc).__name__
    return {"file is not a database": "not a database file, or its first page is damaged",
            "database disk image is malformed": "the file is damaged"}.get(text, text)


_T = TypeVar("_T")


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """SQLite's errors about the file become one DamagedDatabase sentence (a busy database stays an
    OperationalError: it is someone else's write, not damage)."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise damaged(self.path, _why(exc)) from None

    return wrapper


def default_db_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("copilot") / "phrases.sqlite"


@dataclass(frozen=True)
class PhraseRecord:
    id: int
    track_id: int
    index: int
    section: int
    label: str
    start_bar: int
    bars: int
    start: float
    end: float
    energy: float
    loudness_db: float | None = None
    density: float | None = None
    low_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "section": self.section, "label": self.label,
                "start_bar": self.start_bar, "bars": self.bars, "start": round(self.start, 4),
                "end": round(self.end, 4), "energy": round(self.energy, 4)}


@dataclass(frozen=True)
class TrackRecord:
    id: int
    path: str
    content_hash: str
    status: str
    error: str | None
    analysis_version: int
    analyzed_at: float
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    tags: tuple[str, ...] = ()
    duration: float | None = None
    bpm: float | None = None
    first_beat: float | None = None
    beat_count: int | None = None
    downbeat: int | None = None
    beat_confidence: float | None = None
    key: Key | None = None
    key_confidence: float | None = None
    lufs: float | None = None
    phrases: tuple[PhraseRecord, ...] = field(default=(), compare=False)

    @property
    def downbeat_count(self) -> int:
        if not self.beat_count or self.downbeat is None:
            return 0
        return max(0, math.ceil((self.beat_count - self.downbeat) / 4))

    def to_dict(self, phrases: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "path": self.path, "title": self.title, "artist": self.artist,
            "album": self.album, "genre": self.genre, "tags": list(self.tags),
            "status": self.status,
        }
        if self.status != "ok":
            out["error"] = self.error
            return out
        out.update({
            "duration": _r(self.duration, 3), "bpm": _r(self.bpm, 4), "first_beat": _r(self.first_beat, 5),
            "beats": self.beat_count, "downbeats": self.downbeat_count,
            "key": self.key.name if self.key else None, "camelot": self.key.camelot if self.key else None,
            "key_confidence": _r(self.key_confidence, 3), "lufs": _r(self.lufs, 2),
            "beat_confidence": _r(self.beat_confidence, 3), "analysis_version": self.analysis_version,
        })
        if phrases:
            out["phrases"] = [p.to_dict() for p in self.phrases]
        return out


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


class Store:
    """One SQLite database. Safe to share between threads; each process opens its own."""

    def __init__(self, path: Path | str | None = None, readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.readonly = readonly
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(f"no phrase database at {self.path}; run `copilot db analyze FOLDER` first")
        if self.path.exists() and not self.path.is_file():
            raise damaged(self.path, "a folder, not a file")
        self._lock = threading.RLock()
        # "readonly" means: never create, never migrate. The connection itself stays read-write so a
        # reader can join a WAL database whose -shm file does not exist yet.
        uri = f"file:{self.path}?mode=rw" if readonly else f"file:{self.path}"
        try:
            self.conn = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise damaged(self.path, _why(exc)) from None
        try:
            self._prepare(readonly)
        except BaseException:
            self.conn.close()
            raise

    @_guarded
    def _prepare(self, readonly: bool) -> None:
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 30000")
        if not readonly:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            with self.transaction():
                for statement in _statements():
                    self.conn.execute(statement)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
                self.conn.execute("INSERT OR IGNORE INTO analysis_versions VALUES (?, ?, ?)",
                                  (ANALYSIS_VERSION, ANALYSIS_NOTES, time.time()))
        missing = {"meta", "tracks", "phrases"} - {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if readonly and missing and not self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            raise NotWrittenYet(f"no phrase database at {self.path} yet (the file holds no tables); run "
                                "`copilot db analyze FOLDER` first")
        if missing:
            raise damaged(self.path, f"an SQLite file without the phrase tables ({', '.join(sorted(missing))})")
        found = int(self._meta("schema_version") or SCHEMA_VERSION)
        if found > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer copilot (schema {found})")

    def check(self) -> list[str]:
        """Everything wrong with the file (empty: healthy): SQLite's own integrity check, then ours."""
        problems: list[str] = []
        with self._lock:
            try:
                rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check(20)")]
            except sqlite3.DatabaseError as exc:
                return [_why(exc)]
            if rows != ["ok"]:
                problems += [f"SQLite: {r}" for r in rows]
            try:
                orphans = self.conn.execute("SELECT COUNT(*) FROM phrases WHERE track_id NOT IN "
                                            "(SELECT id FROM tracks)").fetchone()[0]
                if orphans:
                    problems.append(f"{orphans} phrases belong to no track")
                for (bad,) in self.conn.execute("SELECT path FROM tracks WHERE status = 'ok' AND "
                                                "(bpm IS NULL OR bpm <= 0 OR beat_count IS NULL) LIMIT 5"):
                    problems.append(f"{bad}: analysed without a tempo")
            except sqlite3.DatabaseError as exc:
                problems.append(_why(exc))
        return problems

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: one writer at a time, readers carry on (WAL)."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @_guarded
    def generation(self) -> int:
        with self._lock:
            return int(self._meta("generation") or 0)

    def _bump(self) -> None:
        self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # -- writing ------------------------------------------------------------------------------------
    @_guarded
    def save(self, a: TrackAnalysis, content_hash: str, size: int, mtime_ns: int) -> int:
        """Insert or replace one analysed track and its phrases, atomically."""
        tags = a.tags
        row = {
            "path": a.path, "content_hash": content_hash, "size": size, "mtime_ns": mtime_ns,
            "status": "ok", "error": None, "analysis_version": a.version, "analyzed_at": time.time(),
            "title": a.title, "artist": a.artist, "album": str(tags.get("album") or ""),
            "genre": str(tags.get("genre") or ""), "tags": " ".join(tags.get("tags") or []),
            "duration": a.duration, "sample_rate": a.sample_rate, "channels": a.channels,
            "bpm": a.grid.bpm, "first_beat": a.grid.first_beat, "beat_count": a.grid.count,
            "downbeat": a.grid.downbeat, "beat_confidence": a.grid.confidence,
            "key_index": a.key.index, "key_confidence": a.key_confidence,
            "lufs": a.lufs if math.isfinite(a.lufs) else None, "lattice_offset": a.lattice_offset,
            "seconds": a.seconds,
        }
        with self.transaction() as c:
            track_id = self._upsert(c, row)
            c.execute("DELETE FROM phrases WHERE track_id = ?", (track_id,))
            c.executemany(
                "INSERT INTO phrases (track_id, idx, section, label, start_bar, bars, start, end, energy,"
                " loudness_db, density, low_share, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(track_id, p.index, p.section, p.label, p.start_bar, p.bars, p.start, p.end, p.energy,
                  p.loudness_db, p.density, p.low_share, _blob(p.embedding)) for p in a.phrases],
            )
            self._bump()
        return track_id

    @_guarded
    def save_error(self, path: str, content_hash: str, size: int, mtime_ns: int, error: str) -> int:
        """Remember a file that cannot be analysed (so the next run skips it until it changes)."""
        row = {"path": path, "content_hash": content_hash, "size": size, "mtime_ns": mtime_ns,
               "status": "error", "error": error, "analysis_version": ANALYSIS_VERSION,
               "analyzed_at": time.time(), "title": Path(path).stem}
        with self.transaction() as c:
            track_id = self._upsert(c, row)
            if c.execute("DELETE FROM phrases WHERE track_id = ?", (track_id,)).rowcount:
                self._bump()
        return track_id

    def _upsert(self, c: sqlite3.Connection, row: dict[str, Any]) -> int:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{k} = excluded.{k}" for k in row if k != "path")
        c.execute(f"INSERT INTO tracks ({cols}) VALUES ({marks}) ON CONFLICT(path) DO UPDATE SET {updates}",
                  tuple(row.values()))
        return int(c.execute("SELECT id FROM tracks WHERE path = ?", (row["path"],)).fetchone()[0])

    @_guarded
    def touch(self, track_id: int, size: int, mtime_ns: int, path: str | None = None) -> None:
        """Same content, new stat (or a new place): no re-analysis."""
        with self.transaction() as c:
            if path is None:
                c.execute("UPDATE tracks SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, track_id))
            else:
                c.execute("DELETE FROM tracks WHERE path = ? AND id != ?", (path, track_id))
                c.execute("UPDATE tracks SET size = ?, mtime_ns = ?, path = ? WHERE id = ?",
                          (size, mtime_ns, path, track_id))

    @_guarded
    def remove(self, paths: Iterable[str]) -> int:
        with self.transaction() as c:
            n = sum(c.execute("DELETE FROM tracks WHERE path = ?", (p,)).rowcount for p in paths)
            if n:
                self._bump()
        return n

    # -- reading --------------------------------------------------------------------------------------
    @_guarded
    def stat_row(self, path: str) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(
                "SELECT id, content_hash, size, mtime_ns, status, analysis_version FROM tracks WHERE path = ?",
                (path,)).fetchone()

    @_guarded
    def error_of(self, track_id: int) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT error FROM tracks WHERE id = ?", (track_id,)).fetchone()
        return None if row is None else row[0]

    @_guarded
    def by_hash(self, content_hash: str) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(
                "SELECT id, path, status, analysis_version FROM tracks WHERE content_hash = ?",
                (content_hash,)).fetchall()

    @_guarded
    def tracks(self, with_phrases: bool = True, status: str | None = "ok") -> list[TrackRecord]:
        with self._lock:
            sql = "SELECT * FROM tracks" + (" WHERE status = ?" if status else "") + " ORDER BY path"
            rows = self.conn.execute(sql, (status,) if status else ()).fetchall()
            phrases: dict[int, list[PhraseRecord]] = {}
            if with_phrases:
                for p in self.conn.execute(
                        "SELECT id, track_id, idx, section, label, start_bar, bars, start, end, energy,"
                        " loudness_db, density, low_share FROM phrases ORDER BY track_id, idx"):
                    phrases.setdefault(p["track_id"], []).append(_phrase(p))
        return [_track(r, tuple(phrases.get(r["id"], ()))) for r in rows]

    @_guarded
    def track(self, track_id: int) -> TrackRecord | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
            if row is None:
                return None
            ps = self.conn.execute(
                "SELECT id, track_id, idx, section, label, start_bar, bars, start, end, energy,"
                " loudness_db, density, low_share FROM phrases WHERE track_id = ? ORDER BY idx",
                (track_id,)).fetchall()
        return _track(row, tuple(_phrase(p) for p in ps))

    @_guarded
    def counts(self) -> dict[str, int]:
        with self._lock:
            ok = self.conn.execute("SELECT COUNT(*) FROM tracks WHERE status = 'ok'").fetchone()[0]
            bad = self.conn.execute("SELECT COUNT(*) FROM tracks WHERE status = 'error'").fetchone()[0]
            ph = self.conn.execute("SELECT COUNT(*) FROM phrases").fetchone()[0]
        return {"tracks": ok, "failed": bad, "phrases": ph}

    @_guarded
    def phrase_table(self) -> PhraseTable:
        """Every phrase as column arrays, in phrase-id order (the faiss index uses the same order)."""
        with self._lock:
            gen = self.generation()
            rows = self.conn.execute(
                "SELECT p.id, p.track_id, p.idx, p.label, p.energy, p.start, p.bars, p.embedding,"
                " t.bpm, t.key_index FROM phrases p JOIN tracks t ON t.id = p.track_id"
                " WHERE t.status = 'ok' ORDER BY p.id").fetchall()
        n = len(rows)
        emb = np.zeros((n, EMBED_DIM), np.float32)
        for i, r in enumerate(rows):
            v = np.frombuffer(r["embedding"], np.float32)
            emb[i, : min(EMBED_DIM, len(v))] = v[:EMBED_DIM]
        return PhraseTable(
            ids=np.array([r["id"] for r in rows], np.int64),
            track_ids=np.array([r["track_id"] for r in rows], np.int64),
            index=np.array([r["idx"] for r in rows], np.int32),
            label=np.array([LABELS.index(r["label"]) if r["label"] in LABELS else 3 for r in rows], np.int8),
            energy=np.array([r["energy"] for r in rows], np.float32),
            bpm=np.array([r["bpm"] or 0.0 for r in rows], np.float32),
            key=np.array([r["key_index"] if r["key_index"] is not None else 0 for r in rows], np.int16),
            embedding=emb, generation=gen,
        )


@dataclass
class PhraseTable:
    """Column arrays for the planner and the index (row i = the i-th phrase by id)."""

    ids: np.ndarray
    track_ids: np.ndarray
    index: np.ndarray
    label: np.ndarray
    energy: np.ndarray
    bpm: np.ndarray
    key: np.ndarray
    embedding: np.ndarray
    generation: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, phrase_id: int) -> int:
        i = int(np.searchsorted(self.ids, phrase_id))
        if i >= len(self.ids) or self.ids[i] != phrase_id:
            raise KeyError(phrase_id)
        return i


def _statements() -> list[str]:
    return [s.strip() for s in _SCHEMA.split(";") if s.strip()]


def _blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype=np.float32).tobytes()


def _phrase(p: sqlite3.Row) -> PhraseRecord:
    return PhraseRecord(p["id"], p["track_id"], p["idx"], p["section"], p["label"], p["start_bar"], p["bars"],
                        p["start"], p["end"], p["energy"], p["loudness_db"], p["density"], p["low_share"])


def _track(r: sqlite3.Row, phrases: tuple[PhraseRecord, ...]) -> TrackRecord:
    return TrackRecord(
        id=r["id"], path=r["path"], content_hash=r["content_hash"], status=r["status"], error=r["error"],
        analysis_version=r["analysis_version"], analyzed_at=r["analyzed_at"], title=r["title"] or "",
        artist=r["artist"] or "", album=r["album"] or "", genre=r["genre"] or "",
        tags=tuple(t for t in (r["tags"] or "").split() if t), duration=r["duration"], bpm=r["bpm"],
        first_beat=r["first_beat"], beat_count=r["beat_count"], downbeat=r["downbeat"],
        beat_confidence=r["beat_confidence"],
        key=Key.from_index(r["key_index"]) if r["key_index"] is not None else None,
        key_confidence=r["key_confidence"], lufs=r["lufs"], phrases=phrases,
    )


def dumps(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False)
