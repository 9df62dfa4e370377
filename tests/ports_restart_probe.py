"""One process, one JACK server that restarts under live ports (as on a performer's machine).
Prints one JSON line with what happened. Run by tests/test_spine_ports.py."""

from __future__ import annotations

import json
import os
import sys
import time

import rtmidi

from copilot.bridge.ports import MidiPorts
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
        out.send(b"\x90\x10\x7f")  # into the void: must neither raise nor hang
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


if __name__ == "__main__":
    main()
