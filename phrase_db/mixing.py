"""Planning a mix: which track comes next, which transition, on which phrase lines.

The session asks `Mixer.plan(intent, view)` before a TRANSITION ("bass swap into B in 16", "mix into
B") or a NEXT ("next track") is decided, on its library worker. The answer is a
`bridge.transition.TransitionPlan` — or a sentence saying why there is none:

1. **Decks.** The outgoing deck is the one playing (or the one named); the incoming one is named, or
   the playing deck's partner (A↔B, C↔D).
2. **Track.** NEXT, or an incoming deck with nothing on it, asks the next-phrase planner (planner.py:
   Camelot distance, tempo ratio, energy arc, timbre similarity, entry role) from the phrase the
   outgoing track is in, skipping tracks already played, on a deck, unplayable, or not matching the
   words given ("mix in something dubby"); the plan then loads it first. Hosts start a track where it
   was loaded, so for them only a track's first phrase can be an entry; the built-in engine can start
   on any phrase (the LOAD's cue).
3. **Template.** The one named, else chosen from the pair's facts (`choose_template`): a key clash
   echoes out, drop into drop is a double drop, a tempo gap filters (on a host: the built-in engine
   plays every deck at the clock's tempo), energy swaps basses, calm blends — and a learned template
   whose context is close to this pair beats them all.
4. **Phrase lines.** The start is the first phrase line of the outgoing track (its analysed phrases,
   or 32-beat blocks from its first beat without analysis, or the clock's own 32-beat grid when the
   deck was started by hand) at or after the soonest moment (and the intent's `at_beat`); if the
   incoming deck already plays, a line both tracks share. Without a length from the performer the
   template's bars stretch to the outgoing track's next phrase line near its end; the transition never
   runs past the outgoing track's end.
5. **Key.** With key shift on the target (the built-in engine), a pair more than one Camelot step apart
   that a shift of one or two semitones brings within one step gets that shift on the incoming deck.

Everything here is computation on data in memory (the library is read once, in `warm_up`), so a
decision takes about a millisecond at 10,000 tracks (bench/mix_planner.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from copilot.bridge.envelope import Breakpoint, Curve, Envelope
from copilot.bridge.transition import MixView, Step, TransitionPlan, silent_at_end
from copilot.intents.schema import Deck, Intent, IntentKind

from .constants import LABELS
from .keys import Key, camelot_distance
from .loader import truth_records
from .mixlib import FALLBACK, MixLibrary, MixTrack
from .planner import ENTRY_FIT, Weights
from .rehearsals import load_preferences, preferred
from .store import PhraseRecord, default_db_path
from .transitions import Template, TemplateError, realize, template, templates

BLOCK = 32.0  # beats: the phrase when nothing better is known
LOAD_LEAD = 8.0  # beats between loading the incoming track and starting it (decoding, key-lock stretches)
LINES_AHEAD = 16  # phrase lines looked at for a start
CANDIDATES = 16  # ranked phrases looked at before a full scan
MAX_SHIFT = 2  # semitones the planner may shift the incoming track to meet the outgoing key
LEARNED_NEAR = 0.35  # how close a learned template's context must be to this pair to be chosen
PREPARE = 1.0  # beats: the incoming deck's levels (and the crossfader) are set this long before it starts


@dataclass(frozen=True)
class Grid:
    """A track's phrase lines in its own beats (from its first beat), and its length if known."""

    lines: tuple[float, ...]
    end: float | None
    known: bool  # from analysis or a sidecar (False: 32-beat blocks)

    def clock_lines(self, anchor: float | None, start: float, count: int, block: float) -> list[float]:
        """The next `count` phrase lines at or after clock beat `start`; the clock's own blocks when the
        track's place on the clock is not known."""
        if anchor is None:
            first = math.ceil(start / block - 1e-9) * block
            return [first + k * block for k in range(count)]
        out = [anchor + b for b in self.lines if anchor + b >= start - 1e-9]
        if not self.known or self.end is None:
            last = out[-1] if out else math.ceil((start - anchor) / block - 1e-9) * block + anchor - block
            while len(out) < count:
                last += block
                if self.end is not None and last - anchor > self.end + 1e-9:
                    break
                out.append(last)
        return out[:count]


