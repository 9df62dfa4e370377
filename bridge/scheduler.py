"""The safety scheduler: decides *when* an intent may happen, or says plainly why it may not.

Discrete intents go to the next safe grid line (beat, bar or phrase by kind, inside the phase window
δ); LOAD never lands on a playing deck; FX and loop changes are rate limited; risky actions wait for
CONFIRM and expire; continuous moves (motion, a fader) are capped and slew-limited; PANIC is immediate,
cancels everything queued and puts FX and filters back to neutral. A transition (a plan the session's
mixer made: bridge/transition.py) is one unit: its envelopes and steps go out through the same caps
and slew limits, and cancelling it (or PANIC) withdraws what has not been sent and glides what moved
back to where it was.

Decide, then send: the scheduler's lock covers decisions only. Nothing under it reads a file, a
database or a socket — a LOAD's track is looked up by the session before the LOAD is submitted, and
handed in as `resolved`. The scheduler never talks to a wire either: accepted actions go to an
`Outbox` (the session routes them to targets and the dispatcher), which keeps this module testable
with a manual clock and no ports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from copilot.intents.schema import DECK_KINDS, Deck, Intent, IntentKind, Source

from .actions import Action, ActionKind
from .clock import BeatClock, last_boundary, next_boundary
from .envelope import Breakpoint, Curve, Envelope
from .lamport import LAMPORT
from .safety import RATE_GROUPS, Grid, SafetyConfig
from .state import HostState, own_effect
from .transition import TransitionPlan, crossfade_on_faders, fit, glide_back, silent_at_start

# A performer's move that takes the mix over from the planner (its transition on those decks stops).
HANDS_ON = frozenset({IntentKind.EQ, IntentKind.FADER, IntentKind.CROSSFADE, IntentKind.TRANSITION, IntentKind.NEXT,
                      IntentKind.PLAY, IntentKind.PAUSE, IntentKind.CUE, IntentKind.LOAD, IntentKind.FILTER,
                      IntentKind.BUILD, IntentKind.DROP})


class Verdict(StrEnum):
    SCHEDULED = "scheduled"
    AWAITING_CONFIRM = "awaiting_confirm"
    REFUSED = "refused"
    DONE = "done"  # PANIC, CONFIRM, CANCEL: handled at once


@dataclass(frozen=True)
class Decision:
    intent: Intent
    verdict: Verdict
    reason: str
    actions: tuple[Action, ...] = ()
    beat: float | None = None
    at: float = 0.0  # clock time of the decision

    @property
    def accepted(self) -> bool:
        return self.verdict in (Verdict.SCHEDULED, Verdict.DONE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent.to_dict(),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "beat": self.beat,
            "at": self.at,
            "actions": [a.to_dict() for a in self.actions],
        }


class Outbox(Protocol):
    """Where accepted actions go (the session: router + dispatcher)."""

    def dispatch(self, actions: Sequence[Action]) -> None: ...
    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None: ...
    def panic(self, action: Action) -> None: ...


class NullOutbox:
    """Keeps what it is given: for tests and dry runs."""

    def __init__(self) -> None:
        self.dispatched: list[Action] = []
        self.withdrawn: list[tuple[tuple[str, ...], float | None]] = []
        self.panics: list[Action] = []

    def dispatch(self, actions: Sequence[Action]) -> None:
        self.dispatched.extend(actions)

    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None:
        self.withdrawn.append((tuple(action_ids), after_beat))

    def panic(self, action: Action) -> None:
        self.panics.append(action)


@dataclass
class _Pending:
    intent: Intent
    expires: float
    reason: str
    resolved: dict[str, Any] | None = None  # a LOAD's looked-up track, kept for the yes


@dataclass
class _Level:
    """Where a continuous parameter was last put (by a move, an envelope's end, PANIC), and on which beat."""

    beat: float
    value: float


@dataclass
class _Scheduled:
    intent: Intent
    actions: list[Action] = field(default_factory=list)
    plan: TransitionPlan | None = None  # a transition: one unit, undone by gliding back

    @property
    def last_beat(self) -> float:
        return max((_end_beat(a) for a in self.actions), default=float("-inf"))


def _end_beat(action: Action) -> float:
    if action.envelope is not None:
        return action.envelope.end
    return action.beat if action.beat is not None else float("-inf")


class SafetyScheduler:
    def __init__(
        self,
        clock: BeatClock,
        state: HostState | None = None,
        outbox: Outbox | None = None,
        config: SafetyConfig | None = None,
    ) -> None:
        self.clock = clock
        self.state = state or HostState()
        self.outbox = outbox or NullOutbox()
        self.config = config or SafetyConfig()
        self._lock = threading.RLock()
        self._pending: list[_Pending] = []
        self._scheduled: list[_Scheduled] = []
        self._rate_recent: dict[tuple[str, Deck | None], list[float]] = {}
        self._levels: dict[tuple[str, Deck | None], _Level] = {}
        self.can: Callable[[str], bool] = lambda what: True  # what the session's targets can take
        self._said: set[str] = set()  # substitutions already told to the performer
        self._fresh: set[str] = set()  # … of them, those the decision being made tells

    # -- public ------------------------------------------------------------------------------------
    def submit(self, intent: Intent, resolved: dict[str, Any] | None = None) -> Decision:
        """Decide about one intent now. Never raises for a well-formed intent: refusals carry reasons.

        `resolved`: what the session already looked up for a LOAD (the track: path, title, bpm …); it
        rides on the LOAD action as params["resolved"], so no target looks anything up while rendering.
        """
        with self._lock:
            intent = LAMPORT.stamp(intent)  # races are settled here, so the order is stamped here
            now = self.clock.now()
            self._prune(now)
            kind = intent.kind
            if kind is IntentKind.PANIC:
                return self._panic(intent, now)
            if kind is IntentKind.CONFIRM:
                return self._confirm(intent, now)
            if kind is IntentKind.CANCEL:
                return self._cancel(intent, now)
            if intent.confidence < self.config.min_confidence:
                return self._refuse(
                    intent, now, f"not sure enough ({intent.confidence:.0%}) that you said "
                    f"'{intent.text or intent.describe()}'; nothing sent"
                )
            out_of_reach = self._beyond_horizon(intent, now)
            if out_of_reach:
                return self._refuse(intent, now, out_of_reach)
            return self._decide(intent, now, confirmed=False, resolved=resolved)

    def expire(self) -> list[Decision]:
        """Risky intents whose confirmation window has passed, as refusals the performer can see."""
        with self._lock:
            now = self.clock.now()
            gone = [p for p in self._pending if p.expires <= now]
            self._pending = [p for p in self._pending if p.expires > now]
            return [
                Decision(p.intent, Verdict.REFUSED, f"{p.intent.describe()} was not confirmed in time", at=now)
                for p in gone
            ]

    def pending(self) -> list[tuple[Intent, str]]:
        with self._lock:
            return [(p.intent, p.reason) for p in self._pending]

    def awaiting(self) -> list[tuple[Intent, str, float]]:
        """The questions waiting for a yes, with the clock time each expires (for the stage view)."""
        with self._lock:
            return [(p.intent, p.reason, p.expires) for p in self._pending]

    def move(
        self, param_name: str, value: float, deck: Deck | None = None, source: Source = Source.MOTION
    ) -> Action | None:
        """Move one continuous parameter (motion, a fader on a pad): capped, slew-limited, sent a moment
        ahead as a CONTROL action. Returns the action sent, or None when the wire would not change.
        """
        with self._lock:
            spec = self.config.params.get(param_name)
            if spec is None:
                raise KeyError(f"unknown parameter {param_name!r}")
            if not spec.per_deck:
                deck = None
            now = self.clock.now()
            beat = self.clock.beat_at_time(now + self.config.move_lead + self.config.notice + self.config.latency)
            target = spec.clamp(float(value))
            key = (param_name, deck)
            last = self._levels.get(key)
            if last is not None:
                room = spec.max_slope * max(0.0, beat - last.beat)
                target = min(last.value + room, max(last.value - room, target))
                if abs(target - last.value) < 1e-6:
                    return None
            self._levels[key] = _Level(beat, target)
            action = Action(ActionKind.CONTROL, deck, beat, self.clock.time_at_beat(beat),
                            params={"param": param_name, "value": target}, source=source)
            self.outbox.dispatch([action])
            return action

    def envelope(self, env: Envelope, source: Source = Source.PLANNER, intent_id: str = "") -> Decision | Action:
        """Schedule a ready-made envelope (a transition template already warped to the grid)."""
        with self._lock:
            spec = self.config.params[env.param]
            deck = Deck(env.deck) if env.deck else None
            env = env.with_caps(spec)
            action = Action(ActionKind.ENVELOPE, deck, env.start, self.clock.time_at_beat(env.start),
                            params={"param": env.param, "start_value": self._current(env.param, deck)},
                            envelope=env, intent_id=intent_id, source=source)
            self._levels[(env.param, deck)] = _Level(env.end, env.points[-1].value)
            self.outbox.dispatch([action])
            return action

    # -- decisions -----------------------------------------------------------------------------------
    def _decide(self, intent: Intent, now: float, confirmed: bool,
                resolved: dict[str, Any] | None = None) -> Decision:
        self._planner_steps_aside(intent, now)
        if intent.kind in (IntentKind.TRANSITION, IntentKind.NEXT):
            return self._transition(intent, now, resolved)
        intent, deck_note = self._pick_deck(intent, now)
        kind = intent.kind
        beat = self._grid_beat(intent, now)

        if kind is IntentKind.LOAD:
            if self._busy(intent.deck, beat):
                other = self._idle_deck(beat)
                hint = f"; load to deck {other} instead" if other else "; pause it first"
                return self._refuse(intent, now, f"deck {intent.deck} is playing or about to — never load a "
                                    f"playing deck{hint}")
            playing = [d for d in self._decks() if self._playing_at(d, beat)]
            if len(playing) >= 2 and not confirmed:
                return self._ask(intent, now, f"{len(playing)} decks are playing; load '{intent.args['query']}' "
                                 f"to deck {intent.deck}?", resolved)

        group = RATE_GROUPS.get(kind)
        if group is not None:
            interval = self.config.rate_limits.get(group, 0.0)
            recent = self._rate_recent.setdefault((group, intent.deck), [])
            recent[:] = [b for b in recent if b > self.clock.beat_at_time(now) - 2 * interval - 64]
            if any(abs(beat - b) < interval - 1e-9 for b in recent):
                return self._refuse(
                    intent, now, f"{group} changes on deck {intent.deck} are limited to one per "
                    f"{interval:g} beat{'s' if interval != 1 else ''}; {intent.describe()} ignored"
                )

        if not confirmed:
            risk = self._risk(intent, beat)
            if risk:
                return self._ask(intent, now, risk, resolved)

        if len(self._scheduled) >= self.config.max_scheduled:
            return self._refuse(intent, now, f"{len(self._scheduled)} intents are already queued; "
                                f"{intent.describe()} ignored — let some happen or cancel them first")
        actions = self._actions(intent, beat, resolved)
        if group is not None:
            self._rate_recent[(group, intent.deck)].append(beat)
        self._scheduled.append(_Scheduled(intent, list(actions)))
        self.outbox.dispatch(actions)
        when = self._say_when(beat, now)
        notes = [deck_note] if deck_note else []
        notes += sorted(self._fresh)
        self._fresh.clear()
        note = f" ({'; '.join(notes)})" if notes else ""
        return Decision(intent, Verdict.SCHEDULED, f"{intent.describe()}{note} {when}", tuple(actions), beat, now)

    def _risk(self, intent: Intent, beat: float) -> str | None:
        kind = intent.kind
        if kind in (IntentKind.PAUSE, IntentKind.CUE) and self._playing_at(intent.deck, beat):
            others = [d for d in self._decks() if d != intent.deck and self._playing_at(d, beat)]
            silence = " — nothing else is playing" if not others else ""
            return f"stop the playing deck {intent.deck}{silence}? say yes to confirm"
        if kind is IntentKind.TEMPO:
            new = self._tempo_target(intent)
            jump = abs(new - self.clock.tempo)
            if jump > self.config.tempo_jump_cap:
                return f"tempo jump of {jump:.1f} BPM (to {new:.1f}); say yes to confirm"
        return None

    # -- transitions ---------------------------------------------------------------------------------
    def _transition(self, intent: Intent, now: float, resolved: dict[str, Any] | None) -> Decision:
        """A TRANSITION or NEXT the session's mixer planned (`resolved["plan"]`), as one unit."""
        resolved = resolved or {}
        plan: TransitionPlan | None = resolved.get("plan")
        if plan is None:
            return self._refuse(intent, now, resolved.get("refused") or f"{intent.describe()}: no transition "
                                "planner is running (the phrase-db plugin provides one)")
        earliest = self.clock.beat_at_time(now + self.config.min_lead + self.config.latency)
        first = min([plan.start, *(s.beat for s in plan.steps)])
        if first < earliest - 1e-9:
            return self._refuse(intent, now, f"{plan.describe()} missed its phrase line (beat {plan.start:g}) "
                                "while it was planned; ask again")
        busy = [e.plan for e in self._scheduled if e.plan is not None and e.last_beat >= earliest
                and {e.plan.out_deck, e.plan.in_deck} & {plan.out_deck, plan.in_deck}]
        if busy:
            return self._refuse(intent, now, f"{busy[0].describe()} is still running until beat {busy[0].end:g}; "
                                "cancel the transition first")
        for step in plan.steps:
            deck = Deck(step.deck)
            if step.kind in ("LOAD", "PLAY") and self._busy(deck, step.beat):
                what = "load onto" if step.kind == "LOAD" else "start"
                return self._refuse(intent, now, f"{plan.describe()}: deck {deck} is playing or about to — "
                                    f"never {what} a playing deck in a transition")
        plan = fit(plan, self.can)
        for note in plan.notes:
            self._say(note)
        actions = self._plan_actions(intent, plan)
        self._scheduled.append(_Scheduled(intent, actions, plan))
        self.outbox.dispatch(actions)
        when = self._say_when(plan.start, now)
        said = [n for n in plan.notes if n in self._fresh]
        self._fresh.clear()
        extra = f" ({'; '.join(said)})" if said else ""
        why = f": {plan.why}" if plan.why else ""
        return Decision(intent, Verdict.SCHEDULED, f"{plan.describe()} over {plan.bars} bars {when}{why}{extra}",
                        tuple(actions), plan.start, now)

    def _plan_actions(self, intent: Intent, plan: TransitionPlan) -> list[Action]:
        """The plan's steps and envelopes as actions (envelopes capped and slew-limited as always)."""
        at = self.clock.time_at_beat
        actions = [Action(ActionKind.TRANSITION, None, plan.start, at(plan.start), intent_id=intent.id,
                          source=intent.source, lamport=intent.lamport,
                          params={"id": plan.id, "template": plan.template, "out": plan.out_deck,
                                  "in": plan.in_deck, "start": plan.start, "end": plan.end, "bars": plan.bars})]
        for step in plan.steps:
            actions.append(Action(ActionKind(step.kind), Deck(step.deck), step.beat, at(step.beat),
                                  params=dict(step.params), intent_id=intent.id, source=intent.source,
                                  lamport=intent.lamport))
        for e in sorted(plan.envelopes, key=lambda e: e.start):
            spec = self.config.params[e.param]
            deck = Deck(e.deck) if e.deck and spec.per_deck else None
            capped = e.with_caps(spec)
            actions.append(Action(ActionKind.ENVELOPE, deck, capped.start, at(capped.start), envelope=capped,
                                  params={"param": e.param, "start_value": self._current(e.param, deck)},
                                  intent_id=intent.id, source=intent.source, lamport=intent.lamport))
            self._levels[(e.param, deck)] = _Level(capped.end, capped.points[-1].value)
        return actions

    def _undo(self, entry: _Scheduled, beat: float) -> list[Action]:
        """A transition withdrawn at `beat`: what it moved glides back to where the transition started it;
        an incoming deck it started (silent there again) stops once the glide is over, unless the
        outgoing deck was stopped already."""
        plan = entry.plan
        assert plan is not None
        glide = self.config.glide_beats
        out: list[Action] = []
        for e in glide_back(plan, beat, glide):
            spec = self.config.params[e.param]
            deck = Deck(e.deck) if e.deck and spec.per_deck else None
            capped = e.with_caps(spec)
            out.append(Action(ActionKind.ENVELOPE, deck, capped.start, self.clock.time_at_beat(capped.start),
                              envelope=capped, params={"param": e.param, "start_value": capped.points[0].value},
                              intent_id=entry.intent.id, source=entry.intent.source))
            self._levels[(e.param, deck)] = _Level(capped.end, capped.points[-1].value)
        started = any(s.kind == "PLAY" and s.beat <= beat for s in plan.steps)
        out_paused = any(s.kind == "PAUSE" and s.deck == plan.out_deck and s.beat <= beat for s in plan.steps)
        if started and not out_paused and silent_at_start(plan):
            stop = next_boundary(beat + glide, self.clock.quantum)  # transport stays on the bar
            out.append(Action(ActionKind.PAUSE, Deck(plan.in_deck), stop, self.clock.time_at_beat(stop),
                              intent_id=entry.intent.id, source=entry.intent.source))
        return out

    def _planner_steps_aside(self, intent: Intent, now: float) -> None:
        """A performer who touches the mix takes it over: the planner's transition on those decks stops
        where it is (what was sent stays, nothing more is sent), and the decision says so."""
        if intent.source is Source.PLANNER or intent.kind not in HANDS_ON:
            return
        now_beat = self.clock.beat_at_time(now)
        for entry in list(self._scheduled):
            plan = entry.plan
            if plan is None or entry.intent.source is not Source.PLANNER or entry.last_beat <= now_beat:
                continue
            if intent.deck is not None and intent.deck.value not in (plan.out_deck, plan.in_deck):
                continue
            self._scheduled.remove(entry)
            self.outbox.withdraw([a.id for a in entry.actions], after_beat=now_beat)
            self._fresh.add(f"the planner's {plan.describe()} stepped aside: the mix is yours")

    def transitions(self) -> list[dict[str, Any]]:
        """The transitions decided and not over yet, for a stage view: the plan, and whether it runs."""
        with self._lock:
            now_beat = self.clock.beat
            return [{**e.plan.to_dict(), "state": "running" if e.plan.start <= now_beat else "waiting",
                     "intent_id": e.intent.id, "source": e.intent.source.value}
                    for e in self._scheduled if e.plan is not None and e.last_beat >= now_beat]

    def _say(self, note: str) -> None:
        """A substitution is told once per session (the decision that first needs it says it)."""
        if note not in self._said:
            self._said.add(note)
            self._fresh.add(note)

    def _actions(self, intent: Intent, beat: float, resolved: dict[str, Any] | None = None) -> list[Action]:
        """Turn one accepted intent into grid-stamped actions (discrete ones and envelopes)."""
        kind, deck, a, cfg = intent.kind, intent.deck, intent.args, self.config
        q = self.clock.quantum
        at = self.clock.time_at_beat

        def discrete(k: ActionKind, b: float = beat, **params: Any) -> Action:
            return Action.from_intent(intent, k, b, at(b), params=params)

        def env(name: str, start: float, points: list[tuple[float, float, Curve]], d: Deck | None) -> Action:
            spec = cfg.params[name]
            d = d if spec.per_deck else None
            e = Envelope(name, tuple(Breakpoint(b, v, c) for b, v, c in points),
                         d.value if d else None).with_caps(spec)
            start_value = self._current(name, d)
            self._levels[(name, d)] = _Level(e.end, e.points[-1].value)
            return Action(ActionKind.ENVELOPE, d, start, at(start), envelope=e,
                          params={"param": name, "start_value": start_value}, intent_id=intent.id,
                          source=intent.source, lamport=intent.lamport)

        match kind:
            case IntentKind.TEMPO:
                return [discrete(ActionKind.TEMPO, bpm=self._tempo_target(intent), from_bpm=self.clock.tempo)]
            case IntentKind.FILTER:
                target = 0.5 + (0.5 if a["direction"] == "up" else -0.5) * a["amount"]
                span = cfg.filter_bars * q
                now_value = self._current("filter", deck)
                return [env("filter", beat, [(beat, now_value, Curve.EXP), (beat + span, target, Curve.LINEAR)],
                            deck)]
            case IntentKind.BUILD:
                span = a["bars"] * q
                end = beat + span
                decks = [deck] if deck else [d for d in self._decks() if self._playing_at(d, beat)] or [Deck.A]
                actions: list[Action] = []
                for d in decks:
                    actions.append(env("filter", beat, [(beat, self._current("filter", d), Curve.EXP),
                                                        (end, cfg.build_peak, Curve.LINEAR)], d))
                    actions.append(env("fx_send", beat, [(beat, self._current("fx_send", d), Curve.EASE_IN),
                                                         (end, cfg.build_send, Curve.LINEAR)], d))
                actions += self._drop_actions(intent, end, decks)
                return actions
            case IntentKind.DROP:
                decks = [d for d in self._decks() if self._playing_at(d, beat)] or [Deck.A]
                self._release_builds(beat)
                return self._drop_actions(intent, beat, decks)
            case IntentKind.LOAD if resolved:
                title = resolved.get("title") or resolved.get("path")
                return [discrete(ActionKind.LOAD, **dict(a), resolved=resolved, title=title)]
            case IntentKind.EQ:
                bands = ("low", "mid", "high") if a["band"] == "all" else (a["band"],)
                return [env(f"eq_{b}", beat, [(beat, 0.5 * a["level"], Curve.HOLD)], deck) for b in bands]
            case IntentKind.FADER:
                return [env("volume", beat, [(beat, a["level"], Curve.HOLD)], deck)]
            case IntentKind.CROSSFADE:
                return self._crossfade(intent, beat, env)
            case _:
                action_kind = ActionKind(kind.value)
                return [discrete(action_kind, **dict(a))]

    def _crossfade(self, intent: Intent, beat: float, env: Callable[..., Action]) -> list[Action]:
        """The crossfader to a deck's side or a position, now (bars 0: at its slew limit) or over bars; on
        the channel faders when no target has a crossfader."""
        a = intent.args
        target = a["position"] if "position" in a else float(Deck(a["to"]).index % 2)
        bars = a.get("bars", self.config.crossfade_bars)
        start = self._current("crossfader", None)
        points = [(beat, target, Curve.HOLD)] if bars == 0 else \
            [(beat, start, Curve.SMOOTH), (beat + bars * self.clock.quantum, target, Curve.LINEAR)]
        if self.can("crossfader") or not self.can("volume"):
            return [env("crossfader", beat, points, None)]
        xf = Envelope("crossfader", tuple(Breakpoint(b, v, c) for b, v, c in points))
        left, right = Deck.A, Deck.B  # the crossfader runs from A's side to B's
        self._say("no crossfader: the channel faders carry the crossfade")
        out: list[Action] = []
        for e in crossfade_on_faders(xf, left.value, right.value):
            out.append(env("volume", e.start, [(p.beat, p.value, p.curve) for p in e.points], Deck(e.deck)))
        return out

    def _drop_actions(self, intent: Intent, beat: float, decks: list[Deck]) -> list[Action]:
        """The drop: filter open and FX send shut, exactly on the downbeat, plus the DROP marker."""
        actions = [Action.from_intent(intent, ActionKind.DROP, beat, self.clock.time_at_beat(beat),
                                      params={"decks": [d.value for d in decks]})]
        for d in decks:
            for name in ("filter", "fx_send"):
                spec = self.config.params[name]
                e = Envelope(name, (Breakpoint(beat, spec.neutral, Curve.HOLD),), d.value).with_caps(spec)
                self._levels[(name, d)] = _Level(beat, spec.neutral)
                actions.append(Action(ActionKind.ENVELOPE, d, beat, self.clock.time_at_beat(beat), envelope=e,
                                      params={"param": name, "start_value": spec.neutral, "jump": True},
                                      intent_id=intent.id, source=intent.source, lamport=intent.lamport))
        return actions

    def _release_builds(self, drop_beat: float) -> None:
        """A drop called during a build ends the build there: its later moves are withdrawn."""
        for entry in self._scheduled:
            if entry.intent.kind is IntentKind.BUILD and entry.last_beat > drop_beat:
                self.outbox.withdraw([a.id for a in entry.actions], after_beat=drop_beat)
                entry.actions = [a for a in entry.actions if (a.beat or 0) < drop_beat]

    # -- PANIC / CONFIRM / CANCEL ------------------------------------------------------------------
    def _panic(self, intent: Intent, now: float) -> Decision:
        self._pending.clear()
        now_beat = self.clock.beat_at_time(now)
        running = [e for e in self._scheduled if e.plan is not None and e.last_beat > now_beat]
        self._scheduled.clear()
        for (name, deck) in list(self._levels):
            if self.config.params[name].reset_on_panic:
                self._levels[(name, deck)] = _Level(self.clock.beat_at_time(now), self.config.params[name].neutral)
        action = Action(ActionKind.PANIC, None, None, now, intent_id=intent.id, source=intent.source,
                        lamport=intent.lamport,
                        params={"neutral": {n: p.neutral for n, p in self.config.params.items() if p.reset_on_panic}})
        self.outbox.panic(action)
        undo = [a for e in running for a in self._undo(e, self.clock.beat_at_time(now + self.config.min_lead))]
        if undo:  # after the flush: a transition halfway through glides back rather than freezing there
            self.outbox.dispatch(undo)
        also = f"; {', '.join(e.plan.describe() for e in running if e.plan)} gliding back" if running else ""
        return Decision(intent, Verdict.DONE, f"PANIC: everything queued cancelled, FX and filters to neutral{also}",
                        (action, *undo), None, now)

    def _confirm(self, intent: Intent, now: float) -> Decision:
        """A yes: for the intent it names (`id`), else for the latest question asked of a performer (the
        planner's own questions are answered only by the planner, by id)."""
        wanted = intent.args.get("id")
        if wanted is not None:
            found = [p for p in self._pending if p.intent.id == wanted]
            if not found:
                return self._refuse(intent, now, f"nothing with id {wanted} is waiting for a yes")
            pending = found[-1]
        else:
            asked = [p for p in self._pending if p.intent.source is not Source.PLANNER]
            if not asked:
                return self._refuse(intent, now, "nothing is waiting for a yes")
            pending = asked[-1]
        self._pending.remove(pending)
        decision = self._decide(pending.intent, now, confirmed=True, resolved=pending.resolved)
        reason = f"confirmed: {decision.reason}" if decision.accepted else decision.reason
        return Decision(intent, Verdict.DONE if decision.accepted else Verdict.REFUSED, reason,
                        decision.actions, decision.beat, now)

    def _cancel(self, intent: Intent, now: float) -> Decision:
        """No: the question it names (`id`) or the latest; else the latest scheduled intent not over yet.
        "cancel the transition" takes the latest transition; a transition withdrawn glides back."""
        wanted, what = intent.args.get("id"), intent.args.get("what")
        if what is None:
            asked = [p for p in self._pending if wanted is None or p.intent.id == wanted]
            if asked:
                self._pending.remove(asked[-1])
                return Decision(intent, Verdict.DONE, f"cancelled {asked[-1].intent.describe()}", at=now)
        now_beat = self.clock.beat_at_time(now)
        for entry in reversed(self._scheduled):
            if entry.last_beat <= now_beat or (wanted is not None and entry.intent.id != wanted):
                continue
            if what == "transition" and entry.plan is None:
                continue
            self._scheduled.remove(entry)
            self.outbox.withdraw([a.id for a in entry.actions], after_beat=now_beat)
            if entry.plan is None:
                return Decision(intent, Verdict.DONE, f"withdrew {entry.intent.describe()}", at=now)
            undo = self._undo(entry, self.clock.beat_at_time(now + self.config.min_lead))
            self.outbox.dispatch(undo)
            return Decision(intent, Verdict.DONE, f"cancelled {entry.plan.describe()}: "
                            + ("what it moved glides back" if undo else "nothing of it had started"), tuple(undo),
                            at=now)
        if what == "transition":
            return self._refuse(intent, now, "no transition is waiting or running")
        return self._refuse(intent, now, "nothing left to cancel" if wanted is None else
                            f"nothing with id {wanted} is left to cancel")

    # -- helpers -----------------------------------------------------------------------------------
    def _refuse(self, intent: Intent, now: float, reason: str) -> Decision:
        if self._fresh:  # what happened anyway (the planner stepped aside) is said with the refusal
            reason = f"{reason} ({'; '.join(sorted(self._fresh))})"
            self._fresh.clear()
        return Decision(intent, Verdict.REFUSED, reason, at=now)

    def _ask(self, intent: Intent, now: float, reason: str, resolved: dict[str, Any] | None = None) -> Decision:
        waiting = sum(1 for p in self._pending if p.expires > now)
        if waiting >= self.config.max_pending:
            return self._refuse(intent, now, f"{waiting} questions are already waiting for a yes; "
                                f"{intent.describe()} ignored — answer or cancel them first")
        self._pending.append(_Pending(intent, now + self.config.confirm_window, reason, resolved))
        return Decision(intent, Verdict.AWAITING_CONFIRM, reason, at=now)

    def _beyond_horizon(self, intent: Intent, now: float) -> str | None:
        """An `at_beat` further from now than the horizon (either way): never held, never "about to"."""
        if intent.at_beat is None:
            return None
        q = self.clock.quantum
        bars = (intent.at_beat - self.clock.beat_at_time(now)) / q
        horizon = self.config.horizon_bars
        if bars > horizon:
            return (f"{intent.describe()} asked for beat {intent.at_beat:.6g}, {bars:.4g} bars ahead; nothing is "
                    f"planned more than {horizon:g} bars ahead — ask closer to the time")
        if bars < -horizon:
            return (f"{intent.describe()} asked for beat {intent.at_beat:.6g}, {-bars:.4g} bars ago; "
                    f"more than {horizon:g} bars in the past is not a time this set has — ignored")
        return None

    def _prune(self, now: float) -> None:
        now_beat = self.clock.beat_at_time(now)
        self._scheduled = [s for s in self._scheduled if s.last_beat >= now_beat]

    def _decks(self) -> list[Deck]:
        return [Deck.from_index(i) for i in range(self.config.decks)]

    def _playing_at(self, deck: Deck | None, beat: float) -> bool:
        """Host state now, with our own queued actions up to `beat` applied on top."""
        if deck is None:
            return False
        playing = self.state.deck(deck).playing
        queued = sorted(
            (a for s in self._scheduled for a in s.actions
             if a.deck == deck and a.beat is not None and a.beat <= beat and "playing" in own_effect(a)),
            key=lambda a: a.beat,
        )
        for action in queued:
            playing = own_effect(action)["playing"]
        return playing

    def _busy(self, deck: Deck | None, beat: float) -> bool:
        """Playing at `beat`, or about to: a queued PLAY later on counts (its track must not change)."""
        if self._playing_at(deck, beat):
            return True
        return any(a.kind is ActionKind.PLAY and a.deck == deck for s in self._scheduled for a in s.actions)

    def _idle_deck(self, beat: float) -> Deck | None:
        return next((d for d in self._decks() if not self._busy(d, beat)), None)

    def _pick_deck(self, intent: Intent, now: float) -> tuple[Intent, str]:
        """A deck action with no deck named: the idle deck for LOAD/PLAY, else the one playing."""
        if intent.kind not in DECK_KINDS or intent.deck is not None:
            return intent, ""
        beat = self.clock.beat_at_time(now)
        playing = [d for d in self._decks() if self._playing_at(d, beat)]
        if intent.kind is IntentKind.KEY and "match" in intent.args:  # "match key to A": another deck moves
            others = [d for d in self._decks() if d.value != intent.args["match"]] or [Deck.A]
            pick = next((d for d in others if not self._playing_at(d, beat)), others[0])
            return intent.with_deck(pick), f"deck {pick}, matched to deck {intent.args['match']}"
        if intent.kind in (IntentKind.LOAD, IntentKind.PLAY):
            idle = self._idle_deck(beat)
            if idle is not None:
                return intent.with_deck(idle), f"deck {idle}, the idle one"
            return intent.with_deck(Deck.A), ""
        if len(playing) == 1:
            return intent.with_deck(playing[0]), f"deck {playing[0]}, the one playing"
        return intent.with_deck(Deck.A), ""

    def _current(self, name: str, deck: Deck | None) -> float:
        c = self._levels.get((name, deck))
        return c.value if c else self.config.params[name].neutral

    def _tempo_target(self, intent: Intent) -> float:
        a = intent.args
        bpm = a["bpm"] if "bpm" in a else self.clock.tempo + a["delta_bpm"]
        return min(999.0, max(20.0, bpm))

    def grid_beats(self, grid: Grid) -> float:
        q = self.clock.quantum
        return {Grid.NOW: 0.0, Grid.BEAT: 1.0, Grid.BAR: q, Grid.PHRASE: q * self.config.phrase_bars}[grid]

    def _grid_beat(self, intent: Intent, now: float) -> float:
        """The beat an intent may happen on: the next safe grid line (or this one, within δ)."""
        cfg = self.config
        now_beat = self.clock.beat_at_time(now)
        earliest = self.clock.beat_at_time(now + cfg.min_lead + cfg.latency)
        q = self.clock.quantum
        if intent.kind is IntentKind.DROP and "bars" in intent.args:
            beat = last_boundary(now_beat, q) + intent.args["bars"] * q
            return beat if beat >= earliest else beat + q
        grid = self.grid_beats(cfg.grid.get(intent.kind, Grid.BEAT))
        if grid == 0.0:
            return earliest
        if intent.at_beat is not None and intent.at_beat > earliest:
            return next_boundary(intent.at_beat, grid)
        last = last_boundary(now_beat, grid)
        if 0.0 <= now_beat - last <= cfg.phase_window:
            return last
        return next_boundary(earliest, grid)

    def _say_when(self, beat: float, now: float) -> str:
        q = self.clock.quantum
        ahead = beat - self.clock.beat_at_time(now)
        if ahead <= self.config.phase_window:
            return "now"
        bar = int(beat // q) + 1
        pos = beat - (bar - 1) * q
        return f"at bar {bar} beat {pos + 1:g} (in {ahead:.2f} beats)"
