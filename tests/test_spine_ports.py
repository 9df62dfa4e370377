"""Virtual MIDI ports on a real JACK server: names, both directions, and surviving a server restart."""

from __future__ import annotations

import os
import time

import pytest
import rtmidi

from copilot.bridge.ports import MidiPorts, jack_ports, pick_api
from copilot.tests.fixtures import MidiCapture, start_jack, stop_jack

pytestmark = pytest.mark.jack


def wait_for(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_two_distinct_ports_in_and_out(jack_server):
    got = []
    ports = MidiPorts("auto")
    try:
        assert ports.choice.name == "jack"  # no ALSA sequencer here: JACK is picked automatically
        ports.output("Copilot Out")
        ports.input(lambda data, at: got.append(data), "Copilot In")
        names = jack_ports()
        assert any(n.endswith(":Copilot Out") for n in names) and any(n.endswith(":Copilot In") for n in names)
        host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-host")
        host.open_port(next(i for i, p in enumerate(host.get_ports()) if p.endswith(":Copilot In")))
        host.send_message([0x90, 0x10, 0x7F])
        assert wait_for(lambda: got == [bytes([0x90, 0x10, 0x7F])])
        host.close_port()
    finally:
        ports.close()


def test_ports_come_back_after_the_jack_server_restarts(monkeypatch):
    name = f"copilot-restart-{os.getpid()}"
    server = start_jack(name)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    got = []
    ports = MidiPorts(pick_api("jack").name, watchdog_period=0.3)
    try:
        out = ports.output("Copilot Out")
        ports.input(lambda data, at: got.append(data), "Copilot In")
        stop_jack(server)
        time.sleep(0.5)
        out.send(b"\x90\x10\x7f")  # a send into the void must not raise or hang
        server = start_jack(name)
        assert wait_for(lambda: out.reopened >= 1 and ports.inputs["Copilot In"].reopened >= 1, 10.0)
        capture = MidiCapture("Copilot Out", "restart-capture")
        out.send(b"\x90\x11\x7f")
        assert [d for _, d in capture.collect(1)] == [b"\x90\x11\x7f"]
        capture.close()
        host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-host-2")
        host.open_port(next(i for i, p in enumerate(host.get_ports()) if p.endswith(":Copilot In")))
        host.send_message([0x90, 0x10, 0x00])
        assert wait_for(lambda: got == [bytes([0x90, 0x10, 0x00])])
        host.close_port()
    finally:
        ports.close()
        stop_jack(server)
