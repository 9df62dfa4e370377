"""A transition as one unit: what a mix from one deck to another does, on which beats, and how it is undone.

A `TransitionPlan` is plain data (JSON round-trip, so a stage view can draw it and a rehearsal sandbox
can replay it on a manual clock): an id, the template's name, the outgoing and incoming decks, the
start beat (a phrase line) and the length in bars, the envelopes in absolute beats, and the discrete
steps that go with them (load the incoming track, shift its key, play it on its phrase, pause the
outgoing deck once it is silent). Planning one — which track, which template, which phrase — happens
above the bridge (phrase_db/mixing.py, called by the session before the scheduler decides); the
scheduler then realises the plan through its caps and slew limits as one cancellable unit.

`fit` rewrites a plan onto what the session's targets can take: a host without a crossfader gets the
crossfade on its channel faders, one without an FX send gets its echo unit, and anything nothing can
take is dropped, each substitution said in one line. `glide_back` is how a cancelled transition
returns the parameters it moved to where they were before it started.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from copilot.intents.schema import Deck

from .envelope import Breakpoint, Curve, Envelope

STEP_KINDS = ("LOAD", "KEY", "PLAY", "PAUSE", "FX", "FX_OFF")
FADER_STEP = 0.25  # beats between the corners of a crossfade redrawn on the channel faders
GLIDE_BEATS = 4.0  # a cancelled transition's parameters return over one bar


@dataclass(frozen=True)
class Step:
    """A discrete move inside a transition, on its beat."""

    kind: str  # one of STEP_KINDS
    deck: str
    beat: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "deck": self.deck, "beat": self.beat, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        kind = str(data["kind"]).upper()
        if kind not in STEP_KINDS:
            raise ValueError(f"a transition step is one of {', '.join(STEP_KINDS)}, not {kind!r}")
        return cls(kind, Deck(str(data["deck"]).upper()).value, float(data["beat"]), dict(data.get("params") or {}))


@dataclass(frozen=True)
class TransitionPlan:
    """One mix, ready for the scheduler: every beat absolute, every deck named."""

    id: str
    template: str
    out_deck: str
    in_deck: str
    start: float  # clock beat the transition starts on (a phrase line of the outgoing track)
    bars: int
    envelopes: tuple[Envelope, ...]
    steps: tuple[Step, ...] = ()
    beats_per_bar: float = 4.0
    why: str = ""  # one line: which track, which phrase, which template, and why
    facts: Mapping[str, Any] = field(default_factory=dict)  # the planner's facts (keys, tempi, energies …)
    notes: tuple[str, ...] = ()  # substitutions made to fit the targets

    @property
    def end(self) -> float:
        return self.start + self.bars * self.beats_per_bar

    @property
    def last_beat(self) -> float:
        """The last beat anything of the plan happens on (a slew-limited corner may arrive later)."""
        return max([self.end, *(e.end for e in self.envelopes), *(s.beat for s in self.steps)])

    def params_moved(self) -> list[tuple[str, str | None]]:
        """(parameter, deck) pairs the plan's envelopes move."""
        return list(dict.fromkeys((e.param, e.deck) for e in self.envelopes))

    def describe(self) -> str:
        name = self.template.replace("_", " ")
        return f"{name} {self.out_deck}→{self.in_deck}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "template": self.template, "out": self.out_deck, "in": self.in_deck,
            "start": self.start, "end": self.end, "bars": self.bars, "beats_per_bar": self.beats_per_bar,
            "envelopes": [e.to_dict() for e in self.envelopes], "steps": [s.to_dict() for s in self.steps],
            "why": self.why, "facts": dict(self.facts), "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransitionPlan:
        return cls(
            id=str(data["id"]), template=str(data["template"]), out_deck=Deck(str(data["out"]).upper()).value,
            in_deck=Deck(str(data["in"]).upper()).value, start=float(data["start"]), bars=int(data["bars"]),
            envelopes=tuple(Envelope.from_dict(e) for e in data.get("envelopes", [])),
            steps=tuple(Step.from_dict(s) for s in data.get("steps", [])),
            beats_per_bar=float(data.get("beats_per_bar", 4.0)), why=str(data.get("why", "")),
            facts=dict(data.get("facts") or {}), notes=tuple(str(n) for n in data.get("notes", [])),
        )


