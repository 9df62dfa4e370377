"""The router: accepted actions → the targets that can take them → the dispatcher.

Each action goes to every active target whose capabilities include it. An action none of them can
take is never dropped silently: it goes to the adornment engine when one is running, and the
performer is told either way. Two internal sinks ride the same dispatcher so that their effects land
on the beat too: the clock (TEMPO) and the copilot's own record of deck state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from .actions import Action, ActionKind, Timed
from .clock import BeatClock
from .dispatch import Dispatcher
from .host import Capabilities, Target, TargetHost
from .state import HostState

# Actions that only mark a moment (their audible effect travels as envelopes): no target needed.
MARKERS = frozenset({ActionKind.DROP})


class ClockSink:
    """TEMPO actions change the shared clock exactly on their beat."""

    name = "clock"
    output_latency = 0.0
    internal = True

    def __init__(self, clock: BeatClock) -> None:
        self.clock = clock

    def send(self, payload: Action) -> None:
        self.clock.set_tempo(float(payload.params["bpm"]), wait=False)


class StateSink:
    """The copilot's own record of deck state, updated when each action's beat arrives."""

    name = "state"
    output_latency = 0.0
    internal = True

    def __init__(self, state: HostState) -> None:
        self.state = state

    def send(self, payload: Action) -> None:
        self.state.apply_sent(payload)


class Router:
    def __init__(
        self,
        host: TargetHost,
        targets: Sequence[Target],
        dispatcher: Dispatcher,
        state: HostState,
        clock: BeatClock,
        report: Callable[[str], None],
        adornment: Target | None = None,
        resolve_options: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.targets = list(targets)
        self.adornment = adornment
        self.dispatcher = dispatcher
        self.state = state
        self.report = report
        self.resolve_options = resolve_options or {}
        self.clock_sink = ClockSink(clock)
        self.state_sink = StateSink(state)
        self._caps: dict[str, Capabilities] = {t.name: host.capabilities(t.name) for t in self.all_targets}
        self.unsupported: list[tuple[str, str]] = []  # (action kind/param, where it went)

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
    def dispatch(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if action.kind is ActionKind.LOAD:
                action = self._resolve(action)
            if action.kind is ActionKind.TEMPO:
                self.dispatcher.schedule(self.clock_sink, [Timed(action.beat, action, action.id)])
            if action.deck is not None and action.kind not in (ActionKind.ENVELOPE, ActionKind.CONTROL):
                self.dispatcher.schedule(self.state_sink, [Timed(action.beat, action, action.id)])
            self._route(action)

    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None:
        self.dispatcher.withdraw(action_ids, after_beat)

    def panic(self, action: Action) -> None:
        self.dispatcher.flush()
        for target in self.all_targets:
            self._render(target, action)

    # -- internals -------------------------------------------------------------------------------
    def _route(self, action: Action) -> None:
        need = self.what(action)
        takers = [t for t in self.targets if self._caps[t.name].can(need)]
        for target in takers:
            self._render(target, action)
        if takers or action.kind in MARKERS or action.kind is ActionKind.TEMPO:
            return
        names = ", ".join(t.name for t in self.targets) or "no target"
        if self.adornment is not None and self._caps[self.adornment.name].can(need):
            self._render(self.adornment, action)
            self.unsupported.append((str(need), self.adornment.name))
            self.report(f"{names} cannot take {need}; the built-in engine plays it instead")
        else:
            self.unsupported.append((str(need), ""))
            self.report(f"{names} cannot take {need}; nothing was sent for it")

    def _render(self, target: Target, action: Action) -> None:
        try:
            items = self.host.render(target.name, action, self.state)
        except Exception as exc:
            self.report(f"{target.name} could not render {action.kind.value}: {exc}")
            return
        self.dispatcher.schedule(target, items)

    def _resolve(self, action: Action) -> Action:
        query = str(action.params.get("query", ""))
        try:
            found = self.host.resolve_load(query, self.resolve_options)
        except Exception as exc:
            self.report(f"could not look up '{query}': {exc}")
            return action
        if not found:
            return action
        title = found.get("title") or found.get("path")
        self.report(f"load '{query}': picked {title}" + (f" ({found['why']})" if found.get("why") else ""))
        return replace(action, params={**action.params, "resolved": found, "title": title})
