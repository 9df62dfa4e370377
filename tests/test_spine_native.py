"""Native JACK sends (bridge/jack_midi.py): handed over ahead, put on their frame by C, deaf to the GIL.

Judged on the wire by a frame-exact JACK recorder (tests/jack_recorder.py via MidiCapture): the time a
message is on the wire is its cycle's start plus its frame offset, on Link's clock.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import time
from collections.abc import Iterator

import pytest

from copilot.bridge.clock import InternalClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.jack_midi import C_CYCLES
from copilot.bridge.ports import MidiPorts

pytestmark = pytest.mark.jack

_names = itertools.count()


class PortSink:
    """The smallest target: raw bytes onto one port, handed over as early as the port allows."""

    output_latency = 0.0

    def __init__(self, out) -> None:
        self.name = out.name
        self.out = out

    def lead(self, payload) -> float:
        return self.out.ahead

    def send(self, payload) -> None:
        self.out.send(payload)


def rig(native: bool, lookahead: float = 0.02):
    name = f"Native Out {next(_names)}"
    ports = MidiPorts("jack", watchdog_period=0, native=native, lookahead=lookahead)
    out = ports.output(name)
    clock = InternalClock(tempo=120.0)
    dispatcher = Dispatcher(clock)
    dispatcher.start()
    return ports, out, clock, dispatcher, PortSink(out)


def close(ports, dispatcher) -> None:
    dispatcher.stop()
    ports.close()


def on_time(jack_server, attempt, out=None) -> None:
    """Run `attempt()` (it returns the wire errors, seconds) until every message is within 0.1 ms of its
    time; again (three tries) only when the machine, not the send path, made one late: the JACK server
    lost a cycle meanwhile (an XRun on this loaded machine: that cycle's MIDI goes a cycle late inside
    JACK, whoever sent it), or the callback of `out` found a message already due when it was handed over
    (the OS kept the thread that hands over off the CPU past the message's cycle — other processes'
    real-time threads included). A send path that hands over late every time still fails all three."""
    def late() -> int:
        return out.counters()["late"] if out is not None else 0

    for _ in range(3):
        xruns, handed_late = jack_server.xruns(), late()
        errors = attempt()
        worst = max(abs(e) for e in errors)
        if worst <= 0.0001 or (jack_server.xruns() == xruns and late() == handed_late):
            break
    assert worst <= 0.0001, (jack_server.xruns() - xruns, late() - handed_late, [round(e * 1e3, 3) for e in errors])


@contextlib.contextmanager
def deciding_thread_realtime() -> Iterator[bool]:
    """This (the test's) thread real-time meanwhile, below JACK's and the dispatcher's, as a set's short
    threads are (the motion and OSC threads that decide moves: HELPER_PRIORITY), so a busy machine does
    not keep it off the CPU for milliseconds between a decision and its hand-over."""
    import os

    from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime

    realtime = make_realtime(HELPER_PRIORITY)
    try:
        yield realtime
    finally:
        if realtime:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def note(i: int) -> bytes:
    return bytes((0x90 | (i % 16), 36 + i % 80, 1 + i % 126))


def test_native_sends_are_the_exact_bytes_on_their_frame(jack_server, midi_capture):
    """Beats that fall anywhere inside a cycle: each message on the wire within a few frames of its time
    (the rtmidi path puts every one at the start of the cycle after its send: up to a cycle late)."""
    ports, out, clock, dispatcher, sink = rig(native=True)
    try:
        assert out.path == "native" and "native JACK sends" in out.path_line
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        def attempt():
            start = clock.beat + 0.5
            beats = [start + i / 7.3 for i in range(40)]  # 68 ms apart: never in step with the 1.33 ms cycle
            dispatcher.schedule(sink, [Timed(b, note(i), "a") for i, b in enumerate(beats)])
            got = cap.collect(len(beats), timeout=5.0)
            assert [data for _, data in got] == [note(i) for i in range(len(beats))]
            return [at - clock.time_at_beat(b) for (at, _), b in zip(got, beats, strict=True)]

        on_time(jack_server, attempt, out)  # ≤ 5 frames at 48 kHz
    finally:
        close(ports, dispatcher)


def test_the_rtmidi_path_stays_when_native_sends_are_off(jack_server, midi_capture):
    ports, out, clock, dispatcher, sink = rig(native=False)
    try:
        assert out.path == "rtmidi" and out.ahead == 0.0 and "rtmidi (jack)" in out.path_line
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        dispatcher.schedule(sink, [Timed(clock.beat + 0.2, note(3), "a")])
        assert [data for _, data in cap.collect(1, timeout=3.0)] == [note(3)]
    finally:
        close(ports, dispatcher)


def test_cancel_and_panic_call_back_what_the_ring_holds(jack_server, midi_capture):
    """Handed to the callback 300 ms early, then withdrawn: nothing of it reaches the wire."""
    ports, out, clock, dispatcher, sink = rig(native=True, lookahead=0.3)
    try:
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        start = clock.beat + 0.3  # 150 ms ahead: inside the lookahead, so handed over at once
        keep = [Timed(start + i / 16, note(i), "keep") for i in range(8)]
        cancel = [Timed(start + i / 16 + 1 / 32, note(100 + i), "cancel") for i in range(8)]
        dispatcher.schedule(sink, keep + cancel)
        deadline = time.monotonic() + 2.0
        while out.counters()["handed"] < 16 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert out.counters()["handed"] == 16 and dispatcher.pending() == 0  # all in the ring, none due
        dispatcher.withdraw(["cancel"])
        got = cap.collect(8, timeout=3.0)
        assert [data for _, data in got] == [note(i) for i in range(8)]
        assert out.counters()["recalled"] == 8 and dispatcher.tally[sink.name].recalled == 8

        later = [Timed(clock.beat + 0.3 + i / 16, note(50 + i), "later") for i in range(6)]
        dispatcher.schedule(sink, later)
        deadline = time.monotonic() + 2.0
        while out.counters()["handed"] < 22 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert dispatcher.pending() == 0
        dispatcher.flush()  # PANIC
        assert cap.collect(timeout=0.6) == []
        assert out.counters()["recalled"] == 14
    finally:
        close(ports, dispatcher)


def hold_the_gil(seconds: float) -> None:
    """C code that keeps the GIL (ctypes.PyDLL never lets go): no other Python thread runs meanwhile."""
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))


@pytest.mark.parametrize("native", [True, False], ids=["native", "rtmidi"])
def test_sends_keep_their_time_while_python_holds_the_gil(jack_server, midi_capture, native):
    """200 ms in which no Python thread may run (a LOAD's lookup, a long decode): the messages due then
    were handed over before it, and the callback puts them on time. The rtmidi path needs the GIL at
    each send: every one of them comes late, the last by most of the 200 ms."""
    ports, out, clock, dispatcher, sink = rig(native=native, lookahead=0.25)
    try:
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        def attempt():
            t0 = clock.now() + 0.15
            dues = [t0 + 0.01 * i for i in range(20)]  # 10 ms apart, all inside the hold below
            dispatcher.schedule(sink, [Timed(clock.beat_at_time(t), note(i), "a") for i, t in enumerate(dues)])
            while clock.now() < t0 - 0.01:
                time.sleep(0.001)
            hold_the_gil(0.22)
            got = cap.collect(len(dues), timeout=3.0)
            assert [data for _, data in got] == [note(i) for i in range(len(dues))]
            return [at - due for (at, _), due in zip(got, dues, strict=True)]

        if native:
            on_time(jack_server, attempt, out)
        else:  # why the native path exists: the same schedule, late by the hold
            late = attempt()
            assert max(late) > 0.05, [round(x * 1e3, 3) for x in late]
    finally:
        close(ports, dispatcher)


def test_a_message_handed_over_later_but_due_sooner_is_not_held_up(jack_server, midi_capture):
    """A move decided 1.5 ms before its time lands behind messages handed over earlier but due later
    (an envelope's next steps): the callback takes the earliest due, not the first in the ring."""
    ports, out, clock, dispatcher, sink = rig(native=True, lookahead=0.3)
    try:
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        def attempt():
            later = clock.now() + 0.25
            handed = out.counters()["handed"]
            dispatcher.schedule(sink, [Timed(clock.beat_at_time(later), note(1), "envelope")])
            while out.counters()["handed"] == handed:
                time.sleep(0.001)
            sooner = clock.now() + 0.05
            dispatcher.schedule(sink, [Timed(clock.beat_at_time(sooner), note(2), "move")])
            got = cap.collect(2, timeout=3.0)
            assert [data for _, data in got] == [note(2), note(1)]
            return [got[0][0] - sooner, got[1][0] - later]

        on_time(jack_server, attempt, out)
    finally:
        close(ports, dispatcher)


def test_a_move_due_at_once_is_handed_over_by_the_thread_that_decided_it(jack_server, midi_capture):
    """A move is stamped a few ms ahead; right after deciding it, its thread (or another) holds the GIL
    for 30 ms. The dispatch thread cannot run in that time, so the thread that scheduled the move hands it
    to the port itself, while it still holds the GIL: on its frame all the same. (5 ms here, not the
    1.5 ms of a real move: on a loaded test machine the OS alone may stall a thread for a millisecond.)"""
    ports, out, clock, dispatcher, sink = rig(native=True)
    try:
        cap = midi_capture(out.name)
        from copilot.bridge.actions import Timed

        def attempt():
            dues = []
            for i in range(8):
                due = clock.now() + 0.005
                dispatcher.schedule(sink, [Timed(clock.beat_at_time(due), note(i), "move")])
                dues.append(due)
                hold_the_gil(0.03)
            got = cap.collect(len(dues), timeout=3.0)
            assert [data for _, data in got] == [note(i) for i in range(len(dues))]
            return [at - due for (at, _), due in zip(got, dues, strict=True)]

        with deciding_thread_realtime():
            on_time(jack_server, attempt, out)
    finally:
        close(ports, dispatcher)


def test_a_recall_racing_the_callback_either_withdraws_a_message_or_lets_it_go_never_both(jack_server):
    """PANIC while the callback is placing: whichever side takes a message first has it. A recall that
    says yes must mean the callback skipped it, and one the callback placed must say no — so the
    callback's own counts add up to what was handed over, and its count of what it skipped equals the
    recalls that said yes. Here each round hands 256 late messages over, waits for a cycle to begin and
    recalls them from the last back while the callback places them from the first: they meet mid-ring.
    (This thread is real-time meanwhile, so a busy machine does not keep it off the CPU as a cycle
    begins.)"""
    from copilot.bridge.clock import host_time

    ports = MidiPorts("jack", watchdog_period=0, native=True)
    ring = ports.output(f"Native Out {next(_names)}")._out
    said_yes = met = 0
    try:
        with deciding_thread_realtime():
            for _ in range(2000):  # until the two sides met mid-ring often enough (each: a chance to race)
                now = host_time()
                tickets = [ring.send(note(i), now - 0.001 + i * 1e-7) for i in range(256)]
                table, cycles = ring.table, ring.table[C_CYCLES]
                spins = 0
                while table[C_CYCLES] == cycles and spins < 1_000_000:
                    spins += 1
                yes = sum(ring.recall(t) for t in reversed(tickets))
                said_yes += yes
                met += 0 < yes < len(tickets)
                time.sleep(0.004)  # a few cycles: the callback steps past everything of this round
                if met >= 30:
                    break
        assert met >= 30, met
        c = ring.counters()
        assert c["placed"] + c["recalled"] == c["handed"], c
        assert c["recalled"] == said_yes, (c, said_yes)
    finally:
        ports.close()


def test_a_move_just_behind_an_envelope_step_due_now_does_not_wait_for_the_dispatch_thread(jack_server,
                                                                                          midi_capture):
    """An envelope's next step (a stream: only the dispatch thread hands those over) is due at once and
    heads the queue when a move comes in just behind it; then the deciding thread holds the GIL for 30 ms.
    The move is handed over by the thread that decided it all the same, past the step: on its frame."""
    from copilot.bridge.actions import Stream, Timed

    ports, out, clock, dispatcher, sink = rig(native=True)
    try:
        cap = midi_capture(out.name)
        moves = [note(i) for i in range(6)]

        def attempt():
            dues = []
            for i in range(6):
                step = clock.now() + 0.005
                dispatcher.schedule(sink, [Stream(iter([Timed(clock.beat_at_time(step), note(40 + i), "env")]), "env"),
                                           Timed(clock.beat_at_time(step + 0.0002), moves[i], "move")])
                dues.append(step + 0.0002)
                hold_the_gil(0.03)
            got = [(at, data) for at, data in cap.collect(12, timeout=3.0) if data in moves]
            assert [data for _, data in got] == moves
            return [at - due for (at, _), due in zip(got, dues, strict=True)]

        with deciding_thread_realtime():
            on_time(jack_server, attempt, out)
    finally:
        close(ports, dispatcher)


def test_a_tempo_change_after_hand_over_moves_what_the_ring_holds(jack_server, midi_capture):
    """Handed to the callback 300 ms early, then the tempo goes 120 → 150 BPM pivoting on the current beat:
    every message lands on its beat's new time (the old one is up to 40 ms later), in beat order with what
    is handed over after the change."""
    from copilot.bridge.actions import Timed

    ports, out, clock, dispatcher, sink = rig(native=True, lookahead=0.3)
    try:
        cap = midi_capture(out.name)

        def attempt():
            clock.set_tempo(120.0)
            start = clock.beat + 0.3  # 150 ms ahead: handed over at once
            beats = [start + i / 8 for i in range(6)]  # to 340 ms ahead: the later half once the tempo moved
            handed = out.counters()["handed"]
            dispatcher.schedule(sink, [Timed(b, note(i), "a") for i, b in enumerate(beats[:3])])
            while out.counters()["handed"] < handed + 3:
                time.sleep(0.001)
            clock.set_tempo(150.0)  # the grid pivots on now
            dispatcher.schedule(sink, [Timed(b, note(i + 3), "a") for i, b in enumerate(beats[3:])])
            got = cap.collect(len(beats), timeout=3.0)
            assert [data for _, data in got] == [note(i) for i in range(len(beats))]
            return [at - clock.time_at_beat(b) for (at, _), b in zip(got, beats, strict=True)]

        on_time(jack_server, attempt, out)
        assert out.counters()["reaimed"] >= 3
    finally:
        close(ports, dispatcher)


def test_what_was_handed_over_still_goes_out_when_the_port_closes(jack_server, midi_capture):
    """A message handed over counts as sent. Closing the port while it waits in the ring (its time 50 ms
    away) must not drop it: the port lets the callback place what it holds first (a set that stopped just
    after handing over its last messages said "28 sent" and the wire carried 26)."""
    from copilot.bridge.clock import host_time
    from copilot.bridge.jack_server import settle

    ports = MidiPorts("jack", watchdog_period=0, native=True, lookahead=0.06)
    out = ports.output(f"Native Out {next(_names)}")
    cap = midi_capture(out.name)
    settle()  # its helper client open already, as in a long set: closing takes a few cycles, not tens of ms
    out._out.send(note(5), host_time() + 0.05)
    ports.close()
    assert [data for _, data in cap.collect(1, timeout=1.0)] == [note(5)]
