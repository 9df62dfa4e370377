"""Run inside a network namespace with addresses 10.77.0.1/.2/.9 on a dummy interface: a LAN-bound
IntentServer allows 10.77.0.9 only, another one the network 10.77.0.8/30 (.8-.11). Prints one JSON
line: what each sender got back."""

from __future__ import annotations

import json
import socket

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import ManualClock
from copilot.bridge.osc import IntentServer
from copilot.bridge.scheduler import SafetyScheduler


def ask(source: str, port: int) -> str | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(0.5)
    b = OscMessageBuilder("/copilot/intent")
    b.add_arg("play B")
    s.sendto(b.build().dgram, ("10.77.0.1", port))
    try:
        data, _ = s.recvfrom(4096)
    except TimeoutError:
        return None
    msg = OscPacket(data).messages[0].message
    return str(msg.params[0])


def main() -> None:
    sched = SafetyScheduler(ManualClock())
    server = IntentServer(sched.submit, "10.77.0.1:0", allow=["10.77.0.9"])
    server.start()
    result = {"stranger": ask("10.77.0.2", server.port), "friend": ask("10.77.0.9", server.port),
              "not_allowed": server.counters.not_allowed}
    server.close()
    network = IntentServer(sched.submit, "10.77.0.1:0", allow=["10.77.0.8/30"])
    network.start()
    result["network"] = {"stranger": ask("10.77.0.2", network.port), "member": ask("10.77.0.9", network.port)}
    network.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
