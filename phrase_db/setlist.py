"""A whole set in order: which track follows which, so every step mixes well and the energy tells a story.

The autopilot plans the crate once, before the first track. A step more than one Camelot step or 6 %
of tempo apart is a *violation*; the tracks and the steps without one form a graph, and a clean set
is a path through all of it. So first a depth-first search for such a path (Warnsdorff's rule: go
where the fewest onward steps are left, calm tracks first; give up on a branch whose remaining tracks
fall apart or leave more than one dead end; a budget of expansions), then the set's energy arc
improved by reversing stretches of it wherever both new joins stay clean. When the crate allows no
clean path (or the budget runs out), a beam search scores every step with the phrase DB's own terms
(planner.py: Camelot compatibility, tempo ratio, energy against the arc) and keeps the orders with
the fewest violations, so a clash comes where it costs least. Large libraries are not ordered whole:
there the mixer's `choose_next` picks one track at a time. The tests and bench/mix_planner.py measure
it against crate order and random orders.

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
BUDGET = 250  # depth-first expansions per track before the clean-path search gives up
MOVE_CHECK = 48  # the arc is also improved by moving tracks (not only reversing stretches) up to this size
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

    @staticmethod
    def _dead_ends(ok: np.ndarray, free: np.ndarray) -> np.ndarray:
        """For each candidate next track j (the path's new end): how surely the tracks still to play can no
        longer all be mixed — one with no compatible track left at all, or more than one with a single
        one (each of those can only end the set). Zero while a clean order may still exist."""
        idx = np.flatnonzero(free)
        out = np.zeros(len(free))
        if len(idx) <= 2:
            return out
        sub = ok[np.ix_(idx, idx)]
        degree = sub.sum(axis=1) - np.diag(sub)
        zeros, ones = degree == 0, degree == 1
        out[idx] = (zeros.sum() - zeros) + np.maximum(0, ones.sum() - ones - 1)
        return out

    def order(self, first: MixTrack | None = None) -> list[MixTrack]:
        """A clean order if one is found (its arc improved), else the fewest violations, then the best fit."""
        if self.n == 0:
            return list(self.unknown)
        path = self.clean_path(first)
        if path is None:
            path = self._beam(first)
        path = self._improve_arc(path, fixed_first=first is not None)
        return [self.tracks[i] for i in path] + list(self.unknown)

    def clean_path(self, first: MixTrack | None = None, budget: int | None = None) -> list[int] | None:
        """A path through every track with no violation (depth-first, Warnsdorff), or None. Sets of tracks
        are bit masks (a crate is at most MAX_WHOLE tracks): one expansion costs microseconds."""
        n = self.n
        ok = self.ok | self.ok.T
        adj = [sum(1 << int(j) for j in np.flatnonzero(ok[i]) if j != i) for i in range(n)]
        degree = [a.bit_count() for a in adj]
        if first in self.tracks:
            starts = [self.tracks.index(first)]
        else:  # few neighbours and calm tracks first (a hopeless start is given up at once)
            starts = sorted(range(n), key=lambda i: (degree[i], self.energy[i]))
        left = [BUDGET * n if budget is None else budget]
        everyone = (1 << n) - 1
        for s in starts:
            path = [s]
            if self._extend(adj, everyone & ~(1 << s), path, left):
                return path
            if left[0] <= 0:
                break
        return None

    def _extend(self, adj: list[int], free: int, path: list[int], left: list[int]) -> bool:
        if not free:
            return True
        left[0] -= 1
        end = path[-1]
        if left[0] <= 0 or not _hopeful(adj, free, end):
            return False
        target = arc(len(path) / max(1, self.n - 1))
        options = [j for j in _bits(adj[end] & free)]
        options.sort(key=lambda j: ((adj[j] & free).bit_count(), abs(self.energy[j] - target)))
        for j in options:
            path.append(j)
            if self._extend(adj, free & ~(1 << j), path, left):
                return True
            path.pop()
            if left[0] <= 0:
                return False
        return False

    def _improve_arc(self, path: list[int], fixed_first: bool = False, passes: int = 6) -> list[int]:
        """Move the tracks of an order toward the set's energy arc — reverse a stretch, or move one to three
        tracks elsewhere — wherever no join gets worse (a clean join stays clean)."""
        ok = self.ok | self.ok.T
        n = len(path)
        targets = np.array([arc(i / max(1, n - 1)) for i in range(n)])

        def error(order: list[int]) -> float:
            return float(np.abs(self.energy[order] - targets).sum())

        def joins(order: list[int]) -> int:
            return int(sum(ok[a, b] for a, b in itertools.pairwise(order)))

        best, best_err, best_joins = list(path), error(path), joins(path)
        lo = 1 if fixed_first else 0
        for _ in range(passes):
            improved = False
            for a in range(lo, n - 1):
                for b in range(a + 1, n):
                    moves = [best[:a] + best[a:b + 1][::-1] + best[b + 1:]]  # reverse a stretch
                    if b - a < 3 and n <= MOVE_CHECK:  # move a short stretch elsewhere
                        seg, rest = best[a:b + 1], best[:a] + best[b + 1:]
                        moves += [rest[:c] + seg + rest[c:] for c in range(lo, len(rest) + 1) if c != a]
                    for cand in moves:
                        err = error(cand)
                        if err < best_err - 1e-9 and joins(cand) >= best_joins:
                            best, best_err, improved = cand, err, True
                            break
            if not improved:
                break
        return best

    def _beam(self, first: MixTrack | None) -> list[int]:
        """The orders with the fewest violations, then the highest total fit (beam search)."""
        n = self.n
        starts = [self.tracks.index(first)] if first in self.tracks else list(range(n))
        e0 = self._energy_fit(0)
        ok = self.ok | self.ok.T
        dead0 = self._dead_ends(ok, np.ones(n, bool))  # a set that starts mid-chain cannot end cleanly
        # a beam entry: (violations, -score, order) — lower is better on both
        beams = sorted(((0, -float(e0[i]), (i,)) for i in starts), key=lambda b: (dead0[b[2][0]], b[1]))[: self.beam]
        for pos in range(1, n):
            last = np.array([b[2][-1] for b in beams])
            bad = np.array([b[0] for b in beams], np.float64)[:, None] + ~self.ok[last]
            neg = (np.array([b[1] for b in beams])[:, None] - self.fit[last] - self._energy_fit(pos)[None, :]
                   + VIOLATION * ~self.ok[last])
            dead = np.zeros_like(bad)
            for row, b in enumerate(beams):
                bad[row, list(b[2])] = np.inf  # a track plays once
                free = np.ones(n, bool)
                free[list(b[2])] = False
                dead[row] = self._dead_ends(ok, free)
            ranked = np.lexsort((neg.ravel(), (bad + dead).ravel()))
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
        return list(beams[0][2])


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _hopeful(adj: list[int], free: int, end: int) -> bool:
    """Can the tracks in `free` still all be played, one clean step at a time, after `end`? Not if some
    cannot be reached, if they fall into separate groups, or if more than one could only close the set."""
    closing = 0
    for i in _bits(free):
        links = (adj[i] & free).bit_count() + ((adj[end] >> i) & 1)
        if links == 0:
            return False
        if links == 1:
            closing += 1
            if closing > 1:
                return False
    first = free & -free
    reached, frontier = first, first
    while frontier:
        grown = 0
        for i in _bits(frontier):
            grown |= adj[i]
        frontier = grown & free & ~reached
        reached |= frontier
    return reached == free


def plan_set(tracks: Sequence[MixTrack], first: MixTrack | None = None) -> list[MixTrack]:
    """The crate in the order to play it (small crates ordered whole; large ones keep their order and are
    mixed one `choose_next` at a time)."""
    if len(tracks) > MAX_WHOLE:
        return list(tracks)
    return SetPlanner(tracks).order(first)
