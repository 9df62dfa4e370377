"""What the bridge believes about each deck: from the host's feedback where it gives any, else from
the copilot's own record of what it sent. Safety rules read this; they must know which it is."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from copilot.intents.schema import Deck

from .actions import Action, ActionKind
from .clock import host_time


class Truth(StrEnum):
    HOST = "host"  # the host told us (feedback on Copilot In)
    OWN = "own"  # our own record of what we sent
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeckState:
    playing: bool = False
    loop: bool = False
    loaded: bool | None = None  # None = unknown
    track: str | None = None
    bpm: float | None = None
    hotcues: frozenset[int] = frozenset()
    truth: Truth = Truth.UNKNOWN
    updated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "playing": self.playing, "loop": self.loop, "loaded": self.loaded, "track": self.track,
            "bpm": self.bpm, "hotcues": sorted(self.hotcues), "truth": self.truth.value,
        }


@dataclass(frozen=True)
class DeckUpdate:
    """One piece of host feedback, already decoded by a target: e.g. DeckUpdate(Deck.A, playing=True)."""

    deck: Deck
    fields: dict[str, Any] = field(default_factory=dict)


class HostState:
    """Deck states behind a lock (read by the scheduler, written by feedback and dispatch threads)."""

    def __init__(self, decks: int = 4) -> None:
        self._lock = threading.Lock()
        self._decks: dict[Deck, DeckState] = {Deck.from_index(i): DeckState() for i in range(decks)}
        self.feedback_seen = False  # has the host ever talked back?
        self.last_feedback: float | None = None

    def deck(self, deck: Deck) -> DeckState:
        with self._lock:
            return self._decks.get(deck, DeckState())

    def decks(self) -> dict[Deck, DeckState]:
        with self._lock:
            return dict(self._decks)

    def apply_feedback(self, update: DeckUpdate) -> None:
        """Host truth wins over our own record, field by field."""
        now = host_time()
        with self._lock:
            old = self._decks.get(update.deck, DeckState())
            fields = dict(update.fields)
            if "hotcue_set" in fields:  # (n, set?) → the set of hot cues
                n, is_set = fields.pop("hotcue_set")
                fields["hotcues"] = old.hotcues | {n} if is_set else old.hotcues - {n}
            self._decks[update.deck] = replace(old, truth=Truth.HOST, updated=now, **fields)
            self.feedback_seen = True
            self.last_feedback = now

    def apply_sent(self, action: Action) -> None:
        """Our own record: what the deck will be doing once this action has been sent."""
        if action.deck is None:
            return
        change = own_effect(action)
        if not change:
            return
        with self._lock:
            old = self._decks.get(action.deck, DeckState())
            if old.truth is Truth.HOST:
                # The host's word stands, except where ours is the safer belief: a PLAY we sent makes the
                # deck count as playing at once (never load onto it meanwhile); only the host's own
                # feedback may say a deck has stopped.
                change = {k: v for k, v in change.items()
                          if k not in ("playing", "loop", "loaded") or v is True}
                truth = Truth.HOST
            else:
                truth = Truth.OWN
            self._decks[action.deck] = replace(old, truth=truth, updated=host_time(), **change)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {d.value: s.to_dict() for d, s in self._decks.items()}


def own_effect(action: Action) -> dict[str, Any]:
    """How an action changes a deck, as far as the copilot itself can tell."""
    match action.kind:
        case ActionKind.PLAY:
            return {"playing": True}
        case ActionKind.PAUSE | ActionKind.CUE:
            return {"playing": False}
        case ActionKind.LOOP:
            return {"loop": True}
        case ActionKind.EXIT_LOOP:
            return {"loop": False}
        case ActionKind.LOAD:
            return {"loaded": True, "playing": False, "loop": False,
                    "track": action.params.get("title") or action.params.get("query")}
        case _:
            return {}
