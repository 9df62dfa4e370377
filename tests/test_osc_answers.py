"""The intent server's answers to LOADs decided later, on the library worker: every sender hears one."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import socket
import time

from pythonosc.osc_packet import OscPacket

from copilot.bridge.osc import IntentServer
from copilot.tests.fuzz_corpus import osc


def test_a_load_cancelled_at_stop_is_answered_not_a_traceback(caplog):
    """The soak's end: LOADs still waiting for the library are cancelled when the session stops; their
    senders hear "refused", and nothing prints a traceback (the done-callback used to call .result())."""
    waiting: list[cf.Future] = []

    def submit(intent):
        waiting.append(cf.Future())
        return waiting[-1]

    server = IntentServer(submit, "127.0.0.1:0", reply=True)
    server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    caplog.set_level(logging.ERROR)
    try:
        sock.sendto(osc("/copilot/intent", "load dubby to deck B"), (server.host, server.port))
        deadline = time.monotonic() + 10
        while not waiting and time.monotonic() < deadline:
            time.sleep(0.005)
        assert waiting and waiting[0].cancel()
        data, _ = sock.recvfrom(4096)
    finally:
        sock.close()
        server.close()
    (message,) = [m.message for m in OscPacket(data).messages]
    assert message.address == "/copilot/decision" and message.params[0] == "refused"
    assert "stopped" in message.params[1]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.records
    assert server.counters.refused == 1 and server.counters.errors == 0
