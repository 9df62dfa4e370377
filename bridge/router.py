"""The router: accepted actions → the targets that can take them → the dispatcher.

Each action goes to every active target whose capabilities include it; the router calls the target's
`render` itself (pluggy only found the targets). It runs while the scheduler decides, so it never looks
anything up: a LOAD arrives with its track already resolved by the session. An action none of them can
take is never dropped silently: it goes to the adornment engine when one is running, and the
performer is told either way. TEMPO rides the dispatcher to the clock so it lands on its beat — unless a
Link peer moved the tempo meanwhile and the jump from there would break the tempo-jump rule. Every
accepted deck action is also kept in the `timeline` (where each deck's track sits on the clock), which
transitions align to. The copilot's own record of deck state changes when an action's first wire
message is actually sent — not before, and never for an action a PANIC or CANCEL withdrew.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from .actions import Action, ActionKind, Timed
from .clock import BeatClock
from .dispatch import Dispatcher, Sent
from .host import Capabilities, Target
from .state import HostState, own_effect
from .timeline import Timeline

# Actions that only mark a moment (their audible effect travels as envelopes): no target needed.
MARKERS = frozenset({ActionKind.DROP, ActionKind.TRANSITION})


class ClockSink:
    """TEMPO actions change the shared clock exactly on their beat."""

    name = "clock"
    output_latency = 0.0
    internal = True

    def __init__(self, clock: BeatClock) -> None:
        self.clock = clock

    def send(self, payload: Action) -> None:
        self.clock.set_tempo(float(payload.params["bpm"]), wait=False, at_beat=payload.beat)


class Router:
    def __init__(
        self,
        targets: Sequence[Target],
        dispatcher: Dispatcher,
        state: HostState,
        clock: BeatClock,
        report: Callable[[str], None],
        adornment: Target | None = None,
        tempo_jump_cap: float = 3.0,
    ) -> None:
        self.targets = list(targets)
        self.tempo_jump_cap = tempo_jump_cap  # BPM: the scheduler's rule, checked again at send time
        self.adornment = adornment
        self.dispatcher = dispatcher
        self.state = state
        self.report = report
        self.clock_sink = ClockSink(clock)
        self.clock = clock
        self.timeline = Timeline()
        self._effects: dict[str, Action] = {}  # actions that change a deck, until their first send
        self._effects_lock = threading.Lock()
        dispatcher.listeners.append(self.on_sent)
        dispatcher.on_refused = self._refused
        self._caps: dict[str, Capabilities] = {t.name: t.capabilities() for t in self.all_targets}

    @property
    def all_targets(self) -> list[Target]:
        return self.targets + ([self.adornment] if self.adornment is not None else [])

    @staticmethod
    def what(action: Action) -> ActionKind | str:
        """The capability an action needs: its parameter for envelopes/controls, else its kind."""
        if action.kind in (ActionKind.ENVELOPE, ActionKind.CONTROL):
            return str(action.params["param"])
        return action.kind

    # -- Outbox --------------------------------------------------------------------------------------
    def can(self, what: ActionKind | str) -> bool:
        """Can any active target (or the adornment engine) take this action kind or parameter?"""
        return any(caps.can(what) for caps in self._caps.values())

    def dispatch(self, actions: Sequence[Action]) -> None:
        for action in actions:
            self.timeline.record(action, self.clock.beat)
            if action.kind is ActionKind.TEMPO:
                guard = self._tempo_still_safe(action)
                self.dispatcher.schedule(self.clock_sink, [Timed(action.beat, action, action.id, guard=guard)])
            if action.deck is not None and own_effect(action):
                with self._effects_lock:
                    self._effects[action.id] = action
            self._route(action)

    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None:
        self.dispatcher.withdraw(action_ids, after_beat)
        self.timeline.withdraw(action_ids, after_beat)
        with self._effects_lock:
            for action_id in action_ids:
                action = self._effects.get(action_id)
                if action is not None and (after_beat is None or (action.beat or 0.0) > after_beat):
                    del self._effects[action_id]

    def panic(self, action: Action) -> None:
        self.dispatcher.flush()
        self.timeline.panic(self.clock.beat)
        with self._effects_lock:
            self._effects.clear()
        for target in self.all_targets:
            self._render(target, action)

    def _refused(self, action_id: str, reason: str) -> None:
        with self._effects_lock:
            self._effects.pop(action_id, None)
        self.report(f"✗ {reason}")

    def on_sent(self, sent: Sent) -> None:
        """Dispatch thread: the first wire message of a deck action makes its effect the copilot's record."""
        if not self._effects or sent.sink == self.clock_sink.name:
            return
        with self._effects_lock:
            action = self._effects.pop(sent.action_id, None)
        if action is not None:
            self.state.apply_sent(action)

    def takers(self, action: Action) -> list[Target]:
        """The targets an action goes to: those that can take it, else the adornment engine if it can."""
        need = self.what(action)
        takers = [t for t in self.targets if self._caps[t.name].can(need)]
        if takers or action.kind in MARKERS or action.kind is ActionKind.TEMPO:
            return takers
        if self.adornment is not None and self._caps[self.adornment.name].can(need):
            return [self.adornment]
        return []

    # -- internals -------------------------------------------------------------------------------
    def _route(self, action: Action) -> None:
        need = self.what(action)
        takers = self.takers(action)
        for target in takers:
            self._render(target, action)
        if action.kind in MARKERS or action.kind is ActionKind.TEMPO:
            return
        names = ", ".join(t.name for t in self.targets) or "no target"
        if takers and takers[0] is self.adornment:
            self.report(f"{names} cannot take {need}; the built-in engine plays it instead")
        elif not takers:
            self.report(f"{names} cannot take {need}; nothing was sent for it")

    def _render(self, target: Target, action: Action) -> None:
        try:
            items = target.render(action, self.state)
        except Exception as exc:  # noqa: BLE001 - one target's bug must not stop the others
            self.report(f"{target.name} could not render {action.kind.value}: {exc}")
            return
        guard = None
        if action.kind is ActionKind.LOAD and action.deck is not None:
            guard = self._deck_stopped(action)
        elif action.kind is ActionKind.TEMPO:
            guard = self._tempo_still_safe(action)
        if guard is not None:
            items = [replace(i, guard=guard) if isinstance(i, Timed) else i for i in items]
        self.dispatcher.schedule(target, items)

    def _tempo_still_safe(self, action: Action) -> Callable[[], str | None]:
        """Send-time check for TEMPO: a Link peer may have moved the tempo since the decision. The jump
        that was decided (or confirmed) was from `from_bpm`; from anywhere else, the cap holds again."""
        bpm = float(action.params["bpm"])
        decided_from = float(action.params.get("from_bpm", bpm))
        clock = self.clock_sink.clock

        def guard() -> str | None:
            now = clock.tempo
            moved = abs(now - decided_from) > 0.05  # Link's tempo jitters far below this
            jump = abs(bpm - now)
            if moved and jump > self.tempo_jump_cap:
                return (f"tempo to {bpm:g} BPM withdrawn: the Link session moved to {now:.1f} BPM meanwhile — "
                        f"a {jump:.1f} BPM jump would need a yes")
            return None

        return guard

    def _deck_stopped(self, action: Action) -> Callable[[], str | None]:
        """Send-time check for LOAD: the host may have started the deck since the decision."""
        deck = action.deck
        query = action.params.get("query", "")

        def guard() -> str | None:
            if self.state.deck(deck).playing:
                return f"load '{query}' to deck {deck} withdrawn: the deck started playing"
            return None

        return guard
