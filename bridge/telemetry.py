"""Telemetry: what the session shows outside itself (the stage view, the terminal's status line).

Readers run on threads of their own and pull; writers pay almost nothing, and the dispatch thread
writes nothing here at all:

- `snapshot()` — the clock, the decks, the queue of upcoming actions, the transitions decided and not
  over, and the questions waiting for a yes, built on the reader's thread. The decks' tracks and play
  heads come from the router's timeline (the record the mixer plans with), so every target shows them.
  The queue is kept by a tap between the scheduler and the router (`watch`): every accepted action is
  noted under a lock held for a dict update, and forgotten when it is withdrawn, swept away by PANIC, or
  its last beat has passed. Any action with an envelope (a filter move, a build, a transition's
  crossfader and EQ curves) carries its breakpoints, so a view can draw it.
- `publish(kind, obj)` — a discrete event (a decision, what voice heard): one append to a bounded ring
  and a wake-up. The reader turns the object into JSON, never the thread that published it.
- `lateness()` — the dispatcher's own measurements of its sends, from its ring: p50, p99, max and a
  histogram.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .actions import Action, ActionKind
from .clock import BeatClock, next_boundary
from .dispatch import Dispatcher
from .scheduler import Decision, Outbox, SafetyScheduler
from .state import HostState
from .timeline import Timeline

EVENTS = 512  # discrete events kept for readers that fell behind (a reader further back skips ahead)
LATENESS_WINDOW = 4096  # the sends the lateness figures cover (the latest)
# Histogram edges in ms: where a send's lateness falls (a JACK period at 48 kHz / 64 frames is 1.33 ms).
LATENESS_EDGES_MS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, math.inf)
TRANSITION_KEYS = ("id", "intent_id", "template", "out", "in", "start", "end", "bars", "state", "source", "why",
                   "notes")
QUEUE_PRUNE = 256  # queued actions kept before the writer itself drops those already played
# Continuous moves (motion, faders) come many times a second and are sent at once: not queue items.
NOT_QUEUED = frozenset({ActionKind.CONTROL})


@dataclass
class _Queued:
    action: Action
    end: float  # the beat after which it has happened (an envelope's last breakpoint)
    what: str = ""  # the intent in the performer's words
    reason: str = ""  # the scheduler's decision
    item: dict[str, Any] | None = None  # as readers see it; built once, again only when the above change

    def shown(self) -> dict[str, Any]:
        if self.item is None:
            self.item = queue_item(self.action, self.end, self.what, self.reason)
        return self.item


class _Tap:
    """The scheduler's outbox, seen by the telemetry on its way to the router (see `Telemetry.watch`)."""

    def __init__(self, telemetry: Telemetry, outbox: Outbox) -> None:
        self.telemetry = telemetry
        self.outbox = outbox

    def dispatch(self, actions: Sequence[Action]) -> None:
        self.telemetry._queue_actions(actions)
        self.outbox.dispatch(actions)

    def withdraw(self, action_ids: Sequence[str], after_beat: float | None = None) -> None:
        self.outbox.withdraw(action_ids, after_beat)
        self.telemetry._withdraw(action_ids, after_beat)

    def panic(self, action: Action) -> None:
        self.outbox.panic(action)
        self.telemetry._clear()


