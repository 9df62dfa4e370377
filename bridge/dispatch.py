"""The dispatcher: one thread that puts every payload on the wire at its beat, and measures itself.

Items wait in a heap ordered by their provisional send time. The thread sleeps until `spin` seconds
before the head is due, then spins on the clock and sends at
``clock.time_at_beat(beat) − sink.output_latency`` recomputed from the freshest anchor (so a tempo
change or a Link re-anchor between scheduling and sending is honoured). Lateness (actual − due) of
every send is kept in a fixed ring and published as p50/p99/max.

Offline (rehearsal, `--out mix.wav`), nobody sleeps: the renderer calls `pump(until)` with virtual
time and gets exactly the same sends, in the same order.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .actions import Stream, Timed
from .clock import BeatClock
from .handover import HANDOVER

SPIN = 0.0015  # seconds of spinning before a deadline (timing.md: sleep to 1.5 ms, then spin)
# The GIL switch interval while a dispatcher runs: a thread running pure Python (a LOAD's library lookup,
# planning) keeps the dispatch thread waiting up to this long at each hand-over. bench/spine_load.py,
# a 1 s Python lookup beside the dispatcher: 0.5 ms → sends due meanwhile p50 0.26–0.33 ms, p99
# 1.24–1.64 ms; 0.2 ms → p50 0.06–0.07 ms, p99 0.92–0.98 ms.
SWITCH_INTERVAL = 0.0002
IMMEDIATE = float("-inf")
REAIM_TOLERANCE = 20e-6  # seconds: a payload handed over whose beat moved by less stays where it is
HANDED_WATCH = 0.005  # seconds: how often the grid is checked while payloads handed over are not yet due
REALTIME_PRIORITY = 60  # SCHED_FIFO, below JACK's audio threads (70)
HELPER_PRIORITY = 40  # short, sleeping threads of a set that take the GIL (Link anchors, MIDI in, OSC …)


def make_realtime(priority: int = REALTIME_PRIORITY) -> bool:
    """Give the calling thread real-time scheduling where the OS allows it; False if it does not.

    Why every short thread of a set wants it, not only the dispatcher: the dispatcher needs the GIL,
    and an ordinary thread holding the GIL can be preempted by another process for a whole timeslice
    (24 ms seen here). Threads these ones start (ASR, analysis) do not inherit it (RESET_ON_FORK).
    """
    if not hasattr(os, "sched_setscheduler"):
        return False
    policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        os.sched_setscheduler(0, policy, os.sched_param(priority))  # 0 = this thread on Linux
    except (OSError, ValueError):
        return False
    return True


def freeze_heap() -> None:
    """Once a set is up: everything alive now (modules, models, tables) leaves the collector's sight.

    A full collection walks every tracked object while holding the GIL, and so holds the dispatch
    thread too: over the ~70,000 objects a started session has, that is tens of milliseconds (measured
    in docs/benchmarks.md). Frozen, a full collection walks only what the set allocated since.
    """
    gc.collect()
    gc.freeze()


def thaw_heap() -> None:
    """The set is over: hand what was frozen back to the collector (a process may start another)."""
    gc.unfreeze()


class Sink(Protocol):
    """Anything that puts payloads on a wire (a target). Bookkeeping sinks set `internal = True`.
    A sink may also have `lead(payload) -> seconds`: hand that payload over so long before its time (its
    port puts it on the wire at the time itself; see bridge/handover.py)."""

    name: str
    output_latency: float

    def send(self, payload: Any) -> None: ...


@dataclass(order=True)
class _Item:
    due: float  # provisional hand-over time (due − lead), for heap order
    rank: int  # at the same instant, wires (0) go before internal bookkeeping (1)
    seq: int
    beat: float | None = field(compare=False)
    sink: Sink = field(compare=False)
    payload: Any = field(compare=False)
    action_id: str = field(compare=False)
    epoch: int = field(compare=False)
    stream: Iterator[Timed] | None = field(compare=False, default=None)  # where the next payload comes from
    guard: Callable[[], str | None] | None = field(compare=False, default=None)
    cut: float = field(compare=False, default=float("inf"))  # a withdrawn stream ends after this beat
    leader: _Item | None = field(compare=False, default=None)  # a tied payload follows this one
    popped: bool = field(compare=False, default=False)  # taken off the heap to be sent
    held: bool = field(compare=False, default=False)  # popped but not sent (a guard or a PANIC said no)
    lead: float = field(compare=False, default=0.0)  # handed over this long before its due time

    def bound_to_go(self) -> bool:
        """A tied payload whose leader went out (or is going out): it goes too, whatever is withdrawn."""
        return self.leader is not None and self.leader.popped and not self.leader.held


@dataclass(frozen=True)
class Sent:
    """One send, for the session log and for tests: what, when it was due, when it went."""

    sink: str
    payload: Any
    action_id: str
    beat: float | None
    due: float
    sent: float

    @property
    def lateness(self) -> float:
        return self.sent - self.due


@dataclass
class SinkTally:
    """What happened to one sink's payloads. Bumped by whoever sends, one at a time (the dispatcher's send
    lock): others read them to say how a target is doing."""

    sent: int = 0
    failed: int = 0
    withheld: int = 0  # a send-time guard said no (e.g. the deck started playing before a LOAD)
    recalled: int = 0  # handed to a port ahead of time, then withdrawn before it was due (PANIC, cancel)
    failing: int = 0  # failures in a row since the last send that went out (0: the wire works)
    error: BaseException | None = None  # the latest failure


class LatenessStats:
    """Lateness of the last N sends in a preallocated ring (no growth over a long set)."""

    def __init__(self, size: int = 65536) -> None:
        self._ring = np.zeros(size)
        self._n = 0

    def add(self, lateness: float) -> None:
        self._ring[self._n % len(self._ring)] = lateness
        self._n += 1

    def values(self) -> np.ndarray:
        return self._ring[: min(self._n, len(self._ring))].copy()

    @property
    def count(self) -> int:
        return self._n

    def recent(self, n: int) -> np.ndarray:
        """The last `n` (or fewer) lateness values, oldest first: a copy, read without stopping the sender."""
        total = self._n
        n = min(n, total, len(self._ring))
        if n <= 0:
            return np.zeros(0)
        idx = (np.arange(total - n, total) % len(self._ring))
        return self._ring[idx]

    def summary(self) -> dict[str, float]:
        v = self.values()
        if v.size == 0:
            return {"count": 0}
        ms = v * 1000.0
        return {
            "count": int(self._n),
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }


class Dispatcher:
    def __init__(
        self,
        clock: BeatClock,
        *,
        spin: float = SPIN,
        on_sent: Callable[[Sent], None] | None = None,
        on_error: Callable[[str, BaseException], None] | None = None,
        realtime: bool = True,
    ) -> None:
        self.clock = clock
        self.spin = spin
        self.listeners: list[Callable[[Sent], None]] = [on_sent] if on_sent is not None else []
        self.on_refused: Callable[[str, str], None] | None = None  # (action id, reason) from a guard
        self.on_error = on_error
        self.realtime = realtime
        self.is_realtime = False  # did the OS grant real-time scheduling to the thread?
        self.stats = LatenessStats()
        self.tally: dict[str, SinkTally] = {}  # by sink name
        self.recent: deque[Sent] = deque(maxlen=4096)
        self._heap: list[_Item] = []
        self._keyed_tempo = clock.tempo  # the tempo the heap's provisional times were computed at
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._epoch = 0
        self._sending: _Item | None = None  # off the heap and on its way out; its stream not yet refilled
        # Handed to a port ahead of its time (bridge/handover.py): (item, due, port tickets), oldest first,
        # so a PANIC or a cancel can still call them back from the port before they are due.
        self._handed: deque[tuple[_Item, float, tuple[tuple[Any, int], ...]]] = deque()
        self._thread: threading.Thread | None = None
        self._running = False
        self._send_lock = threading.RLock()  # one send at a time: the dispatch thread, or a scheduling thread

    # -- queueing (any thread) ------------------------------------------------------------------------
    def schedule(self, sink: Sink, items: Iterable[Timed | Stream]) -> int:
        n = 0
        with self._cond:
            before: _Item | None = None
            for item in items:
                if isinstance(item, Stream):
                    n += self._push_next(sink, item.items, self._epoch)
                    before = None
                else:
                    before = self._push(sink, item, self._epoch, leader=before if item.tied else None)
                    n += 1
            if n:
                self._cond.notify()
        if n and self._running:
            self._hand_over_now()
        return n

    def _hand_over_now(self) -> None:
        """Hand over, on the scheduling thread, what is already inside its port's lookahead (a move decided
        1.5 ms before its time): this thread holds the GIL now, and the dispatch thread might have to wait
        for it past the message's time. Plain payloads only, in queue order; a guard or a stream waits for
        the dispatch thread, as everything else does — and so does anything due at the same instant as one
        of those (at equal times a port keeps the hand-over order, which must stay the queue's order). Not
        only the head: a stream's next step due now must not hold up a move behind it."""
        now = self.clock.now()
        with self._send_lock:  # taking off the queue and handing over are one step (see _run)
            with self._cond:
                self._rekey()  # after a tempo change: the queue's times, and what waits in a port, first
                ready = sorted(i for i in self._heap if i.lead and i.due <= now)
                if not ready:
                    return
                take: list[_Item] = []
                blocked: set[float] = set()
                for item in ready:
                    if item.guard is not None or item.stream is not None or item.due in blocked:
                        blocked.add(item.due)
                    else:
                        take.append(item)
                if not take:
                    return
                taken = set(map(id, take))
                self._heap = [i for i in self._heap if id(i) not in taken]
                heapq.heapify(self._heap)
                for item in take:
                    item.popped = True
            for item in take:
                self._send(item, self._due(item.beat, item.sink))

    def _push(self, sink: Sink, item: Timed, epoch: int, stream: Iterator[Timed] | None = None,
              cut: float = float("inf"), leader: _Item | None = None) -> _Item:
        rank = 1 if getattr(sink, "internal", False) else 0
        lead = self._lead(sink, item.payload)
        queued = _Item(self._due(item.beat, sink) - lead, rank, next(self._seq), item.beat, sink, item.payload,
                       item.action_id, epoch, stream=stream, cut=cut, guard=item.guard, leader=leader, lead=lead)
        heapq.heappush(self._heap, queued)
        return queued

    def _push_next(self, sink: Sink, stream: Iterator[Timed], epoch: int, cut: float = float("inf"),
                   sent: _Item | None = None) -> int:
        """Queue a stream's next payload (call with the lock held). 0 when the stream is done.
        `sent` is the stream's payload that just went out: a tied successor follows it past any cut."""
        try:
            item = next(stream)
        except StopIteration:
            return 0
        except Exception as exc:  # noqa: BLE001 - a broken envelope must not stop the dispatcher
            if self.on_error is not None:
                self.on_error(sink.name, exc)
            return 0
        leader = sent if item.tied else None
        if item.beat is not None and item.beat > cut and leader is None:
            return 0
        self._push(sink, item, epoch, stream, cut, leader)
        return 1

    def _continue(self, head: _Item) -> None:
        """After sending a stream's payload, queue the next one (unless a PANIC came in between)."""
        with self._cond:
            self._sending = None
            if head.epoch == self._epoch:
                self._push_next(head.sink, head.stream, head.epoch, head.cut, sent=head)

    def withdraw(self, action_ids: Iterable[str], after_beat: float | None = None) -> None:
        """Drop the not-yet-sent payloads of these actions (only those after `after_beat`, if given)."""
        ids = set(action_ids)
        cut = IMMEDIATE if after_beat is None else after_beat
        with self._cond:
            keep = [i for i in self._heap
                    if i.action_id not in ids or (i.beat is not None and i.beat <= cut) or i.bound_to_go()]
            under_way = keep if self._sending is None else [*keep, self._sending]
            for item in under_way:
                if item.stream is not None and item.action_id in ids:
                    item.cut = min(item.cut, cut)  # a stream already under way ends at the cut
            if len(keep) != len(self._heap):
                heapq.heapify(keep)
                self._heap = keep
            self._recall(lambda i: i.action_id in ids and not (i.beat is not None and i.beat <= cut))
            self._cond.notify()

    def _recall(self, wanted: Callable[[_Item], bool]) -> None:
        """Call back from their ports the payloads handed over ahead and not due yet that `wanted` names
        (call with the lock held). What a port already put on the wire stays sent."""
        now = self.clock.now()
        for item, due, tickets in self._handed:
            if due < now or item.held or not wanted(item) or item.bound_to_go():
                continue
            back = [port.recall(ticket) for port, ticket in tickets]
            if all(back):
                item.held = True  # a tied payload after it is called back too
                tally = self.tally.get(item.sink.name)
                if tally is not None:
                    tally.sent -= 1
                    tally.recalled += 1

    def flush(self) -> int:
        """PANIC: forget everything queued. Returns how many payloads were dropped."""
        with self._cond:
            dropped = len(self._heap)
            self._heap.clear()
            self._epoch += 1
            self._recall(lambda i: True)
            self._cond.notify()
            return dropped

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    # -- the real-time thread -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        # timing.md: other Python threads delay this one by up to the GIL switch interval.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._running = True
        self._thread = threading.Thread(target=self._run, name="copilot-dispatch", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = False, timeout: float = 2.0) -> None:
        if drain:
            self._wait_empty(timeout)
        with self._cond:
            self._running = False
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _wait_empty(self, timeout: float) -> None:
        deadline = self.clock.now() + timeout
        while self.pending() and self.clock.now() < deadline:
            with self._cond:
                self._cond.wait(0.01)

    def _rekey(self) -> None:
        """After a tempo change, recompute every provisional time (call with the lock held): an item
        queued at the old tempo must not wait behind items keyed at the new one. Payloads already handed
        to a port ahead of time are moved too (see `_reaim`)."""
        tempo = self.clock.tempo
        if tempo != self._keyed_tempo:
            for item in self._heap:
                item.due = self._due(item.beat, item.sink) - item.lead
            heapq.heapify(self._heap)
            self._keyed_tempo = tempo
        if self._handed:
            self._reaim()

    def _reaim(self) -> None:
        """Payloads handed to a port ahead of time carry the due time of the grid they were handed over on;
        when the grid has moved since (a tempo change pivoting on a beat, a Link peer's tempo or phase),
        those not yet due are moved to their beat's new time, so they land on the beat — and in beat order
        with what is handed over later. Call with the lock held; a port that cannot move one (its callback
        took it already) keeps it where it was."""
        now = self.clock.now()
        # Checked on two: the newest (the furthest from a pivot) and the oldest still waiting — a thread
        # that hands over right after a tempo change puts new-grid payloads behind the old-grid ones.
        oldest = next((e for e in self._handed if e[1] > now and e[0].beat is not None), None)
        if oldest is None:
            return
        if all(abs(self._due(e[0].beat, e[0].sink) - e[1]) < REAIM_TOLERANCE
               for e in (oldest, self._handed[-1]) if e[0].beat is not None):
            return  # the grid has not moved
        moved: deque[tuple[_Item, float, tuple[tuple[Any, int], ...]]] = deque()
        for item, due, tickets in self._handed:
            if due > now and item.beat is not None and not item.held:
                new = self._due(item.beat, item.sink)
                if abs(new - due) >= REAIM_TOLERANCE:
                    again = []
                    for port, ticket in tickets:
                        reaim = getattr(port, "reaim", None)
                        fresh = reaim(ticket, new) if reaim is not None else None
                        again.append((port, ticket if fresh is None else fresh))
                    item, due, tickets = item, new, tuple(again)
            moved.append((item, due, tickets))
        self._handed = moved

    def _run(self) -> None:
        if self.realtime:
            self.is_realtime = make_realtime()
        now = self.clock.now
        while True:
            with self._cond:
                if not self._running:
                    return
                self._rekey()
                handed = bool(self._handed) and self._handed[-1][1] > now()  # some still wait in a port
                if not self._heap:
                    self._cond.wait(HANDED_WATCH if handed else 0.1)
                    continue
                head = self._heap[0]
                due = self._due(head.beat, head.sink)
                at = due - head.lead  # a port fed ahead of time needs no spinning: it keeps the time itself
                wait = at - now() - (0.0 if head.lead else self.spin)
                if wait > 0:
                    # while handed-over payloads wait in a port, a tempo change must reach them before
                    # they are due: look again soon (see _reaim)
                    self._cond.wait(min(wait, HANDED_WATCH if handed else 0.05))
                    continue  # re-read the head: something sooner may have arrived
            while not head.lead and now() < at:  # spin outside the lock
                pass
            # Off the queue and handed over in one step under the send lock: a thread handing over a move
            # (_hand_over_now) cannot slip its payload in between, so ports get payloads in queue order
            # (a 14-bit move's LSB never before its MSB).
            with self._send_lock:
                with self._cond:
                    if not self._heap or self._heap[0] is not head:
                        continue
                    heapq.heappop(self._heap)
                    head.popped = True
                    self._sending = head if head.stream is not None else None
                self._send(head, due)
            if head.stream is not None:
                self._continue(head)

    # -- offline ----------------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """Clock time the next queued item is due (None: nothing queued). For offline render."""
        with self._cond:
            if not self._heap:
                return None
            self._rekey()
            head = self._heap[0]
            return self._due(head.beat, head.sink)

    def pump(self, until: float) -> list[Sent]:
        """Send everything due up to `until` (clock time), in order, without waiting. For offline render."""
        out: list[Sent] = []
        while True:
            with self._cond:
                if not self._heap:
                    break
                self._rekey()
                head = self._heap[0]
                due = self._due(head.beat, head.sink)
                if due > until:
                    break
                heapq.heappop(self._heap)
                head.popped = True
                self._sending = head if head.stream is not None else None
            sent = self._send(head, due, at=max(due, self.clock.now()))
            if sent is not None:
                out.append(sent)
            if head.stream is not None:
                self._continue(head)
        return out

    # -- shared -------------------------------------------------------------------------------------------
    @staticmethod
    def _lead(sink: Sink, payload: Any) -> float:
        lead = getattr(sink, "lead", None)
        if lead is None:
            return 0.0
        try:
            return max(0.0, float(lead(payload)))
        except Exception:  # noqa: BLE001 - a sink that cannot say sends at the time, as before
            return 0.0

    def _due(self, beat: float | None, sink: Sink) -> float:
        if beat is None:
            return IMMEDIATE
        return self.clock.time_at_beat(beat) - sink.output_latency

    def _send(self, item: _Item, due: float, at: float | None = None) -> Sent | None:
        if item.epoch != self._epoch:  # queued before a PANIC
            item.held = True
            return None
        tally = self.tally.get(item.sink.name)
        if tally is None:
            tally = self.tally[item.sink.name] = SinkTally()
        if item.guard is not None:
            reason = item.guard()
            if reason:
                item.held = True
                tally.withheld += 1
                self.withdraw([item.action_id])
                if self.on_refused is not None:
                    self.on_refused(item.action_id, reason)
                return None
        t = self.clock.now() if at is None else at
        handover = HANDOVER
        if item.lead:
            handover.due = None if due == IMMEDIATE else due
            handover.tickets = []
        try:
            item.sink.send(item.payload)
        except Exception as exc:  # noqa: BLE001 - a dead port must not stop the other sends
            tally.failed += 1
            tally.failing += 1
            tally.error = exc
            if self.on_error is not None:
                self.on_error(item.sink.name, exc)
            return None
        finally:
            tickets, handover.due, handover.tickets = handover.tickets, None, None
        tally.sent += 1
        tally.failing = 0
        due = t if due == IMMEDIATE else due
        if tickets:  # handed over ahead: the port puts it on the wire at `due` (or at once, if that has passed)
            with self._cond:
                while self._handed and self._handed[0][1] < t - 0.1:
                    self._handed.popleft()
                self._handed.append((item, due, tuple(tickets)))
            t = max(t, due)
        sent = Sent(item.sink.name, item.payload, item.action_id, item.beat, due, t)
        if not item.rank:  # lateness is about wires, not bookkeeping
            self.stats.add(t - due)
        self.recent.append(sent)
        for listener in self.listeners:
            listener(sent)
        return sent
