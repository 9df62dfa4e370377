"""The dispatcher: order, latency compensation, withdraw, panic flush, offline pump, and the real thread."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from copilot.bridge.actions import Timed
from copilot.bridge.clock import InternalClock, ManualClock
from copilot.bridge.dispatch import Dispatcher


class Recorder:
    def __init__(self, name: str = "wire", latency: float = 0.0, clock=None) -> None:
        self.name = name
        self.output_latency = latency
        self.clock = clock
        self.got: list[tuple[object, float]] = []

    def send(self, payload: object) -> None:
        self.got.append((payload, self.clock.now() if self.clock else 0.0))


def test_pump_sends_in_beat_order_compensating_each_sinks_latency():
    clock = ManualClock(120.0)  # 0.5 s per beat
    fast, slow = Recorder("fast"), Recorder("slow", latency=0.2)
    d = Dispatcher(clock)
    d.schedule(fast, [Timed(2.0, "fast@2"), Timed(1.0, "fast@1")])
    d.schedule(slow, [Timed(1.0, "slow@1")])
    assert d.pump(0.29) == []
    sent = d.pump(0.5)  # slow@1 is due 0.2 s early, at 0.3 s; fast@1 at 0.5 s
    assert [s.payload for s in sent] == ["slow@1", "fast@1"]
    assert [s.due for s in sent] == [0.3, 0.5]
    assert [s.payload for s in d.pump(10)] == ["fast@2"]


def test_due_time_follows_a_tempo_change_made_after_scheduling():
    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    sink = Recorder()
    d.schedule(sink, [Timed(8.0, "bar 3")])
    clock.set_tempo(60.0)  # at t = 0: beat 8 is now 8 s away, not 4 s
    assert d.pump(5.0) == []
    assert d.pump(8.0)[0].due == 8.0


def test_withdraw_after_a_beat_and_flush():
    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    sink = Recorder()
    d.schedule(sink, [Timed(b, f"x{b}", "env") for b in (1.0, 2.0, 3.0)] + [Timed(2.5, "other", "keep")])
    d.withdraw(["env"], after_beat=2.0)
    assert [s.payload for s in d.pump(100)] == ["x1.0", "x2.0", "other"]
    d.schedule(sink, [Timed(300.0, "late")])
    assert d.flush() == 1 and d.pump(1e6) == []


def test_immediate_items_go_first():
    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    sink = Recorder()
    d.schedule(sink, [Timed(0.0, "on the beat")])
    d.schedule(sink, [Timed(None, "now")])
    assert [s.payload for s in d.pump(0.0)] == ["now", "on the beat"]


def test_a_failing_sink_does_not_stop_the_others():
    clock = ManualClock(120.0)
    errors = []
    d = Dispatcher(clock, on_error=lambda name, exc: errors.append((name, str(exc))))

    class Broken(Recorder):
        def send(self, payload):
            raise OSError("port vanished")

    good = Recorder()
    d.schedule(Broken("broken"), [Timed(1.0, "a")])
    d.schedule(good, [Timed(1.0, "b")])
    d.pump(10)
    assert errors == [("broken", "port vanished")] and [p for p, _ in good.got] == ["b"]


def test_real_thread_sends_at_the_deadline_never_early():
    clock = InternalClock(240.0)  # 0.25 s per beat
    sink = Recorder(clock=clock)
    d = Dispatcher(clock)
    d.start()
    try:
        start = clock.beat + 0.5
        beats = [start + i * 0.25 for i in range(12)]
        d.schedule(sink, [Timed(b, b) for b in beats])
        deadline = time.monotonic() + 5
        while len(sink.got) < len(beats) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        d.stop()
    assert [p for p, _ in sink.got] == beats
    for beat, at in sink.got:
        assert at >= clock.time_at_beat(beat)  # never early
    stats = d.stats.summary()
    assert stats["count"] == len(beats) and stats["p50_ms"] >= 0.0


def test_scheduling_from_another_thread_wakes_the_dispatcher_early():
    clock = InternalClock(120.0)
    sink = Recorder(clock=clock)
    d = Dispatcher(clock)
    d.start()
    try:
        d.schedule(sink, [Timed(clock.beat + 100.0, "far")])  # the thread now sleeps ~50 s in slices
        time.sleep(0.05)
        soon = clock.beat + 0.2
        threading.Thread(target=d.schedule, args=(sink, [Timed(soon, "soon")])).start()
        deadline = time.monotonic() + 2
        while not sink.got and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        d.stop()
    assert [p for p, _ in sink.got] == ["soon"]
    assert sink.got[0][1] - clock.time_at_beat(soon) < 0.05


def test_a_stream_is_pulled_one_payload_at_a_time_and_stops_at_a_withdraw_cut():
    from copilot.bridge.actions import Stream

    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    sink = Recorder()
    pulled = []

    def payloads():
        for i in range(10):
            pulled.append(i)
            yield Timed(float(i), i, "env")

    d.schedule(sink, [Stream(payloads(), "env")])
    assert pulled == [0] and d.pending() == 1  # nothing rendered ahead of need
    assert [s.payload for s in d.pump(clock.time_at_beat(2.0))] == [0, 1, 2]
    d.withdraw(["env"], after_beat=4.0)
    assert [s.payload for s in d.pump(1e6)] == [3, 4]
    d.schedule(sink, [Stream(payloads(), "again")])
    d.flush()
    assert d.pump(1e6) == []


def test_a_tempo_change_reorders_what_was_queued_before_it():
    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    sink = Recorder()
    d.schedule(sink, [Timed(4.0, "queued at 120")])  # due at 2.0 s
    clock.set_tempo(240.0)  # beat 4 is now due at 1.0 s
    d.schedule(sink, [Timed(5.0, "queued at 240")])  # due at 1.25 s, but keyed before the first
    assert [s.payload for s in d.pump(1.1)] == ["queued at 120"]


class WithdrawingSink(Recorder):
    """Withdraws the action the moment a chosen payload goes out, the way another thread's new envelope
    can arrive between the two halves of a 14-bit pair."""

    def __init__(self, d: Dispatcher, on: object, after_beat: float | None) -> None:
        super().__init__()
        self.d, self.on, self.after_beat = d, on, after_beat

    def send(self, payload: object) -> None:
        super().send(payload)
        if payload == self.on:
            self.d.withdraw(["env"], after_beat=self.after_beat)


def test_a_fourteen_bit_pair_is_never_split_by_a_withdraw():
    from copilot.bridge.actions import Stream

    clock = ManualClock(120.0)
    d = Dispatcher(clock)

    def pairs():
        for i in range(6):
            yield Timed(float(i), ("msb", i), "env")
            yield Timed(float(i), ("lsb", i), "env", tied=True)

    # a stream withdrawn right after an MSB (cut before that MSB's own beat): its LSB still goes, then nothing
    sink = WithdrawingSink(d, ("msb", 2), after_beat=1.5)
    d.schedule(sink, [Stream(pairs(), "env")])
    assert [p for p, _ in sink.got] == [] and [s.payload for s in d.pump(1e6)][-2:] == [("msb", 2), ("lsb", 2)]
    assert len(sink.got) == 6

    # a plain list: the LSB waiting in the queue when its MSB went out is not withdrawn with the rest
    sink = WithdrawingSink(d, ("msb", 1), after_beat=None)
    d.schedule(sink, list(pairs()))
    assert [s.payload for s in d.pump(1e6)] == [("msb", 0), ("lsb", 0), ("msb", 1), ("lsb", 1)]

    # an untied second payload is withdrawn as before
    sink = WithdrawingSink(d, ("msb", 1), after_beat=None)
    d.schedule(sink, [Timed(1.0, ("msb", 1), "env"), Timed(1.0, ("lsb", 1), "env")])
    assert [s.payload for s in d.pump(1e6)] == [("msb", 1)]


def test_a_pair_whose_first_half_a_guard_refuses_is_held_back_whole():
    clock = ManualClock(120.0)
    d = Dispatcher(clock)
    refused: list[tuple[str, str]] = []
    d.on_refused = lambda action_id, reason: refused.append((action_id, reason))
    sink = Recorder()
    d.schedule(sink, [Timed(1.0, "msb", "env", guard=lambda: "deck is playing"),
                      Timed(1.0, "lsb", "env", tied=True)])
    assert d.pump(1e6) == [] and sink.got == []
    assert refused == [("env", "deck is playing")]


def test_a_started_set_leaves_the_collector_only_what_it_allocates_since():
    # In a fresh interpreter (freezing is for the life of a process): what a session has loaded is
    # frozen, so a full collection later walks only the set's own new objects, not the whole program.
    import subprocess
    import sys

    code = ("import gc; import copilot.bridge.session as s; n = len(gc.get_objects()); s.freeze_heap(); "
            "junk = [[i] for i in range(1000)]; print(n, gc.get_freeze_count(), len(gc.get_objects()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    alive, frozen, tracked = map(int, out.stdout.split())
    assert frozen > 0.9 * alive and alive > 10_000, out.stdout
    assert tracked < 1100, out.stdout  # the 1,000 new lists and little else


class AheadSink(Recorder):
    """A port fed ahead of time (the native JACK out's shape): the dispatcher hands payloads over 20 ms
    early, from its own thread or from the thread that scheduled them; the order they arrive in is the
    order they go on the wire at equal times."""

    def lead(self, payload: object) -> float:
        return 0.02


def test_handed_over_in_queue_order_whichever_thread_hands_over():
    """A 14-bit move (MSB, then its tied LSB) decided 3 ms before its time: the dispatch thread may take
    the MSB off the queue while the deciding thread hands the LSB over. The LSB must never reach the port
    first (on the wire, at equal times, the port keeps the hand-over order: a torn pair). Thread switches
    are made as frequent as they go so the two threads interleave often."""
    import sys

    clock = InternalClock(tempo=120.0)
    d = Dispatcher(clock, realtime=False)
    sink = AheadSink()
    switch = sys.getswitchinterval()
    d.start()
    sys.setswitchinterval(1e-6)
    try:
        for i in range(1500):
            beat = clock.beat_at_time(clock.now() + 0.003)
            d.schedule(sink, [Timed(beat, ("MSB", i), "move"), Timed(beat, ("LSB", i), "move", tied=True)])
            if i % 50 == 0:
                time.sleep(0.001)  # now and then the dispatch thread finds the queue's head due
        time.sleep(0.05)
    finally:
        sys.setswitchinterval(switch)
        d.stop()
    got = [p for p, _ in sink.got]
    assert len(got) == 3000
    assert got == [(half, i) for i in range(1500) for half in ("MSB", "LSB")], \
        next((k, got[k - 1:k + 2]) for k in range(len(got)) if got[k] != ("MSB" if k % 2 == 0 else "LSB", k // 2))


class RingSink(Recorder):
    """A port fed ahead of time that keeps what it holds by ticket, as the native JACK out does: each
    message's due time, movable (`reaim`) until it is due."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, tuple[object, float]] = {}
        self._tickets = itertools.count()

    def lead(self, payload: object) -> float:
        return 0.5

    def send(self, payload: object) -> None:
        from copilot.bridge.handover import HANDOVER

        ticket = next(self._tickets)
        self.held[ticket] = (payload, HANDOVER.due)
        HANDOVER.tickets.append((self, ticket))

    def reaim(self, ticket: int, due: float) -> int | None:
        payload, _ = self.held.pop(ticket)
        fresh = next(self._tickets)
        self.held[fresh] = (payload, due)
        return fresh


def test_a_tempo_change_moves_what_a_port_holds_before_anything_new_is_handed_over():
    """Three notes handed to a port ahead at 120 BPM; the tempo goes to 150 and three more are scheduled at
    once, by the same thread. Before the new ones are handed over, the old ones are moved to their beats'
    new times: so what the port holds is in beat order the moment `schedule` returns (the dispatch thread
    looks every 5 ms; a new-grid payload handed over first hid the move from it, and a note went out late
    and out of order)."""
    clock = InternalClock(tempo=120.0)
    d = Dispatcher(clock, realtime=False)
    sink = RingSink()
    d.start()
    try:
        start = clock.beat + 0.3
        beats = [start + i / 8 for i in range(6)]
        d.schedule(sink, [Timed(b, i, "a") for i, b in enumerate(beats[:3])])
        deadline = time.monotonic() + 2.0
        while len(sink.held) < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        clock.set_tempo(150.0)
        d.schedule(sink, [Timed(b, i + 3, "a") for i, b in enumerate(beats[3:])])
        held = sorted(sink.held.values(), key=lambda pd: pd[1])
    finally:
        d.stop()
    assert [p for p, _ in held] == list(range(6))
    assert [due for _, due in held] == pytest.approx([clock.time_at_beat(b) for b in beats], abs=1e-9)