class Telemetry:
    def __init__(self, clock: BeatClock, state: HostState, scheduler: SafetyScheduler, dispatcher: Dispatcher,
                 phrase_bars: int = 8) -> None:
        self.clock = clock
        self.state = state
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.phrase_bars = phrase_bars
        self._lock = threading.Lock()  # held for dict/deque updates only
        self._queued: dict[str, _Queued] = {}
        self.timeline: Timeline | None = None  # the router's record of each deck's track (set by `watch`)
        self._events: deque[tuple[int, str, Any]] = deque(maxlen=EVENTS)
        self._seq = 0
        self._wake = threading.Event()

    # -- writers --------------------------------------------------------------------------------------
    def watch(self, outbox: Outbox) -> Outbox:
        """The outbox to give the scheduler: the same one, with every action noted on its way through."""
        self.timeline = getattr(outbox, "timeline", None)
        return _Tap(self, outbox)

    def decided(self, decision: Decision) -> None:
        """A decision was made: its reason goes onto its queued actions, and readers hear of it."""
        what = decision.intent.describe()
        with self._lock:
            for action in decision.actions:
                queued = self._queued.get(action.id)
                if queued is not None:
                    queued.what, queued.reason, queued.item = what, decision.reason, None
        self.publish("decision", decision)

    def publish(self, kind: str, obj: Any) -> None:
        """A discrete event for every reader (the object is turned into JSON by the reader)."""
        with self._lock:
            self._seq += 1
            self._events.append((self._seq, kind, obj))
        self._wake.set()

    def _queue_actions(self, actions: Sequence[Action]) -> None:
        with self._lock:
            if len(self._queued) > QUEUE_PRUNE:  # nobody has read for a while (no view): forget what played
                self._prune(self.clock.beat)
            for a in actions:
                if a.kind in NOT_QUEUED or a.beat is None:
                    continue
                end = a.envelope.end if a.envelope is not None else a.beat
                self._queued[a.id] = _Queued(a, end, what=a.kind.value)

    def _withdraw(self, action_ids: Sequence[str], after_beat: float | None) -> None:
        with self._lock:
            for action_id in action_ids:
                queued = self._queued.get(action_id)
                if queued is None:
                    continue
                if after_beat is None or (queued.action.beat or 0.0) > after_beat:
                    del self._queued[action_id]
                else:  # under way: it ends at the cut
                    queued.end, queued.item = min(queued.end, after_beat), None

    def _prune(self, beat: float) -> None:
        for action_id in [i for i, q in self._queued.items() if q.end < beat]:
            del self._queued[action_id]

    def _clear(self) -> None:
        with self._lock:
            self._queued.clear()

    # -- readers --------------------------------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """Block until something is published (True) or `timeout` passes (False)."""
        woke = self._wake.wait(timeout)
        self._wake.clear()
        return woke

    def events_since(self, seq: int) -> tuple[int, list[tuple[str, Any]]]:
        """Events after `seq` (kind, object), and the sequence number to ask from next time."""
        with self._lock:
            fresh = [(k, o) for s, k, o in self._events if s > seq]
            return self._seq, fresh

    def snapshot(self) -> dict[str, Any]:
        """The clock, the decks, the queue and the questions, as JSON-ready data, at one clock instant."""
        clock = self.clock
        anchor = clock.anchor
        t = clock.now()
        beat = anchor.beat_at_time(t)
        tempo = anchor.tempo
        quantum = clock.quantum
        phrase = quantum * self.phrase_bars
        with self._lock:
            self._prune(beat)
            queued = sorted(self._queued.values(), key=lambda q: (q.action.beat or 0.0, q.action.id))
            queue = [q.shown() for q in queued]
        return {
            "t": t, "tempo": tempo, "beat": beat, "phase": beat % quantum, "quantum": quantum,
            "phrase_beats": phrase, "playing": bool(clock.playing), "link_peers": int(clock.peers),
            "decks": self._decks(beat, phrase), "queue": queue, "transitions": self._transitions(),
            "pending": self._pending(t),
        }

    def _decks(self, beat: float, phrase: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for deck, s in self.state.decks().items():
            own = self.timeline.at(deck, beat) if self.timeline is not None else None
            track = dict(own.track) if own is not None and own.track else {}
            head = own.track_beat(beat) if own is not None and own.track else None
            out[deck.value] = {
                "track": s.track or track.get("title") or track.get("query"), "playing": s.playing,
                "loop": s.loop, "loaded": s.loaded, "bpm": s.bpm if s.bpm is not None else track.get("bpm"),
                "key": track.get("key"), "truth": s.truth.value, "position": head,
                "time_left": None,  # a target that knows the track's length says it (the engine)
                "next_phrase": next_boundary(beat, phrase) - beat,  # on the shared grid, until a target knows
            }
        return out

    def _transitions(self) -> list[dict[str, Any]]:
        """The transitions decided and not over, as the view shows them (their curves are queue items)."""
        return [{k: t.get(k) for k in TRANSITION_KEYS} for t in self.scheduler.transitions()]

    def intent_of(self, some_id: str) -> str:
        """The intent a queued action belongs to (the page's ✕ names an action); any other id as given.
        The scheduler withdraws intents by their own id only: this is where an action's id is looked up."""
        with self._lock:
            queued = self._queued.get(some_id)
        return queued.action.intent_id if queued is not None and queued.action.intent_id else some_id

    def _pending(self, now: float) -> list[dict[str, Any]]:
        return [{"id": intent.id, "what": intent.describe(), "reason": reason, "source": intent.source.value,
                 "expires_in": max(0.0, expires - now)}
                for intent, reason, expires in self.scheduler.awaiting()]

    def lateness(self) -> dict[str, Any]:
        """The dispatcher's latest sends: count, p50/p99/max in ms and a histogram over LATENESS_EDGES_MS."""
        stats = self.dispatcher.stats
        ms = stats.recent(LATENESS_WINDOW) * 1000.0
        edges = [e for e in LATENESS_EDGES_MS if math.isfinite(e)]
        if ms.size == 0:
            return {"count": 0, "window": 0, "edges_ms": edges, "histogram": [0] * len(edges)}
        counts = np.histogram(np.clip(ms, 0.0, None), bins=np.array(LATENESS_EDGES_MS))[0]
        p50, p99 = np.percentile(ms, [50, 99])
        return {"count": stats.count, "window": int(ms.size), "p50_ms": float(p50), "p99_ms": float(p99),
                "max_ms": float(ms.max()), "edges_ms": edges, "histogram": [int(c) for c in counts]}


def queue_item(action: Action, end: float, what: str, reason: str) -> dict[str, Any]:
    """One upcoming action as the stage view shows it."""
    env = action.envelope
    return {
        "id": action.id, "kind": action.kind.value, "deck": action.deck.value if action.deck else None,
        "due": action.beat, "end": end, "source": action.source.value if action.source else None,
        "intent": action.intent_id, "what": what, "reason": reason, "param": action.params.get("param"),
        "envelope": [[p.beat, p.value, p.curve.value] for p in env.points] if env is not None else None,
    }
