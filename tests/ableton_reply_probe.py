"""Run inside a network namespace with 10.77.0.1/.5/.9 on its loopback: who can feed AbletonOSC's reply
port Live's beat? Prints one JSON line: the beats heard from a stranger and from Live, per setup."""

from __future__ import annotations

import json
import socket
import time

from pythonosc.osc_message_builder import OscMessageBuilder

from copilot.plugins.ableton_osc import AbletonOSC
from copilot.tests.fixtures import free_udp_port


def beat(n: int) -> bytes:
    b = OscMessageBuilder("/live/song/get/beat")
    b.add_arg(n)
    return b.build().dgram


def heard(live_host: str, senders: dict[str, str]) -> dict[str, object]:
    """Live at `live_host`; each sender pushes a beat to the reply port at this machine's LAN address."""
    client = AbletonOSC(live_host, free_udp_port(), free_udp_port(), timeout=0.1)
    client.open()
    beats: list[int] = []
    client.listen("/live/song/get/beat", lambda args, t: beats.append(int(args[0])))
    out: dict[str, object] = {"bind": getattr(getattr(client, "reply_bind", None), "host", "0.0.0.0")}
    for i, (name, source) in enumerate(senders.items()):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((source, 0))
            s.sendto(beat(i + 1), ("10.77.0.1", client.reply_port))
        time.sleep(0.2)
        out[name] = list(beats)
        beats.clear()
    out["not_allowed"] = getattr(client.stats, "not_allowed", 0)
    out["alive"] = getattr(client, "alive", True)
    client.close()
    return out


def main() -> None:
    result = {
        "live_here": heard("127.0.0.1", {"stranger": "10.77.0.9"}),
        "live_on_lan": heard("10.77.0.5", {"stranger": "10.77.0.9", "live": "10.77.0.5"}),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
