"""`copilot db query "dubby 118"`: words over titles, artists and tags; numbers and keys as hints.

A query is what a performer says: a couple of words, maybe a tempo ("118"), maybe a key ("8A",
"A minor", "Am"). Words match whole tokens best, then prefixes either way ("dub" ↔ "dubby"); a
number between 60 and 200 that is not in a title is a tempo hint (closer is better, ±4 % counts);
a key is a hint scored by Camelot compatibility. Explicit filters (tempo range, key) narrow first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .keys import Key, compatibility
from .store import TrackRecord

FIELD_WEIGHTS = (("title", 3.0), ("artist", 2.0), ("tags", 2.0), ("genre", 1.5), ("album", 1.0), ("file", 1.0))
TEMPO_WEIGHT = 2.5
KEY_WEIGHT = 1.5
_KEY_WORDS = re.compile(r"^(?:(1[0-2]|[1-9])[abAB]|[a-gA-G][#b]?m?|[a-gA-G][#b]?\s+(?:major|minor|maj|min))$")


@dataclass
class Hit:
    track: TrackRecord
    score: float
    why: list[str]

    def to_dict(self) -> dict[str, Any]:
        t = self.track
        return {"score": round(self.score, 3), "why": "; ".join(self.why), "id": t.id, "path": t.path,
                "title": t.title, "artist": t.artist, "bpm": None if t.bpm is None else round(t.bpm, 3),
                "key": t.key.name if t.key else None, "camelot": t.key.camelot if t.key else None,
                "tags": list(t.tags)}


@dataclass
class ParsedQuery:
    words: list[str]
    tempo: float | None
    key: Key | None


def parse(text: str) -> ParsedQuery:
    """Split a spoken query into words, a tempo hint and a key hint."""
    text = text.strip()
    key = None
    m = re.search(r"\b([a-gA-G][#b]?)\s+(major|minor|maj|min)\b", text)
    if m:
        key = Key.parse(m.group(0))
        text = text[: m.start()] + " " + text[m.end():]
    words, tempo = [], None
    for raw in re.findall(r"[\w#.]+", text.lower()):
        if re.fullmatch(r"\d{2,3}(?:\.\d+)?", raw) and 60 <= float(raw) <= 200 and tempo is None:
            tempo = float(raw)
            continue
        if key is None and re.fullmatch(r"(1[0-2]|[1-9])[ab]", raw):
            key = Key.parse(raw)
            continue
        if len(raw) >= 2 or raw.isdigit():  # "tiny 3": a lone digit is part of a title
            words.append(raw)
    return ParsedQuery(words, tempo, key)


def _tokens(track: TrackRecord) -> dict[str, list[str]]:
    split = lambda s: [w for w in re.findall(r"[\w#]+", s.lower()) if len(w) >= 2 or w.isdigit()]  # noqa: E731
    return {"title": split(track.title), "artist": split(track.artist), "tags": [t.lower() for t in track.tags],
            "genre": split(track.genre), "album": split(track.album), "file": split(Path(track.path).stem)}


def _word_score(word: str, tokens: list[str]) -> float:
    best = 0.0
    for tok in tokens:
        if tok == word:
            return 1.0
        if len(word) >= 3 and tok.startswith(word):
            best = max(best, 0.8)
        elif len(tok) >= 3 and word.startswith(tok):
            best = max(best, 0.6)
    return best


def search_tracks(tracks: Sequence[TrackRecord], text: str, bpm: tuple[float, float] | None = None,
                  key: Key | None = None, compatible: bool = False, limit: int = 10) -> list[Hit]:
    """Tracks ranked for a query; filters: `bpm` (lo, hi) range, `key` exact (or `compatible` with it)."""
    q = parse(text)
    hits: list[Hit] = []
    for t in tracks:
        if t.status != "ok":
            continue
        if bpm is not None and (t.bpm is None or not bpm[0] <= t.bpm <= bpm[1]):
            continue
        if key is not None and (t.key is None or (compatibility(key, t.key) < 0.8 if compatible else t.key != key)):
            continue
        fields = _tokens(t)
        score, why = 0.0, []
        matched_all = True
        for word in q.words:
            best, where = 0.0, ""
            for name, weight in FIELD_WEIGHTS:
                s = _word_score(word, fields[name]) * weight
                if s > best:
                    best, where = s, name
            if best > 0:
                score += best
                why.append(f"'{word}' in {where}")
            else:
                matched_all = False
        if q.words and score == 0:
            continue
        if q.tempo is not None and t.bpm:
            closeness = 1.0 - abs(math.log(t.bpm / q.tempo)) / 0.04
            if closeness > 0:
                score += TEMPO_WEIGHT * closeness
                why.append(f"{t.bpm:.1f} BPM near {q.tempo:g}")
            elif not q.words:
                continue
        if q.key is not None and t.key is not None:
            fit = compatibility(q.key, t.key)
            if fit > 0:
                score += KEY_WEIGHT * fit
                why.append(f"{t.key.camelot} fits {q.key.camelot}")
        if matched_all and q.words:
            score += 0.5  # every word found somewhere
        if score > 0 or not (q.words or q.tempo or q.key):
            hits.append(Hit(t, score, why))
    hits.sort(key=lambda h: (-h.score, h.track.path))
    return hits[:limit]


def parse_bpm_range(text: str | None) -> tuple[float, float] | None:
    """'120-126' → (120, 126); '124' → ±2 %."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:-|\.\.|to)\s*(\d+(?:\.\d+)?)\s*", text)
    if m:
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        return lo, hi
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"tempo filter {text!r}: give 124 or 120-126") from None
    return v * 0.98, v * 1.02
