"""A whole set in order: which track follows which, so every step mixes well and the energy tells a story.

The autopilot plans the crate once, before the first track: a beam search over orders, scoring every
step with the phrase DB's own terms (planner.py) — Camelot compatibility, tempo ratio, energy against
where the set's arc wants to be — between the phrase a track leaves on (its last) and the phrase the
next one enters on (its first). A step more than one Camelot step or 6 % of tempo apart is a
*violation*; the search keeps the orders with the fewest violations first, so wherever the crate
allows an order without any, that is the one it finds (the tests and bench/mix_planner.py check it),
and where it does not, the clash comes where it costs least. Large libraries are not ordered whole:
there the mixer's `choose_next` picks one track at a time.

The arc: a set warms up, peaks around two thirds of the way, and lands a little lower (`arc`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .keys import COMPAT, camelot_distance
from .mixlib import MixTrack
from .planner import TEMPO_LIMIT, Weights

BEAM = 48
MAX_WHOLE = 96  # crates up to this size are ordered whole
VIOLATION = 10.0  # one step out of key or tempo range outweighs any amount of fit


def arc(x: float) -> float:
    """The energy a set aims for at `x` (0 = the first track, 1 = the last): 0.45 rising to 0.9 at two
    thirds, easing to 0.7 at the end."""
    if x <= 2 / 3:
        return 0.45 + 0.45 * math.sin(0.5 * math.pi * x / (2 / 3))
    return 0.9 - 0.2 * (x - 2 / 3) / (1 / 3)


@dataclass(frozen=True)
class Stats:
    """How well an order mixes."""

    steps: int
    mean_key_distance: float
    key_clashes: int  # steps more than one Camelot step apart
    tempo_jumps: int  # steps more than 6 % apart
    mean_tempo_change: float  # percent, absolute
    arc_error: float  # mean |energy − arc| over the set
    good_steps: int  # steps within one Camelot step and 6 %

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def energy_of(track: MixTrack) -> float:
    """A track's energy as a set sees it: the mean over its phrases (0.5 when unknown)."""
    if not track.phrases:
        return 0.5
    total = sum(p.bars for p in track.phrases)
    return sum(p.energy * p.bars for p in track.phrases) / max(1, total)


def step_ok(a: MixTrack, b: MixTrack) -> bool:
    if a.key is None or b.key is None or not a.bpm or not b.bpm:
        return False
    return camelot_distance(a.key, b.key) <= 1 and abs(math.log(b.bpm / a.bpm)) <= math.log1p(TEMPO_LIMIT)


def stats(order: Sequence[MixTrack]) -> Stats:
    n = len(order)
    dists, changes, jumps, clashes, good = [], [], 0, 0, 0
    for a, b in itertools.pairwise(order):
        d = camelot_distance(a.key, b.key) if a.key and b.key else 6
        dists.append(d)
        clashes += d > 1
        change = 100 * abs(b.bpm / a.bpm - 1) if a.bpm and b.bpm else 100.0
        changes.append(change)
        jumps += change > 100 * TEMPO_LIMIT
        good += step_ok(a, b)
    err = [abs(energy_of(t) - arc(i / max(1, n - 1))) for i, t in enumerate(order)]
    return Stats(max(0, n - 1), sum(dists) / max(1, len(dists)), clashes, jumps,
                 sum(changes) / max(1, len(changes)), sum(err) / max(1, n), good)


class SetPlanner:
    """Orders a crate (see the module docstring)."""

    def __init__(self, tracks: Sequence[MixTrack], weights: Weights | None = None, beam: int = BEAM) -> None:
        self.tracks = [t for t in tracks if t.key is not None and t.bpm]
        self.unknown = [t for t in tracks if t.key is None or not t.bpm]  # played last, in crate order
        self.w = weights or Weights()
        self.beam = beam
        self.n = len(self.tracks)
        keys = np.array([t.key.index for t in self.tracks], np.int64)  # type: ignore[union-attr]
        u = np.log(np.array([t.bpm for t in self.tracks], np.float64)) / 0.06
        du = u[None, :] - u[:, None]
        self.fit = self.w.key * COMPAT[keys[:, None], keys[None, :]] + self.w.tempo * (1.0 - du * du)
        self.ok = np.array([[step_ok(a, b) for b in self.tracks] for a in self.tracks], bool)
        self.energy = np.array([energy_of(t) for t in self.tracks])

    def _energy_fit(self, pos: int) -> np.ndarray:
        target = arc(pos / max(1, self.n - 1))
        return self.w.energy * (1.0 - ((self.energy - target) / 0.5) ** 2)

    def order(self, first: MixTrack | None = None) -> list[MixTrack]:
        """The best order found: fewest violations, then the highest total fit."""
        n = self.n
        if n == 0:
            return list(self.unknown)
        starts = [self.tracks.index(first)] if first in self.tracks else list(range(n))
        e0 = self._energy_fit(0)
        # a beam entry: (violations, -score, order) — lower is better on both
        beams = sorted(((0, -float(e0[i]), (i,)) for i in starts), key=lambda b: (b[0], b[1]))[: self.beam]
        for pos in range(1, n):
            last = np.array([b[2][-1] for b in beams])
            bad = np.array([b[0] for b in beams], np.float64)[:, None] + ~self.ok[last]
            neg = (np.array([b[1] for b in beams])[:, None] - self.fit[last] - self._energy_fit(pos)[None, :]
                   + VIOLATION * ~self.ok[last])
            for row, b in enumerate(beams):
                bad[row, list(b[2])] = np.inf  # a track plays once
            ranked = np.lexsort((neg.ravel(), bad.ravel()))
            seen: set[tuple[int, frozenset[int]]] = set()
            grown = []
            for flat in ranked:  # one entry per (last track, tracks used): the others cannot do better
                row, j = divmod(int(flat), n)
                if not np.isfinite(bad[row, j]):
                    break
                order = (*beams[row][2], j)
                key = (j, frozenset(order))
                if key in seen:
                    continue
                seen.add(key)
                grown.append((int(bad[row, j]), float(neg[row, j]), order))
                if len(grown) >= self.beam:
                    break
            beams = grown
        best = beams[0][2]
        return [self.tracks[i] for i in best] + list(self.unknown)


def plan_set(tracks: Sequence[MixTrack], first: MixTrack | None = None) -> list[MixTrack]:
    """The crate in the order to play it (small crates ordered whole; large ones keep their order and are
    mixed one `choose_next` at a time)."""
    if len(tracks) > MAX_WHOLE:
        return list(tracks)
    return SetPlanner(tracks).order(first)
