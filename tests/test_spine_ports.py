"""Virtual MIDI ports on a real JACK server: names, both directions, and surviving a server restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import rtmidi

from copilot.bridge.ports import MidiPorts, close_client, jack_ports

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
        close_client(host)
    finally:
        ports.close()


def test_closed_ports_leave_no_client_in_the_jack_graph(jack_server):
    """A client left behind is woken every cycle for the rest of the set; enough of them overrun the
    cycle and MIDI is lost. JACK renames a client whose name is taken ("name-01"), so a second session
    under the same client name shows whether the first one's clients are really gone."""
    from copilot.bridge.ports import VirtualIn, VirtualOut, pick_api

    client = f"leak-{os.getpid()}"
    api = pick_api("jack")
    for _ in range(3):
        out = VirtualOut("Leak Out", api, f"{client}-out")
        inp = VirtualIn(lambda data, at: None, "Leak In", api, f"{client}-in")
        names = jack_ports()
        assert f"{client}-out:Leak Out" in names and f"{client}-in:Leak In" in names, names
        inp.close()
        out.close()
        assert not any(n.startswith(client) for n in jack_ports())


def test_ports_come_back_after_the_jack_server_restarts():
    """In a process of its own: libjack keeps process-wide state, and a performer's copilot talks to one
    server, which is the case that matters."""
    name = f"copilot-restart-{os.getpid()}"
    out = subprocess.run([sys.executable, "-m", "copilot.tests.ports_restart_probe", name], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"send_while_down": "ok", "reopened": True, "captured": ["90117f"],
                      "feedback": True}


def test_the_server_probe_answers_every_time_back_to_back(jack_server):
    # The watchdog asks the server afresh each period; with one client name for every probe, a new probe
    # now and then lost its semaphore to the teardown of the last one (6 in 400 on a loaded machine: this
    # catches it most runs, not every one) and two misses running told the performer the MIDI system was
    # gone while it played on.
    misses = sum(jack_ports() is None for _ in range(300))
    assert misses == 0


def test_libjack_never_calls_back_into_python(jack_server, monkeypatch):
    # libjack's message callbacks run on its client threads, which it cancels when a client closes; a Python
    # callback there (copilot's old way of quieting libjack) could die holding the GIL's mutex and freeze
    # the whole process — the soak bench did, after 12 minutes of watchdog probes. A C function instead.
    import ctypes
    import ctypes.util

    from copilot.bridge import jack_server

    monkeypatch.delenv("COPILOT_JACK_VERBOSE", raising=False)
    monkeypatch.setattr(jack_server, "_LIBJACK", None)
    assert jack_ports() is not None
    lib = jack_server._libjack()
    strlen = ctypes.cast(ctypes.CDLL(ctypes.util.find_library("c")).strlen, ctypes.c_void_p).value
    for name in ("jack_error_callback", "jack_info_callback"):
        assert ctypes.c_void_p.in_dll(lib, name).value == strlen, name


def test_settle_returns_only_after_every_client_took_in_the_last_change(jack_server):
    """Closing a port while any client of ours is inside its latency callback crashed libjack (jack2 issue
    #216: a segfault in one CI run in four). `settle()` must wait for the graph change just made to reach
    every client and for each to finish with it, however slow its callback (here 0.1 s, another process)."""
    from copilot.bridge.jack_server import settle
    from copilot.bridge.ports import VirtualIn, VirtualOut, pick_api

    client, api = f"settle-{os.getpid()}", pick_api("jack")
    out = VirtualOut("Settle Out", api, f"{client}-out")
    inp = VirtualIn(lambda data, at: None, "Settle In", api, f"{client}-in")
    host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{client}-host")
    observer = subprocess.Popen([sys.executable, "-m", "copilot.tests.jack_latency_observer"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert observer.stdout.readline().strip() == "ready"
        settle()  # everything above has gone through the graph
        changed = time.monotonic()
        host.open_port(next(i for i, p in enumerate(host.get_ports()) if p.endswith(":Settle In")))  # the change
        settle()
        settled = time.monotonic()
        time.sleep(0.5)  # nothing changes here: a callback for the connection starting now came too late
        quiet = time.monotonic()
    finally:
        observer.terminate()
        close_client(host)
        inp.close()
        out.close()
    lines = observer.communicate(timeout=10)[0].split()
    calls = [(float(a), float(b)) for a, b in zip(lines[::2], lines[1::2], strict=True)]
    for_the_change = [(start, end) for start, end in calls if changed <= start < quiet]
    assert for_the_change, (changed, settled, calls)
    assert all(end <= settled for _, end in for_the_change), (changed, settled, calls)
