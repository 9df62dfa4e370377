"""One process, one JACK server that restarts under live ports (as on a performer's machine).
Prints one JSON line with what happened. Run by tests/test_spine_ports.py (the ports alone) and by
tests/test_drill_midi.py (`session`: a whole live session with the music going on)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import threading
import time

import rtmidi

from copilot.bridge.ports import MidiPorts, MidiUnavailable
from copilot.tests.fixtures import MidiCapture, start_jack, stop_jack


def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    name = sys.argv[1]
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    server = start_jack(name)
    got: list[bytes] = []
    result: dict[str, object] = {}
    ports = MidiPorts("jack", watchdog_period=0.3)
    try:
        out = ports.output("Copilot Out")
        feedback = ports.input(lambda data, at: got.append(data), "Copilot In")
        stop_jack(server)
        time.sleep(0.5)
        # Into the void: must not hang, and may only fail as "the MIDI system is gone" (once the watchdog
        # has seen it twice running; the dispatcher counts that and the session says it).
        with contextlib.suppress(MidiUnavailable):
            out.send(b"\x90\x10\x7f")
        result["send_while_down"] = "ok"
        server = start_jack(name)
        result["reopened"] = wait_for(lambda: out.reopened >= 1 and feedback.reopened >= 1)
        capture = MidiCapture("Copilot Out", "restart-capture")
        out.send(b"\x90\x11\x7f")
        result["captured"] = [d.hex() for _, d in capture.collect(1)]
        host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-host")
        host.open_port(next(i for i, p in enumerate(host.get_ports()) if p.endswith(":Copilot In")))
        host.send_message([0x90, 0x10, 0x00])
        result["feedback"] = wait_for(lambda: got == [bytes([0x90, 0x10, 0x00])], 3.0)
    finally:
        ports.close()
        stop_jack(server)
    print(json.dumps(result), flush=True)


def session_drill() -> None:
    """A live session sends a steady CC stream (a knob moved 50 times a second) to midi-monitor while its
    JACK server goes down for a second and comes back: is it said, does sending resume, on the wire?"""
    from copilot.bridge.clock import host_time
    from copilot.bridge.config import Config
    from copilot.bridge.host import TargetHost
    from copilot.bridge.session import Session, SessionOptions
    from copilot.plugins import midi_monitor
    from copilot.tests.fixtures_drill import knob_thread

    name = sys.argv[1]
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    server = start_jack(name)
    said: list[tuple[float, str]] = []
    options = SessionOptions(target="midi-monitor", duration=9.0, link=False, tempo=120.0, osc=None,
                             midi_api="jack", log=None)
    session = Session(options, Config(), host=TargetHost(plugins=[midi_monitor], entry_points=False),
                      report=lambda line: said.append((host_time(), line)))
    result: dict[str, object] = {}
    marks: dict[str, float] = {}

    def fault() -> None:
        nonlocal server
        before = MidiCapture("Copilot Out", "drill-before")
        time.sleep(2.0)
        result["before"] = before.messages.qsize()
        before._stop.set()  # its client dies with the server: never closed (libjack crashes on that)
        marks["down"] = host_time()
        stop_jack(server)
        time.sleep(1.5)
        server = start_jack(name)
        marks["up"] = host_time()
        result["reopened"] = wait_for(lambda: session.ports.outputs["Copilot Out"].reopened >= 1)
        after = MidiCapture("Copilot Out", "drill-after")
        time.sleep(2.5)
        arrivals = [after.messages.get()[1] for _ in range(after.messages.qsize())]
        result["after"] = len(arrivals)
        result["up_after_down"] = round(marks["up"] - marks["down"], 2)
        result["largest_gap_after"] = round(max(b - a for a, b in itertools.pairwise(arrivals)), 3)
        session._stop.wait()  # a server dies with the thread that started it (PR_SET_PDEATHSIG): stay
        after.close()

    session.start()
    threads = [knob_thread(session), threading.Thread(target=fault, daemon=True)]
    threads[1].start()
    try:
        session.play()
    finally:
        alive = session.dispatcher._thread is not None and session.dispatcher._thread.is_alive()
        session.stop()
        stop_jack(server)
        threads[1].join(5.0)
    tally = session.dispatcher.tally["midi-monitor"]
    result.update(dispatcher_alive=alive, sent=tally.sent, failed=tally.failed,
                  said=[(round(t - marks.get("down", t), 2), line) for t, line in said
                        if "midi-monitor" in line or line[:1] == "!"])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    session_drill() if sys.argv[2:] == ["session"] else main()