# -- what a planner sees -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeckView:
    """One deck as the planner sees it, at the soonest beat a transition could start."""

    deck: str
    playing: bool
    loaded: bool | None
    track: Mapping[str, Any] | None  # the library's answer for its LOAD (path, title, bpm, key, phrases …)
    anchor: float | None  # clock beat of the track's beat 0 while it plays (None: not known)
    position: float | None = 0.0  # track beat of the play head while stopped (where a PLAY starts it)


@dataclass(frozen=True)
class MixView:
    """What the session knows when a transition is planned (pure data: a sandbox builds one by hand)."""

    now: float  # clock beat
    earliest: float  # the soonest beat a step may be promised on
    quantum: float
    tempo: float
    decks: Mapping[str, DeckView]
    can: frozenset[str] = frozenset()  # action kinds and parameters the targets take
    seek: bool = False  # every target is the built-in engine: it starts a track on any beat, at the clock's tempo
    played: tuple[Mapping[str, Any], ...] = ()  # tracks started this session, oldest first

    def deck(self, name: str) -> DeckView:
        return self.decks[Deck(name).value]


# -- what the session's targets can take ------------------------------------------------------------------
def fit(plan: TransitionPlan, can: Callable[[str], bool]) -> TransitionPlan:
    """The plan rewritten onto what the targets can take (`can(parameter or action kind)`), with a note
    for every substitution. A plan every target can take comes back unchanged."""
    envelopes: list[Envelope] = []
    steps = list(plan.steps)
    notes = list(plan.notes)
    for env in plan.envelopes:
        if can(env.param):
            envelopes.append(env)
        elif env.param == "crossfader" and can("volume"):
            envelopes += crossfade_on_faders(env, plan.out_deck, plan.in_deck)
            notes.append("no crossfader: the channel faders carry the crossfade")
        elif env.param == "fx_send" and env.deck and can("fx_depth") and can("FX"):
            more_steps, depth = echo_on_fx_unit(env)
            steps += more_steps
            envelopes.append(depth)
            notes.append("no FX send: the deck's echo unit carries the echo")
        else:
            notes.append(f"no {env.param}: that part of the {plan.template.replace('_', ' ')} is left out")
    kept: list[Step] = []
    for step in steps:
        if can(step.kind):
            kept.append(step)
        elif step.kind == "KEY":
            notes.append("no key shift on this target: the keys stay as they are")
        else:
            notes.append(f"no {step.kind} on this target: deck {step.deck} is left to you")
    if envelopes == list(plan.envelopes) and kept == list(plan.steps):
        return plan
    return replace(plan, envelopes=tuple(envelopes), steps=tuple(sorted(kept, key=lambda s: s.beat)),
                   notes=tuple(dict.fromkeys(notes)))


def fader_levels(toward_in: float) -> tuple[float, float]:
    """(outgoing, incoming) channel-fader levels for a crossfader this far toward the incoming deck:
    the incoming fader comes up over the first half, the outgoing one goes down over the second."""
    x = min(1.0, max(0.0, toward_in))
    return min(1.0, 2.0 * (1.0 - x)), min(1.0, 2.0 * x)


def crossfade_on_faders(env: Envelope, out_deck: str, in_deck: str) -> list[Envelope]:
    """A crossfader envelope redrawn as the two channel faders (for hosts with no crossfader)."""
    mirror = Deck(in_deck).index % 2 == 0  # crossfader values run toward B/D; the incoming sits left
    beats = _corner_beats(env)
    outs, ins = [], []
    for b in beats:
        v = env.raw_value_at(b)
        toward_in = 1.0 - v if mirror else v
        o, i = fader_levels(toward_in)
        outs.append(Breakpoint(b, o))
        ins.append(Breakpoint(b, i))
    # the incoming fader is down before the incoming deck starts (a deck that waits is silent anyway)
    ins.insert(0, Breakpoint(env.start - 1.0, ins[0].value, Curve.HOLD))
    return [Envelope("volume", _simplify(outs), out_deck), Envelope("volume", _simplify(ins), in_deck)]