def track_grid(track: MixTrack | None, resolved: Mapping[str, Any] | None = None) -> Grid:
    """Phrase lines from the library's record, else from the LOAD's answer, else 32-beat blocks."""
    phrases: list[tuple[int, int]] = []
    if track is not None and track.phrases:
        phrases = [(p.start_bar, p.bars) for p in track.phrases]
    elif resolved and resolved.get("phrases"):
        phrases = [(int(p["start_bar"]), int(p["bars"])) for p in resolved["phrases"]]
    end = track.beats if track is not None else _resolved_beats(resolved)
    if phrases:
        lines = sorted({4.0 * a for a, _ in phrases} | {4.0 * (a + n) for a, n in phrases})
        return Grid(tuple(lines), lines[-1], True)
    n = int(end // BLOCK) if end else 64
    return Grid(tuple(BLOCK * k for k in range(n + 1)), end, False)


def _resolved_beats(resolved: Mapping[str, Any] | None) -> float | None:
    if not resolved:
        return None
    try:
        return (float(resolved["duration"]) - float(resolved.get("first_beat") or 0.0)) * float(resolved["bpm"]) / 60
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Choice:
    """The planner's pick for the next track: where it enters, and the facts behind the pick."""

    track: MixTrack
    entry: PhraseRecord | None
    score: float
    why: str = ""


@dataclass(frozen=True)
class Facts:
    """A pair as the template choice sees it."""

    key_distance: int | None  # Camelot steps, after any key shift
    raw_key_distance: int | None
    key_shift: int
    tempo_percent: float | None
    out_energy: float | None
    in_energy: float | None
    out_label: str | None
    in_label: str | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def ahead(env: Envelope, beat: float) -> Envelope:
    """The envelope with its first value held from `beat` on (the slew limit then gets it there in time)."""
    first = env.points[0]
    if beat >= first.beat:
        return env
    return Envelope(env.param, (Breakpoint(beat, first.value, Curve.HOLD), *env.points), env.deck, env.caps)


def shifted(key: Key, semitones: int) -> Key:
    return Key((key.tonic + semitones) % 12, key.mode)


def key_shift(out_key: Key | None, in_key: Key | None) -> int:
    """The smallest shift (±1, ±2 semitones) that brings `in_key` within one Camelot step of `out_key`
    when it is further away now; 0 when none is needed or none helps."""
    if out_key is None or in_key is None or camelot_distance(out_key, in_key) <= 1:
        return 0
    for s in (1, -1, 2, -2):
        if abs(s) <= MAX_SHIFT and camelot_distance(out_key, shifted(in_key, s)) <= 1:
            return s
    return 0


def context_distance(context: Mapping[str, Any], facts: Facts) -> float:
    """How far a learned template's context is from this pair (0 = the same situation)."""
    d = 0.0
    if context.get("key_distance") is not None and facts.key_distance is not None:
        d += 0.15 * abs(float(context["key_distance"]) - facts.key_distance)
    if context.get("energy_step") is not None and facts.in_energy is not None and facts.out_energy is not None:
        d += abs(float(context["energy_step"]) - (facts.in_energy - facts.out_energy))
    if context.get("tempo_percent") is not None and facts.tempo_percent is not None:
        d += 0.05 * abs(float(context["tempo_percent"]) - facts.tempo_percent)
    for role in ("in_label", "out_label"):
        if context.get(role) and getattr(facts, role) and context[role] != getattr(facts, role):
            d += 0.15
    return d


def choose_template(facts: Facts, available: Mapping[str, Template] | None = None,
                    locked: bool = False) -> tuple[str, str]:
    """(template name, why) for a pair: a learned template made in a situation like this one first, then
    the rules a DJ would follow. `locked`: every deck plays at the clock's tempo (the built-in engine), so
    a tempo gap between the tracks is no reason to keep the overlap short."""
    available = templates() if available is None else available
    near = sorted((context_distance(t.context, facts), name) for name, t in available.items()
                  if t.learned and t.context)
    if near and near[0][0] <= LEARNED_NEAR:
        return near[0][1], f"your own '{near[0][1]}', learned in a mix like this one"
    d = facts.key_distance
    if d is not None and d >= 2:
        return "echo_out", f"keys {d} steps apart: echo out rather than lay them over each other"
    if facts.in_label == "drop" and facts.out_label in ("drop", "main", "build"):
        return "double_drop", "drop into drop: both drops land together"
    if not locked and facts.tempo_percent is not None and abs(facts.tempo_percent) > 3.0:
        return "filter_fade", f"tempi {facts.tempo_percent:+.1f} % apart: a short filtered fade"
    energetic = max(facts.in_energy or 0.0, facts.out_energy or 0.0) >= 0.55
    if energetic:
        return "bass_swap", "both carry energy: swap the basses on the bar line"
    return "blend", "calm phrases: a long blend"


@dataclass
class Mixer:
    """Plans transitions over a library (the phrase database, else the crate folders' sidecars)."""

    db: str | Path | None = None
    folders: list[Path] = field(default_factory=list)  # the performer's crate (--crate), which comes first
    fallback: list[Path] = field(default_factory=list)  # with no crate and no database: the example crate
    library_override: MixLibrary | None = None
    arc: str | float = "up"
    weights: Weights = field(default_factory=Weights)
    unplayable: set[str] = field(default_factory=set)  # paths that failed to load: never picked again
    exact: bool = False  # rank by scanning every phrase (a benchmark's baseline), not the per-key lists
    name: str = "mixer"
    rehearsals: str | Path | None = None  # rehearsal results (default: the phrase database file's own table)
    _library: MixLibrary | None = field(default=None, init=False, repr=False)
    _prefs: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _crate_library: MixLibrary | None = field(default=None, init=False, repr=False)  # know_tracks

    # -- the library ---------------------------------------------------------------------------------
    @property
    def library(self) -> MixLibrary:
        if self.library_override is not None:
            return self.library_override
        if self._crate_library is not None:
            return self._crate_library
        if self._library is None:
            self._library = MixLibrary.open(self.db, self.folders, self.fallback)
        return self._library

    def know_tracks(self, tracks: list[tuple[Path, dict[str, Any]]]) -> bool:
        """The target's own crate, each track with its sidecar truth, as the library when nothing better
        was named (no --crate folder, no analysed database): it knows tracks no folder shows yet (the
        example crate's, written behind the set on a first run). True when it took them."""
        if self.folders or self.library_override is not None or self.library.source != FALLBACK:
            return False
        if {str(p) for p, _ in tracks} <= set(self.library.by_path):
            return False  # every one is on disk already
        # kept apart: a warm-up still reading the folder on a library worker cannot put the old view back
        self._crate_library = MixLibrary.from_records(truth_records([(p, dict(t), {}) for p, t in tracks]),
                                                      FALLBACK)
        return True

    @property
    def preferences(self) -> dict[str, Any]:
        """What rehearsal learned (`copilot rehearse`): best template per pair, scores per pair features."""
        if self._prefs is None:
            own = not self.folders and self.library_override is None  # the library is the phrase database
            path = self.rehearsals or self.db or (default_db_path() if own else None)
            self._prefs = load_preferences(path)
        return self._prefs

    def warm_up(self) -> None:
        """Read the library (and the learned templates, and what rehearsal learned) before the set needs them."""
        _ = self.library
        templates()
        _ = self.preferences

    # -- planning ------------------------------------------------------------------------------------
    def plan(self, intent: Intent, view: MixView) -> TransitionPlan | str:
        """The plan for a TRANSITION or NEXT, or why there is none (one sentence for the performer)."""
        decks = self._decks(intent, view)
        if isinstance(decks, str):
            return decks
        out_deck, in_deck = decks
        out_v, in_v = view.deck(out_deck), view.deck(in_deck)
        lib = self.library
        out_track = lib.find(out_v.track)
        out_grid = track_grid(out_track, out_v.track)
        block = view.quantum * 8
        wants_pick = intent.kind is IntentKind.NEXT or not (in_v.track or in_v.loaded)
        if wants_pick and in_v.playing:
            return f"decks {out_deck} and {in_deck} are both playing: finish that mix (or pause one) first"
        load_beat = math.ceil(view.earliest - 1e-9)
        soonest = max(view.earliest + (LOAD_LEAD if wants_pick else 0.0), intent.at_beat or -math.inf)
        lines = out_grid.clock_lines(out_v.anchor, soonest, LINES_AHEAD, block)
        if not lines:
            return f"deck {out_deck}'s track has no phrase line left to mix on"
        out_row = self._row_at(out_track, out_v.anchor, lines[0])
        in_track: MixTrack | None
        entry: PhraseRecord | None = None
        choice = None
        if wants_pick:
            choice = self.choose_next(out_track, out_row, view, str(intent.args.get("query") or "") or None)
            if choice is None:
                words = f" like '{intent.args['query']}'" if intent.args.get("query") else ""
                return f"no track{words} left to mix in (played, on a deck, or out of tempo range)"
            in_track, entry = choice.track, choice.entry
        else:
            in_track = lib.find(in_v.track)
        in_grid = track_grid(in_track, in_v.track)
        cue = 4.0 * entry.start_bar if entry is not None and view.seek else 0.0
        if not wants_pick and not in_v.playing:
            cue = in_v.position or 0.0
        facts = self._facts(out_track, out_row, in_track, entry, cue, view)
        name = intent.args.get("template")
        if name is None:
            rehearsed = preferred(self.preferences, out_track.path if out_track else None,
                                  in_track.path if in_track else None,
                                  None if facts.raw_key_distance is None else float(facts.raw_key_distance),
                                  None if facts.tempo_percent is None else abs(facts.tempo_percent), templates())
            name, tpl_why = rehearsed or choose_template(facts, locked=view.seek)
        else:
            tpl_why = "as asked"
        try:
            tpl = template(str(name))
        except TemplateError as exc:
            return str(exc)
        placed = self._place(tpl, intent.args.get("bars"), lines, out_grid, out_v.anchor, in_grid, in_v, view)
        if isinstance(placed, str):
            return f"{tpl.name} {out_deck}→{in_deck}: {placed}"
        start, bars, line_note = placed
        steps = []
        if wants_pick and in_track is not None:
            title = in_track.title
            resolved = in_track.resolved(choice.why if choice else "")
            steps.append(Step("LOAD", in_deck, load_beat,
                              {"query": title, "title": title, "cue": cue, "resolved": resolved}))
            if "KEY" in view.can:  # a key shift is a deck setting: the new track gets exactly the one it needs
                steps.append(Step("KEY", in_deck, load_beat, {"semitones": facts.key_shift}))
        elif facts.key_shift and "KEY" in view.can:
            steps.append(Step("KEY", in_deck, max(load_beat, start - view.quantum), {"semitones": facts.key_shift}))
        if not in_v.playing:
            steps.append(Step("PLAY", in_deck, start))
        envelopes = tuple(realize(tpl, start, out_deck, in_deck, bars, int(view.quantum)))
        if not in_v.playing:  # the incoming deck starts already where the template has it (EQ killed …)
            envelopes = tuple(ahead(e, start - PREPARE) if e.deck in (in_deck, None) else e for e in envelopes)
        plan = TransitionPlan(f"t-{intent.id}", tpl.id, out_deck, in_deck, start, bars, envelopes, tuple(steps),
                              view.quantum, facts=facts.to_dict(),
                              why=self._why(out_track, in_track, entry, cue, facts, tpl_why, line_note, out_grid,
                                            in_grid))
        if silent_at_end(plan):  # the outgoing deck is inaudible at the end: stop it there
            plan = replace(plan, steps=(*steps, Step("PAUSE", out_deck, plan.end)))
        return plan

    # -- decks -------------------------------------------------------------------------------------------
    @staticmethod
    def _decks(intent: Intent, view: MixView) -> tuple[str, str] | str:
        args = intent.args
        playing = [d.deck for d in view.decks.values() if d.playing]
        frm, to = args.get("from"), args.get("to")
        if frm is not None:
            out = frm
        else:
            others = [d for d in playing if d != to]
            if not others:
                return "nothing is playing to mix out of: start a deck first"
            known = sorted((view.deck(d).anchor, d) for d in others if view.deck(d).anchor is not None)
            out = known[0][1] if known else others[0]  # the one that has played longest
        if not view.deck(out).playing:
            return f"deck {out} is not playing: nothing to mix out of"
        partner = Deck.from_index(Deck(out).index ^ 1).value
        into = to or partner
        if into not in view.decks:
            return f"there is no deck {into} here"
        if into == out:
            return "a transition needs two different decks"
        return out, into

    # -- the next track ----------------------------------------------------------------------------------
    def choose_next(self, out_track: MixTrack | None, out_row: int | None, view: MixView,
                    query: str | None = None) -> Choice | None:
        """The best track to mix in from phrase `out_row` (the phrase DB's ranking), skipping what cannot
        or should not come next."""
        lib = self.library
        planner = lib.planner
        if len(planner.table) == 0:
            return None
        avoid = {str(t.get("path")) for t in view.played if t.get("path")}
        avoid |= {str(d.track.get("path")) for d in view.decks.values() if d.track and d.track.get("path")}
        avoid |= self.unplayable
        allowed = self._matching(query) if query else None
        table = planner.table
        for k in (CANDIDATES, len(table)):
            if out_row is not None:
                rows, scores = planner.rank(out_row, k=k, target=self._target(out_row), weights=self.weights,
                                            exact=self.exact or k >= len(table))
            else:
                rows, scores = self._rank_cold(view, k)
            for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
                track = lib.tracks.get(int(table.track_ids[row]))
                if track is None or track.path in avoid or (allowed is not None and track.id not in allowed):
                    continue
                if not view.seek and int(table.index[row]) != 0:
                    continue  # a host starts a track where it was loaded: its first phrase
                entry = next((p for p in track.phrases if p.index == int(table.index[row])), None)
                why = planner.breakdown(out_row, row, self._target(out_row), self.weights)["why"] \
                    if out_row is not None else "no analysed track playing: the best entry at this tempo"
                return Choice(track, entry, float(score), why)
            if k >= len(table):
                break
        return None

    def _target(self, row: int) -> float:
        return self.library.planner.target_energy(row, self.arc)

    def _rank_cold(self, view: MixView, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Nothing analysed is playing: rank every phrase by tempo fit to the clock, entry role and energy."""
        planner = self.library.planner
        t = planner.table
        u = np.log(np.maximum(t.bpm, 1e-3) / view.tempo) / 0.06
        entry = np.array([ENTRY_FIT[LABELS[i]] for i in t.label], np.float32)
        w = self.weights
        score = w.tempo * (1 - u * u) + w.entry * entry - w.energy * (t.energy - 0.5) ** 2
        score = np.where(np.abs(u) <= 1.0, score, -np.inf)
        k = min(k, int(np.isfinite(score).sum()))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-score, k - 1)[:k]
        top = top[np.argsort(-score[top], kind="stable")]
        return top, score[top].astype(np.float32)

    def _matching(self, query: str) -> set[int]:
        from .query import search_tracks

        records = list(self.library.planner.tracks.values())
        return {h.track.id for h in search_tracks(records, query, limit=50)}

    def _row_at(self, track: MixTrack | None, anchor: float | None, beat: float) -> int | None:
        """The phrase-table row of the phrase the track is in at clock `beat` (its last one when the
        position is not known)."""
        if track is None:
            return None
        rows = self.library.rows_of.get(track.id)
        if rows is None or len(rows) == 0:
            return None
        if anchor is None or not track.phrases:
            return int(rows[-1])
        bar = (beat - anchor) / 4.0
        inside = [i for i, p in enumerate(track.phrases) if p.start_bar <= bar + 1e-6]
        return int(rows[min(inside[-1] if inside else 0, len(rows) - 1)])

    # -- the pair ---------------------------------------------------------------------------------------
    def _facts(self, out_track: MixTrack | None, out_row: int | None, in_track: MixTrack | None,
               entry: PhraseRecord | None, cue: float, view: MixView) -> Facts:
        table = self.library.planner.table
        out_key = out_track.key if out_track else None
        in_key = in_track.key if in_track else None
        raw = camelot_distance(out_key, in_key) if out_key and in_key else None
        shift = key_shift(out_key, in_key) if "KEY" in view.can else 0
        dist = camelot_distance(out_key, shifted(in_key, shift)) if out_key and in_key else None
        tempo = None
        if out_track and in_track and out_track.bpm and in_track.bpm:
            tempo = 100.0 * (in_track.bpm / out_track.bpm - 1.0)
        out_energy = float(table.energy[out_row]) if out_row is not None else None
        out_label = LABELS[int(table.label[out_row])] if out_row is not None else None
        in_phrase = entry or (_phrase_at(in_track, cue) if in_track else None)
        return Facts(dist, raw, shift, tempo, out_energy, in_phrase.energy if in_phrase else None, out_label,
                     in_phrase.label if in_phrase else None)

    # -- phrase lines -------------------------------------------------------------------------------------
    @staticmethod
    def _place(tpl: Template, bars: int | None, lines: list[float], out_grid: Grid, out_anchor: float | None,
               in_grid: Grid, in_v: Any, view: MixView) -> tuple[float, int, str] | str:
        """(start, bars, note): the first phrase line that works for both tracks, the length fitted."""
        q = view.quantum
        out_end = None if out_anchor is None or out_grid.end is None else out_anchor + out_grid.end
        starts = lines
        note = ""
        if in_v.playing and in_v.anchor is not None:
            theirs = set(in_grid.clock_lines(in_v.anchor, lines[0], 4 * LINES_AHEAD, q * 8))
            shared = [c for c in lines if any(abs(c - t) < 1e-6 for t in theirs)]
            if shared:
                starts = shared
            else:
                note = "no phrase line both tracks share: on the outgoing track's"
        start = starts[0]
        if bars is None:
            span = tpl.bars * q
            near = [b for b in lines if b > start and start + 0.75 * span <= b <= start + 1.5 * span]
            if near and out_grid.known:
                best = min(near, key=lambda b: abs(math.log((b - start) / span)))
                bars = round((best - start) / q)
            else:
                bars = tpl.bars
        if out_end is not None and start + bars * q > out_end + 1e-6:
            room = int((out_end - start) // q)
            if room < 1:
                return f"the outgoing track ends at beat {out_end:g}, before the first phrase line it could use"
            bars = room
            note = (note + "; " if note else "") + f"{bars} bars: the outgoing track ends there"
        return start, int(bars), note

    # -- words ---------------------------------------------------------------------------------------------
    @staticmethod
    def _why(out_track: MixTrack | None, in_track: MixTrack | None, entry: PhraseRecord | None, cue: float,
             facts: Facts, tpl_why: str, line_note: str, out_grid: Grid, in_grid: Grid) -> str:
        def who(t: MixTrack | None) -> str:
            if t is None:
                return "the track"
            key = f"{t.key.camelot}, " if t.key else ""
            bpm = f"{t.bpm:.0f} BPM" if t.bpm else "tempo unknown"
            return f"'{t.title}' ({key}{bpm})"

        parts = [f"{who(in_track)} after {who(out_track)}"]
        if facts.raw_key_distance is not None:
            shift = f", key {facts.key_shift:+d} to make it {facts.key_distance}" if facts.key_shift else ""
            steps = facts.raw_key_distance
            parts.append(f"{steps} step{'s' if steps != 1 else ''} on the wheel{shift}")
        if facts.tempo_percent is not None:
            parts.append(f"tempo {facts.tempo_percent:+.1f} %")
        label = entry.label if entry else facts.in_label
        if label:
            parts.append(f"enters on its {label}" + (f" (bar {int(cue // 4) + 1})" if cue else ""))
        if not out_grid.known or not in_grid.known:
            parts.append("32-beat blocks where a track has no analysis")
        parts.append(tpl_why)
        if line_note:
            parts.append(line_note)
        return "; ".join(parts)


def _phrase_at(track: MixTrack, beat: float) -> PhraseRecord | None:
    inside = [p for p in track.phrases if 4 * p.start_bar <= beat + 1e-6]
    return inside[-1] if inside else (track.phrases[0] if track.phrases else None)
