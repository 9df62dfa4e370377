"""Scheduler actions → engine commands (the engine's "wire format"), and applying them.

`render_action` runs when the scheduler accepts an action; it returns `Timed(beat, EngineCmd)` items
that the dispatcher hands to the target's `send` a little ahead of their beat; `apply` turns one
command into a ring write. Both are cheap and never block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from copilot.bridge.actions import Action, ActionKind, Timed

from .engine import Engine
from .layout import DECK_LANES, GLOBAL_LANES

ENGINE_PARAMS = frozenset(DECK_LANES + GLOBAL_LANES) - {"adorn_gain"}
DISCRETE = {
    ActionKind.PLAY: "play", ActionKind.PAUSE: "pause", ActionKind.CUE: "cue", ActionKind.SYNC: "sync",
    ActionKind.EXIT_LOOP: "exit_loop", ActionKind.FX_OFF: "fx_off",
}


@dataclass(frozen=True, slots=True)
class EngineCmd:
    """One command for the engine, due on `beat` (None = at once)."""

    op: str
    deck: int | None = None
    beat: float | None = None
    args: tuple[Any, ...] = ()

    def to_log(self) -> dict[str, Any]:
        args = self.args
        if self.op == "envelope":
            args = (args[0], f"{len(args[1])} corners")
        return {"engine": self.op, "deck": "ABCD"[self.deck] if self.deck is not None else None,
                "beat": self.beat, "args": list(args)}


def render_action(action: Action) -> list[Timed]:
    """The engine commands for one accepted action (empty when the engine has nothing to do)."""
    k, b = action.kind, action.beat
    deck = action.deck.index if action.deck is not None else None

    def one(op: str, *args: Any, beat: float | None = b, d: int | None = deck) -> list[Timed]:
        return [Timed(beat, EngineCmd(op, d, beat, tuple(args)), action.id)]

    if k in DISCRETE:
        return one(DISCRETE[k])
    if k is ActionKind.LOOP:
        return one("loop", float(action.params["beats"]))
    if k is ActionKind.HOTCUE:
        return one("hotcue", int(action.params["n"]))
    if k is ActionKind.FX:
        return one("fx", str(action.params.get("name", "echo")), float(action.params.get("amount", 1.0)))
    if k is ActionKind.LOAD:
        return one("load", dict(action.params))
    if k is ActionKind.TEMPO:
        return one("tempo", float(action.params["bpm"]), d=None)
    if k is ActionKind.CONTROL:
        name = action.params["param"]
        if name not in ENGINE_PARAMS:
            return []
        return one("control", name, float(action.params["value"]))
    if k is ActionKind.ENVELOPE and action.envelope is not None:
        env = action.envelope
        if env.param not in ENGINE_PARAMS:
            return []
        corners = tuple(env.segments(start_value=action.params.get("start_value")))
        return one("envelope", env.param, corners, beat=env.start)
    if k is ActionKind.PANIC:
        return one("panic", beat=None, d=None)
    return []  # DROP: the envelopes that come with it do the work


def apply(engine: Engine, cmd: EngineCmd) -> bool:
    """Write one command into the engine's ring (False when the ring was full)."""
    op, d, b, a = cmd.op, cmd.deck, cmd.beat, cmd.args
    if op in ("play", "pause", "cue", "sync", "exit_loop", "fx_off"):
        return getattr(engine, op)(d, b)
    if op == "loop":
        return engine.loop(d, a[0], b)
    if op == "hotcue":
        return engine.hotcue(d, a[0], b)
    if op == "fx":
        return engine.fx(d, a[0], a[1], b)
    if op == "control":
        return all(engine.control(a[0], a[1], deck, b) for deck in _decks(engine, a[0], d))
    if op == "envelope":
        return all(engine.envelope(a[0], a[1], deck) for deck in _decks(engine, a[0], d))
    if op == "panic":
        return engine.panic()
    if op == "stretch":  # key-lock / key shift: the plan (slot, ratio) the target made ahead of the beat
        return engine.stretch(d, int(a[0][0]), float(a[0][1]), b)
    raise ValueError(f"the engine cannot apply {op!r} here")


def _decks(engine: Engine, name: str, deck: int | None) -> list[int | None]:
    """A deck parameter sent without a deck moves every deck; a global one ignores the deck."""
    if name not in DECK_LANES:
        return [None]
    return [deck] if deck is not None else list(range(engine.decks))