def echo_on_fx_unit(env: Envelope) -> tuple[list[Step], Envelope]:
    """An FX-send envelope as the deck's echo unit: on where the send rises, its depth following the
    send, off where the send has closed again."""
    rise = next((p.beat for p in env.points if p.value > 0.0), env.start)
    last_open = max((p.beat for p in env.points if p.value > 0.0), default=env.end)
    close = next((p.beat for p in env.points if p.beat > last_open and p.value == 0.0), env.end)
    deck = str(env.deck)
    steps = [Step("FX", deck, rise, {"name": "echo", "amount": 0.0}), Step("FX_OFF", deck, close, {"name": "echo"})]
    return steps, Envelope("fx_depth", env.points, env.deck)


def _corner_beats(env: Envelope) -> list[float]:
    """Every breakpoint, plus FADER_STEP samples inside curved segments."""
    out: list[float] = []
    for a, b in itertools.pairwise(env.points):
        out.append(a.beat)
        if a.curve not in (Curve.LINEAR, Curve.HOLD) and b.beat > a.beat:
            n = max(1, math.ceil((b.beat - a.beat) / FADER_STEP))
            out += [a.beat + (b.beat - a.beat) * k / n for k in range(1, n)]
        elif a.curve is Curve.HOLD:
            out.append(max(a.beat, b.beat - 1e-6))
    out.append(env.points[-1].beat)
    # a linear crossfader crossing the middle bends the fader curves there: add that corner
    extra = []
    for a, b in itertools.pairwise(env.points):
        if a.curve is Curve.LINEAR and (a.value - 0.5) * (b.value - 0.5) < 0:
            extra.append(a.beat + (0.5 - a.value) / (b.value - a.value) * (b.beat - a.beat))
    return sorted(set(out + extra))


def _simplify(points: list[Breakpoint]) -> tuple[Breakpoint, ...]:
    """Drop corners on a straight line between their neighbours (faders hold most of the time)."""
    kept = [points[0]]
    for k in range(1, len(points) - 1):
        a, b, c = kept[-1], points[k], points[k + 1]
        if a.curve is Curve.HOLD or c.beat == a.beat:
            kept.append(b)
            continue
        line = a.value + (c.value - a.value) * (b.beat - a.beat) / (c.beat - a.beat)
        if abs(line - b.value) > 1e-6:
            kept.append(b)
    kept.append(points[-1])
    return tuple(kept)


# -- undoing ------------------------------------------------------------------------------------------------
def glide_back(plan: TransitionPlan, beat: float, glide: float = GLIDE_BEATS) -> list[Envelope]:
    """Envelopes that bring every parameter the plan moved from where it is at `beat` back to where the
    plan started it (outgoing deck full, incoming deck as it entered), over `glide` beats."""
    out = []
    for param, deck in plan.params_moved():
        envs = sorted((e for e in plan.envelopes if (e.param, e.deck) == (param, deck)), key=lambda e: e.start)
        started = [e for e in envs if e.start <= beat]
        if not started:
            continue  # nothing of it was sent: withdrawing it is enough
        now = started[-1].raw_value_at(beat)
        target = envs[0].points[0].value
        if abs(now - target) < 1e-6:
            continue
        out.append(Envelope(param, (Breakpoint(beat, now, Curve.SMOOTH), Breakpoint(beat + glide, target)), deck))
    return out


def silent_at_start(plan: TransitionPlan) -> bool:
    """Is the incoming deck inaudible where the plan starts (crossfader on the outgoing side, or its
    fader down)? Then a cancelled transition can stop it once everything has glided back."""
    mirror = Deck(plan.in_deck).index % 2 == 0
    for env in plan.envelopes:
        v = env.points[0].value
        if env.param == "crossfader" and (1.0 - v if mirror else v) <= 1e-9:
            return True
        if env.param == "volume" and env.deck == plan.in_deck and v <= 1e-9:
            return True
    return False


def silent_at_end(plan: TransitionPlan) -> bool:
    """Does the outgoing deck end the plan inaudible (crossfader fully over, or its fader down)?"""
    mirror = Deck(plan.in_deck).index % 2 == 0
    for env in plan.envelopes:
        v = env.points[-1].value
        if env.param == "crossfader" and (1.0 - v if mirror else v) >= 1.0 - 1e-9:
            return True
        if env.param == "volume" and env.deck == plan.out_deck and v <= 1e-9:
            return True
    return False
