"""`copilot db next`: the phrases that would follow this one best, each with the reasons.

The score is a weighted sum of five fits, each about 0..1 and each shown in the breakdown:
- key: Camelot compatibility (same code 1, ±1 or relative 0.8, ±2 0.45, diagonal 0.3, else 0);
- tempo: 1 − (ln ratio / ln 1.06)², so 1 at the same tempo and 0 at ±6 % (beyond is filtered out);
- energy: 1 − ((energy − target) / 0.5)², the target being where the set's energy arc goes next;
- similarity: cosine of the timbre/rhythm embeddings;
- entry: how well the phrase's role suits mixing in (intro 1, build 0.7, break 0.6, main 0.5 …).
The index (see index.py) ranks by exactly this sum; the breakdown recomputes each term.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import index as ix
from .constants import EMBED_DIM, LABELS
from .keys import COMPAT, Key, camelot_distance
from .store import PhraseTable, Store, TrackRecord

ENTRY_FIT = {"intro": 1.0, "build": 0.7, "break": 0.6, "main": 0.5, "drop": 0.4, "outro": 0.0}
ARCS = {"hold": 0.0, "up": 0.1, "down": -0.1}  # energy step per transition; "peak" aims at 0.95
TEMPO_LIMIT = 0.06
# For each key: the other keys grouped by compatibility, best first, as (level, key indices).
_LEVELS = [[(float(level), np.nonzero(COMPAT[k] == level)[0])
            for level in sorted(set(COMPAT[k].tolist()), reverse=True)] for k in range(24)]


@dataclass(frozen=True)
class Weights:
    key: float = 0.30
    tempo: float = 0.25
    energy: float = 0.20
    similarity: float = 0.15
    entry: float = 0.10

    def to_dict(self) -> dict[str, float]:
        return {"key": self.key, "tempo": self.tempo, "energy": self.energy, "similarity": self.similarity,
                "entry": self.entry}


class UnknownSource(LookupError):
    """The --from track or phrase is not in the database; the message says what is."""


@dataclass
class Source:
    row: int  # row in the phrase table
    track: TrackRecord
    phrase_index: int


@dataclass
class Planner:
    """Holds the phrase table and its index in memory: one `next()` is a few faiss list scans."""

    store: Store
    kind: str = "auto"
    table: PhraseTable = field(init=False)
    index: ix.PhraseIndex = field(init=False)
    tracks: dict[int, TrackRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.index, self.table = ix.open_index(self.store, kind=self.kind)
        self.tracks = {t.id: t for t in self.store.tracks(with_phrases=True)}
        self._entry = np.array([ENTRY_FIT[label] for label in LABELS], np.float32)

    @classmethod
    def from_table(cls, table: PhraseTable, tracks: dict[int, TrackRecord] | None = None,
                   kind: str = "auto") -> Planner:
        """A planner over an in-memory table (benchmarks, tests): no database needed."""
        self = cls.__new__(cls)
        self.store = None  # type: ignore[assignment]
        self.kind = kind
        self.table = table
        self.index = ix.build(ix.phrase_vectors(table), table.generation, kind, table.key)
        self.tracks = tracks or {}
        self._entry = np.array([ENTRY_FIT[label] for label in LABELS], np.float32)
        return self

    # -- resolving "TRACK[@PHRASE]" ---------------------------------------------------------------------
    def resolve(self, spec: str) -> Source:
        """'12', 'Dubby Roller', '/path/x.flac', 'dubby@outro', 'Dubby Roller@3' → a phrase to leave from."""
        text, _, phrase = spec.rpartition("@") if "@" in spec else (spec, "", "")
        track = self._find_track(text.strip())
        rows = np.nonzero(self.table.track_ids == track.id)[0]
        if len(rows) == 0:
            raise UnknownSource(f"'{track.title}' has no phrases (was it analysed?)")
        indices = self.table.index[rows]
        labels = [LABELS[i] for i in self.table.label[rows]]
        phrase = phrase.strip().lower()
        if not phrase:
            pick = len(rows) - 1  # leaving a track: from its last phrase
        elif phrase.isdigit():
            hits = np.nonzero(indices == int(phrase))[0]
            if len(hits) == 0:
                raise UnknownSource(f"'{track.title}' has phrases 0..{int(indices.max())}, not {phrase}")
            pick = int(hits[0])
        elif phrase in LABELS:
            hits = [i for i, label in enumerate(labels) if label == phrase]
            if not hits:
                raise UnknownSource(f"'{track.title}' has no {phrase}; it has {', '.join(dict.fromkeys(labels))}")
            pick = hits[-1] if phrase == "outro" else hits[0]
        else:
            raise UnknownSource(f"'@{phrase}': give a phrase number or one of {', '.join(LABELS)}")
        return Source(int(rows[pick]), track, int(indices[pick]))

    def _find_track(self, text: str) -> TrackRecord:
        if not text:
            raise UnknownSource("say which track: --from 'TITLE' or --from ID (see `copilot db tracks`)")
        if text.isdigit() and int(text) in self.tracks:
            return self.tracks[int(text)]
        for t in self.tracks.values():
            if t.path == text or t.path.endswith("/" + text) or t.title.lower() == text.lower():
                return t
        from .query import search_tracks

        hits = search_tracks(list(self.tracks.values()), text, limit=1)
        if not hits:
            raise UnknownSource(f"no analysed track matches '{text}'")
        return hits[0].track

    # -- planning ---------------------------------------------------------------------------------------
    def target_energy(self, row: int, arc: str | float = "up") -> float:
        e = float(self.table.energy[row])
        if isinstance(arc, int | float) or re.fullmatch(r"[0-9.]+", str(arc)):
            return float(np.clip(float(arc), 0.0, 1.0))
        if arc == "peak":
            return 0.95
        if arc not in ARCS:
            raise ValueError(f"arc must be one of hold, up, down, peak or a number 0..1, not {arc!r}")
        return float(np.clip(e + ARCS[arc], 0.0, 1.0))

    def query(self, row: int, target: float, w: Weights) -> tuple[np.ndarray, float]:
        """The query vector for leaving phrase `row`, and the constant that completes the score."""
        t = self.table
        q = np.zeros(ix.DIM, np.float32)
        q[:EMBED_DIM] = w.similarity * t.embedding[row]
        q[ix.KEY_AT : ix.KEY_AT + 24] = w.key * COMPAT[int(t.key[row])]
        u = float(ix.tempo_units(t.bpm[row]))
        s = ix.ENERGY_SCALE
        q[ix.TEMPO_AT] = 2.0 * w.tempo * u
        q[ix.TEMPO_AT + 1] = -w.tempo
        q[ix.ENERGY_AT] = 2.0 * w.energy * target / s**2
        q[ix.ENERGY_AT + 1] = -w.energy / s**2
        q[ix.LABEL_AT :] = w.entry * self._entry
        const = w.tempo * (1.0 - u * u) + w.energy * (1.0 - target * target / s**2)
        return q, const

    def allowed(self, row: int, rows: np.ndarray, same_track: bool = False) -> np.ndarray:
        t = self.table
        ratio = np.abs(np.log(np.maximum(t.bpm[rows], 1e-3) / max(float(t.bpm[row]), 1e-3)))
        ok = (ratio <= math.log1p(TEMPO_LIMIT)) & (t.bpm[rows] > 0)
        if not same_track:
            ok &= t.track_ids[rows] != t.track_ids[row]
        return ok

    def rank(self, row: int, k: int = 10, target: float | None = None, weights: Weights | None = None,
             same_track: bool = False, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best next phrases (faiss; `exact` = brute force over every phrase)."""
        w = weights or Weights()
        target = self.target_energy(row) if target is None else target
        q, const = self.query(row, target, w)
        n = len(self.table)
        if exact or n <= 4 * k:
            return self._exact(row, q, const, k, same_track)
        if self.index.kind == "keys":
            return self._by_key_level(row, q, const, k, w, same_track)
        want = 4 * k
        while True:
            scores, rows = self.index.search(q, min(n, want))
            found = rows >= 0
            exhausted = found.sum() < min(n, want)
            scores, rows = scores[found] + const, rows[found]
            ok = self.allowed(row, rows, same_track)
            if ok.sum() >= k or exhausted or want >= n:
                return rows[ok][:k], scores[ok][:k]
            if want >= 1024:  # the filter removes most of the library: an exact pass is cheaper
                return self._exact(row, q, const, k, same_track)
            want *= 4

    def _by_key_level(self, row: int, q: np.ndarray, const: float, k: int, w: Weights,
                      same_track: bool) -> tuple[np.ndarray, np.ndarray]:
        """Scan the per-key lists best-compatibility first; stop when nothing left can get in."""
        levels = _LEVELS[int(self.table.key[row])]
        rest = w.similarity + w.tempo + w.energy + w.entry * float(self._entry.max())  # all but key
        got_rows: list[np.ndarray] = []
        got_scores: list[np.ndarray] = []
        kth = -np.inf
        for i, (level, keys) in enumerate(levels):
            want = 4 * k
            while True:  # this level's k best allowed phrases (deeper ones cannot make the top k)
                scores, rows = self.index.search(q, want, keys)
                found = rows >= 0
                scores, rows = scores[found] + const + w.key * level, rows[found]
                ok = self.allowed(row, rows, same_track)
                if ok.sum() >= k or found.sum() < want or want >= len(self.table):
                    break
                want *= 4
            got_rows.append(rows[ok][:k])
            got_scores.append(scores[ok][:k])
            merged = np.concatenate(got_scores)
            if len(merged) >= k:
                kth = float(np.partition(merged, len(merged) - k)[len(merged) - k])
            following = levels[i + 1][0] if i + 1 < len(levels) else None
            if following is None or kth >= w.key * following + rest:
                break
        rows, scores = np.concatenate(got_rows), np.concatenate(got_scores)
        best = np.argsort(-scores, kind="stable")[:k]
        return rows[best], scores[best]

    def _exact(self, row: int, q: np.ndarray, const: float, k: int, same_track: bool) -> tuple[np.ndarray, np.ndarray]:
        vectors = self._vectors()
        scores = vectors @ q + const
        ok = self.allowed(row, np.arange(len(scores)), same_track)
        scores = np.where(ok, scores, -np.inf)
        k = min(k, int(ok.sum()))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top]

    def _vectors(self) -> np.ndarray:
        cached = getattr(self, "_vec_cache", None)
        if cached is None or cached[0] != self.table.generation or len(cached[1]) != len(self.table):
            cached = (self.table.generation, ix.phrase_vectors(self.table))
            self._vec_cache = cached
        return cached[1]

    def next(self, spec: str, k: int = 10, arc: str | float = "up", weights: Weights | None = None,
             same_track: bool = False, exact: bool = False) -> dict[str, Any]:
        """The JSON answer of `copilot db next --from SPEC`."""
        src = self.resolve(spec)
        w = weights or Weights()
        target = self.target_energy(src.row, arc)
        rows, scores = self.rank(src.row, k, target, w, same_track, exact)
        return {
            "from": {**self._phrase_dict(src.row), "target_energy": round(target, 3)},
            "weights": w.to_dict(), "index": self.index.kind, "count": len(self.table),
            "candidates": [{"rank": i + 1, "score": round(float(s), 4), **self._phrase_dict(int(r)),
                            "breakdown": self.breakdown(src.row, int(r), target, w)}
                           for i, (r, s) in enumerate(zip(rows, scores, strict=True))],
        }

    def breakdown(self, a: int, b: int, target: float, w: Weights) -> dict[str, Any]:
        """Each term of the score for moving from row a to row b, with the facts behind it."""
        t = self.table
        ka, kb = Key.from_index(int(t.key[a])), Key.from_index(int(t.key[b]))
        ratio = float(t.bpm[b] / t.bpm[a])
        tempo_fit = 1.0 - (math.log(ratio) / ix.TEMPO_SCALE) ** 2
        energy_fit = 1.0 - ((float(t.energy[b]) - target) / ix.ENERGY_SCALE) ** 2
        cosine = float(np.dot(t.embedding[a], t.embedding[b]))
        label = LABELS[int(t.label[b])]
        terms = {
            "key": {"from": ka.camelot, "to": kb.camelot, "camelot_distance": camelot_distance(ka, kb),
                    "fit": float(COMPAT[ka.index, kb.index])},
            "tempo": {"from": round(float(t.bpm[a]), 3), "to": round(float(t.bpm[b]), 3),
                      "percent": round(100 * (ratio - 1), 2), "fit": tempo_fit},
            "energy": {"from": round(float(t.energy[a]), 3), "target": round(target, 3),
                       "to": round(float(t.energy[b]), 3), "fit": energy_fit},
            "similarity": {"cosine": round(cosine, 4), "fit": cosine},
            "entry": {"label": label, "fit": ENTRY_FIT[label]},
        }
        for name, term in terms.items():
            weight = getattr(w, name)
            term["weight"] = weight
            term["points"] = round(weight * term["fit"], 4)
            term["fit"] = round(term["fit"], 4)
        terms["why"] = (f"{kb.camelot} after {ka.camelot} (distance {terms['key']['camelot_distance']}), "
                        f"tempo {terms['tempo']['percent']:+.1f} %, energy {t.energy[b]:.2f} for target {target:.2f}, "
                        f"{label} phrase, timbre/rhythm similarity {cosine:.2f}")
        return terms

    def _phrase_dict(self, row: int) -> dict[str, Any]:
        t = self.table
        track = self.tracks.get(int(t.track_ids[row]))
        out: dict[str, Any] = {
            "phrase_id": int(t.ids[row]), "phrase": int(t.index[row]), "label": LABELS[int(t.label[row])],
            "energy": round(float(t.energy[row]), 3), "bpm": round(float(t.bpm[row]), 3),
            "key": Key.from_index(int(t.key[row])).name, "camelot": Key.from_index(int(t.key[row])).camelot,
            "track_id": int(t.track_ids[row]),
        }
        if track is not None:
            out.update({"title": track.title, "artist": track.artist, "path": track.path})
            ph = next((p for p in track.phrases if p.id == int(t.ids[row])), None)
            if ph is not None:
                out.update({"start": round(ph.start, 3), "start_bar": ph.start_bar, "bars": ph.bars})
        return out
