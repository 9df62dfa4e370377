"""Actions (what the scheduler decided, stamped on the grid) and the wire payloads targets send."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from copilot.intents.schema import Deck, Intent, Source

from .envelope import Envelope


class ActionKind(StrEnum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    CUE = "CUE"
    SYNC = "SYNC"
    LOOP = "LOOP"  # params: beats
    EXIT_LOOP = "EXIT_LOOP"
    LOAD = "LOAD"  # params: query (and, when the session's lookup found the track, resolved + title)
    HOTCUE = "HOTCUE"  # params: n
    FX = "FX"  # params: name, amount — FX unit on at a depth
    FX_OFF = "FX_OFF"  # params: name
    TEMPO = "TEMPO"  # params: bpm (absolute, already resolved from a delta)
    DROP = "DROP"  # the downbeat where a build releases
    ENVELOPE = "ENVELOPE"  # a parameter moving over beats (envelope)
    CONTROL = "CONTROL"  # one continuous value now, from SafetyScheduler.move (params: param, value)
    PANIC = "PANIC"  # everything neutral, right now
    KEYLOCK = "KEYLOCK"  # params: on — key-lock on or off (engines that stretch)
    KEY = "KEY"  # params: delta | semitones | match — key shift (engines that stretch)
    TRANSITION = "TRANSITION"  # marks a transition's start (params: the plan's id, template, decks, beats)


_ids = itertools.count(1)


def _action_id() -> str:
    return f"a{next(_ids)}"


@dataclass(frozen=True)
class Action:
    """An intent the scheduler accepted: what, on which deck, on which beat of the shared grid.

    `beat` None means immediate (PANIC). `time` is the host time the beat mapped to when decided;
    the dispatcher recomputes it from the freshest clock anchor before sending.
    """

    kind: ActionKind
    deck: Deck | None
    beat: float | None
    time: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    envelope: Envelope | None = None
    intent_id: str = ""
    source: Source | None = None
    lamport: int = 0
    id: str = field(default_factory=_action_id)

    @property
    def immediate(self) -> bool:
        return self.beat is None

    @classmethod
    def from_intent(cls, intent: Intent, kind: ActionKind, beat: float | None, time: float | None,
                    **kw: Any) -> Action:
        return cls(kind=kind, deck=intent.deck, beat=beat, time=time, intent_id=intent.id,
                   source=intent.source, lamport=intent.lamport, **kw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "deck": self.deck.value if self.deck else None,
            "beat": self.beat,
            "time": self.time,
            "params": dict(self.params),
            "envelope": self.envelope.to_dict() if self.envelope else None,
            "intent_id": self.intent_id,
            "source": self.source.value if self.source else None,
            "lamport": self.lamport,
        }


# -- what goes on the wire ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MidiOut:
    """Raw MIDI bytes for one of the target's output ports ("out" = Copilot Out)."""

    data: bytes
    port: str = "out"

    def to_log(self) -> dict[str, Any]:
        return {"midi": self.data.hex(" "), "port": self.port}


@dataclass(frozen=True, slots=True)
class OscOut:
    address: str
    args: tuple[Any, ...] = ()

    def to_log(self) -> dict[str, Any]:
        return {"osc": self.address, "args": list(self.args)}


@dataclass(frozen=True, slots=True)
class Timed:
    """One payload due on one beat (None = now). Targets' render() returns these.

    `guard`, if set, is asked at send time: a reason string stops this payload and the rest of its
    action (the host may have changed its mind since the decision, a beat earlier).
    `tied` marks the second half of a pair that must never be split (a 14-bit CC's LSB): once the
    payload before it has gone out, withdrawing the action no longer holds this one back, since an
    MSB without its LSB puts the control on a value nobody asked for.
    """

    beat: float | None
    payload: Any
    action_id: str = ""
    guard: Callable[[], str | None] | None = None
    tied: bool = False

    def __post_init__(self) -> None:
        if self.beat is not None and not math.isfinite(self.beat):
            raise ValueError("a timed payload needs a finite beat or None for 'now'")


@dataclass(frozen=True)
class Stream:
    """A lazy run of timed payloads in beat order (an envelope as CC). The dispatcher holds one entry per
    stream and pulls the next payload after sending the current one, so a long envelope costs the
    decision path nothing and withdrawing its action stops it."""

    items: Iterator[Timed]
    action_id: str = ""
