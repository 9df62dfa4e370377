"""Where each deck's track sits on the clock: which track a deck holds, and which clock beat its first
beat sounds on while it plays.

Transitions align to the phrases of the tracks, so the bridge keeps — from the copilot's own accepted
actions, as the router hands them on — the track a LOAD put on each deck (the library's answer, with
its phrases) and, while the deck plays, the clock beat of the track's beat 0: a LOAD sets the cue, a
PLAY anchors the track on its beat, a PAUSE or CUE stops it. A loop, a hot-cue jump or a sync nudge
moves the play head where our record cannot follow: the position becomes unknown (a sync keeps it to
the nearest whole beat). Actions are recorded when decided, on their future beats; a withdrawn or
panicked action is taken back. A deck started by hand on the host has no anchor here, and the planner
then falls back to the clock's own 32-beat grid.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from copilot.intents.schema import Deck

from .actions import Action, ActionKind

KEPT = frozenset({ActionKind.LOAD, ActionKind.PLAY, ActionKind.PAUSE, ActionKind.CUE, ActionKind.LOOP,
                  ActionKind.EXIT_LOOP, ActionKind.HOTCUE, ActionKind.SYNC})
HISTORY = 512  # tracks remembered as played this session


@dataclass(frozen=True)
class DeckTrack:
    """A deck as our own record has it at one beat."""

    track: Mapping[str, Any] | None = None  # the library's answer for the LOAD (path, title, bpm, key, phrases …)
    playing: bool = False
    anchor: float | None = None  # clock beat of track beat 0 while playing (None: unknown)
    position: float | None = 0.0  # track beat of the play head while stopped (None: unknown)
    cue: float = 0.0  # where the track was loaded to start (track beat)

    def track_beat(self, clock_beat: float) -> float | None:
        """Where the play head is at `clock_beat`, if known."""
        if self.playing:
            return None if self.anchor is None else clock_beat - self.anchor
        return self.position

    def to_dict(self) -> dict[str, Any]:
        title = (self.track or {}).get("title") or (self.track or {}).get("query")
        return {"track": title, "playing": self.playing, "anchor": self.anchor, "position": self.position}


@dataclass(order=True)
class _Event:
    beat: float
    seq: int
    action_id: str = field(compare=False)
    kind: ActionKind = field(compare=False)
    params: Mapping[str, Any] = field(compare=False, default_factory=dict)


def _apply(state: DeckTrack, event: _Event) -> DeckTrack:
    b, p = event.beat, event.params
    match event.kind:
        case ActionKind.LOAD:
            track = p.get("resolved") or {"title": p.get("title") or p.get("query")}
            cue = float(p.get("cue") or 0.0)
            return DeckTrack(track=dict(track), playing=False, anchor=None, position=cue, cue=cue)
        case ActionKind.PLAY if not state.playing:
            anchor = None if state.position is None else b - state.position
            return replace(state, playing=True, anchor=anchor)
        case ActionKind.PAUSE if state.playing:
            return replace(state, playing=False, position=state.track_beat(b), anchor=None)
        case ActionKind.CUE:
            return replace(state, playing=False, position=state.cue, anchor=None)
        case ActionKind.SYNC if state.anchor is not None:
            return replace(state, anchor=float(round(state.anchor)))
        case ActionKind.LOOP | ActionKind.EXIT_LOOP | ActionKind.HOTCUE:
            return replace(state, anchor=None, position=None)
        case _:
            return state


class Timeline:
    """Per deck: a settled state, plus the decided actions still ahead (or just behind) of now."""

    def __init__(self, decks: int = 4) -> None:
        self._lock = threading.Lock()
        self._base: dict[Deck, DeckTrack] = {Deck.from_index(i): DeckTrack() for i in range(decks)}
        self._events: dict[Deck, list[_Event]] = {d: [] for d in self._base}
        self._seq = 0
        self._played: list[Mapping[str, Any]] = []

    def record(self, action: Action, now_beat: float | None = None) -> None:
        """An accepted action (router thread of the decision). Cheap: a list insert."""
        if action.deck is None or action.kind not in KEPT or action.beat is None:
            return
        with self._lock:
            self._seq += 1
            events = self._events.setdefault(action.deck, [])
            events.append(_Event(action.beat, self._seq, action.id, action.kind, action.params))
            events.sort()
            if action.kind is ActionKind.PLAY:
                track = self._state(action.deck, action.beat).track
                if track:
                    self._played.append(track)
                    del self._played[:-HISTORY]
            if now_beat is not None:
                self._settle(now_beat)

    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None:
        ids = set(action_ids)
        with self._lock:
            for deck, events in self._events.items():
                self._events[deck] = [e for e in events if e.action_id not in ids
                                      or (after_beat is not None and e.beat <= after_beat)]

    def panic(self, now_beat: float) -> None:
        """PANIC flushed everything not yet sent: only what is behind us stands."""
        with self._lock:
            for deck, events in self._events.items():
                self._events[deck] = [e for e in events if e.beat <= now_beat]

    def at(self, deck: Deck, beat: float) -> DeckTrack:
        with self._lock:
            return self._state(deck, beat)

    def played(self) -> list[Mapping[str, Any]]:
        """Tracks this session has started, oldest first."""
        with self._lock:
            return list(self._played)

    def _state(self, deck: Deck, beat: float) -> DeckTrack:
        state = self._base.get(deck, DeckTrack())
        for event in self._events.get(deck, []):
            if event.beat > beat:
                break
            state = _apply(state, event)
        return state

    def _settle(self, now_beat: float) -> None:
        """Fold events well behind us into the base (nothing withdraws what was sent long ago)."""
        horizon = now_beat - 64.0
        for deck, events in self._events.items():
            done = [e for e in events if e.beat < horizon]
            if done:
                state = self._base.get(deck, DeckTrack())
                for event in done:
                    state = _apply(state, event)
                self._base[deck] = state
                self._events[deck] = events[len(done):]
