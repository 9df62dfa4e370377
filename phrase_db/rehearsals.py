"""Rehearsal results kept beside the library: one row per scored candidate transition.

`copilot rehearse` writes a row the moment a candidate is scored (so a run stopped half way resumes
where it stopped: a candidate whose key is here is skipped), and the mixer reads them back: for a
track pair, the template that rehearsed best; for a pair never rehearsed, the template that scored
best on pairs like it (Camelot distance and tempo gap, the features the critic's score depends on
most). The table lives in the phrase database file when there is one (its own table, created on
first use; the library's schema is untouched), else in the rehearsal folder's own SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rehearsals (
    key TEXT PRIMARY KEY,
    out_path TEXT NOT NULL,
    in_path TEXT NOT NULL,
    template TEXT NOT NULL,
    entry_bar INTEGER NOT NULL,
    score REAL,
    key_steps REAL,
    tempo_gap REAL,
    result TEXT NOT NULL,
    at REAL NOT NULL
)
"""
NEAR_STEPS = 1.0  # a pair "like" another: within one Camelot step …
NEAR_TEMPO = 3.0  # … and three percent of tempo gap


class Rehearsals:
    """The rehearsal table of one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30.0)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute(_SCHEMA)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Rehearsals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = self.conn.execute(f"SELECT key FROM rehearsals WHERE key IN ({','.join('?' * len(chunk))})",
                                     chunk)
            found.update(r[0] for r in rows)
        return found

    def put(self, result: Mapping[str, Any]) -> None:
        """One scored candidate (committed at once: a crash loses nothing already scored)."""
        facts = result.get("facts") or {}
        self.conn.execute(
            "INSERT OR REPLACE INTO rehearsals (key, out_path, in_path, template, entry_bar, score, key_steps, "
            "tempo_gap, result, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result["key"], result["out_path"], result["in_path"], result["template"], int(result["entry_bar"]),
             result.get("score"), facts.get("key_steps"), facts.get("tempo_gap"), json.dumps(result), time.time()))
        self.conn.commit()

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.conn.execute("SELECT result FROM rehearsals ORDER BY score DESC")]

    def best_for_pair(self, out_path: str, in_path: str) -> tuple[str, float] | None:
        """The template that rehearsed best for this ordered pair (its best score), or None."""
        row = self.conn.execute(
            "SELECT template, MAX(score) FROM rehearsals WHERE out_path = ? AND in_path = ? AND score IS NOT NULL "
            "GROUP BY template ORDER BY MAX(score) DESC LIMIT 1", (out_path, in_path)).fetchone()
        return (row[0], float(row[1])) if row else None

    def best_for_features(self, key_steps: float, tempo_gap: float) -> tuple[str, float] | None:
        """For a pair never rehearsed: the template with the best mean score over pairs like it."""
        row = self.conn.execute(
            "SELECT template, AVG(score) AS s FROM rehearsals WHERE score IS NOT NULL AND ABS(key_steps - ?) <= ? "
            "AND ABS(tempo_gap - ?) <= ? GROUP BY template ORDER BY s DESC LIMIT 1",
            (key_steps, NEAR_STEPS, tempo_gap, NEAR_TEMPO)).fetchone()
        return (row[0], float(row[1])) if row else None

    def preferences(self) -> dict[str, Any]:
        """Everything the mixer needs in memory: best template per pair, and rows per features."""
        pairs: dict[tuple[str, str], tuple[str, float]] = {}
        for out_path, in_path, template, score in self.conn.execute(
                "SELECT out_path, in_path, template, MAX(score) FROM rehearsals WHERE score IS NOT NULL "
                "GROUP BY out_path, in_path, template"):
            if (out_path, in_path) not in pairs or score > pairs[(out_path, in_path)][1]:
                pairs[(out_path, in_path)] = (template, float(score))
        rows = [(t, float(s), k, g) for t, s, k, g in self.conn.execute(
            "SELECT template, score, key_steps, tempo_gap FROM rehearsals WHERE score IS NOT NULL "
            "AND key_steps IS NOT NULL AND tempo_gap IS NOT NULL")]
        return {"pairs": pairs, "rows": rows}


def load_preferences(path: Path | str | None) -> dict[str, Any]:
    """The rehearsal preferences in a SQLite file (empty when there is no file or no table yet)."""
    if path is None or not Path(path).is_file():
        return {"pairs": {}, "rows": []}
    try:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=5.0)
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'rehearsals'").fetchone():
                return {"pairs": {}, "rows": []}
            store = Rehearsals.__new__(Rehearsals)
            store.conn, store.path = conn, Path(path)
            return store.preferences()
        finally:
            conn.close()
    except sqlite3.Error:  # a damaged or locked file: plan by the rules, as before any rehearsal
        return {"pairs": {}, "rows": []}


def preferred(prefs: Mapping[str, Any], out_path: str | None, in_path: str | None, key_steps: float | None,
              tempo_gap: float | None, available: Iterable[str]) -> tuple[str, str] | None:
    """(template, why) from rehearsal: the pair's own best, else the best mean over pairs like it."""
    names = set(available)
    best = (prefs.get("pairs") or {}).get((out_path, in_path))
    if best is not None and best[0] in names:
        return best[0], f"rehearsed: '{best[0]}' scored best for this pair ({best[1]:.0f})"
    if key_steps is None or tempo_gap is None:
        return None
    by: dict[str, list[float]] = {}
    for template, score, steps, gap in prefs.get("rows") or []:
        if template in names and abs(steps - key_steps) <= NEAR_STEPS and abs(gap - tempo_gap) <= NEAR_TEMPO:
            by.setdefault(template, []).append(score)
    if not by:
        return None
    name = max(by, key=lambda t: sum(by[t]) / len(by[t]))
    mean = sum(by[name]) / len(by[name])
    return name, f"rehearsed: '{name}' scored best on {len(by[name])} pair(s) like this one ({mean:.0f})"
