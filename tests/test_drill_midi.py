"""Fault drills on the MIDI wire, each with the music going on: a live session turns a knob 50 times a
second into a real JACK port, and the wire is checked while (1) the JACK server restarts under it and
(2) the host program quits and comes back."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.ports import close_client
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Deck
from copilot.plugins import midi_monitor
from copilot.tests.fixtures import MidiCapture
from copilot.tests.fixtures_drill import knob_thread

pytestmark = pytest.mark.jack


def test_the_jack_server_restarts_mid_set_and_the_music_comes_back():
    """In a process of its own (libjack keeps process-wide state): see ports_restart_probe.session_drill."""
    out = subprocess.run([sys.executable, "-m", "copilot.tests.ports_restart_probe",
                          f"copilot-drill-{os.getpid()}", "session"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["dispatcher_alive"] and r["reopened"]
    assert r["before"] > 50 and r["after"] > 60  # ~50 a second on the wire before, and again after
    assert r["largest_gap_after"] < 0.25  # once back, steady (a tick is 20 ms; slack for a loaded machine)
    lines = [line for _, line in r["said"]]
    failing = [t for t, line in r["said"] if "sends are failing" in line]
    back = [t for t, line in r["said"] if "sends reach the host again" in line]
    assert len(failing) == 1 and 0.0 <= failing[0] < 2.5  # said within the watchdog's two looks
    assert len(back) == 1 and failing[0] < back[0] < r["up_after_down"] + 2.5
    assert r["failed"] > 0 and f"{r['sent']} sent" in lines[-1]  # the closing summary counts both
    assert not any("more sends failed" in line for line in lines)  # said once, not once per send


def test_the_host_quits_and_comes_back_and_the_set_goes_on(jack_server, tmp_path):
    unique = f"drill-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    out_port, in_port = f"{unique} Out", f"{unique} In"
    config = Config({"targets": {"midi-monitor": {"port": out_port}}, "ports": {"in": in_port}})
    said: list[str] = []
    session = Session(SessionOptions(target="midi-monitor", duration=5.0, link=False, tempo=120.0, osc=None,
                                     midi_api="jack", log=tmp_path / "log.jsonl"),
                      config, host=TargetHost(config.targets(), plugins=[midi_monitor], entry_points=False),
                      report=said.append)
    got: dict[str, object] = {}

    def host_program() -> None:
        import rtmidi

        first = MidiCapture(out_port, f"{unique}-host-1")
        time.sleep(1.0)
        got["first"] = first.messages.qsize()
        first.close()  # the host quits: its ports vanish from the graph
        time.sleep(1.0)
        second = MidiCapture(out_port, f"{unique}-host-2")  # …and comes back
        back = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{unique}-host-out")
        back.open_port(next(i for i, p in enumerate(back.get_ports()) if p.endswith(":" + in_port)))
        back.send_message([0x90, 0x10, 0x7F])  # the host says: deck A plays
        time.sleep(1.5)
        arrivals = [second.messages.get()[1] for _ in range(second.messages.qsize())]
        got["second"] = len(arrivals)
        got["gap"] = max(b - a for a, b in itertools.pairwise(arrivals))
        second.close()
        close_client(back)

    session.start()
    knob_thread(session)
    host = threading.Thread(target=host_program, daemon=True)
    host.start()
    try:
        session.play()
    finally:
        session.stop()
    host.join(5.0)
    tally = session.dispatcher.tally["midi-monitor"]
    assert got["first"] > 30 and got["second"] > 45 and got["gap"] < 0.25, got
    assert tally.failed == 0 and tally.sent > 200  # nothing to say: our port never went away
    assert session.state.deck(Deck.A).playing  # feedback from the returned host is heard
    assert not [line for line in said if line.startswith("!") or "failing" in line]
