"""Fuzz: OSC intents and OSC JSON intents. Ten thousand hostile datagrams per surface through the decode and
decide path (a seeded corpus, plus hypothesis), then a share over real UDP through a live server: nothing
escapes, the thread lives, and the well-formed intents sent between the garbage are still decided."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import host_time
from copilot.bridge.osc import IntentServer
from copilot.bridge.scheduler import Verdict
from copilot.intents.schema import IntentKind, Source
from copilot.tests.fuzz_corpus import INTENT_ADDRESSES, corpus, osc, valid
from copilot.tests.fuzz_harness import FUZZ_INPUTS, VALID_EVERY, Decider, blast, errors_logged
from copilot.tests.fuzz_harness import share as fuzz_share

CLIENT = ("127.0.0.1", 9)  # replies are off: nothing is sent back in the direct runs
HYPOTHESIS = settings(max_examples=400, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_SHARED: list[tuple[IntentServer, Decider]] = []


def shared() -> tuple[IntentServer, Decider]:
    """One server and decide path for all the examples hypothesis tries (a socket each would dominate)."""
    if not _SHARED:
        decider = Decider()
        _SHARED.append((IntentServer(decider.submit, "127.0.0.1:0", reply=False), decider))
    server, decider = _SHARED[0]
    decider.tick()
    return server, decider


def take(data: bytes) -> list:
    """One datagram into the shared server: the decisions it led to (at most one)."""
    server, decider = shared()
    before, errors = len(decider.decisions), server.counters.errors
    server._on_datagram(data, host_time(), CLIENT)
    assert server.counters.errors == errors
    return decider.decisions[before:]


def direct(surface: str) -> tuple[IntentServer, Decider, list[int]]:
    """FUZZ_INPUTS datagrams straight into the server's datagram handler; every VALID_EVERY-th well-formed."""
    decider = Decider()
    server = IntentServer(decider.submit, "127.0.0.1:0", reply=False)
    missed: list[int] = []
    for i, data in enumerate(corpus(surface, FUZZ_INPUTS, seed=1)):
        if i % VALID_EVERY == 0:
            good = valid(surface, i)
            before = len(decider.decisions)
            server._on_datagram(good, host_time(), CLIENT)
            decided = decider.decisions[before:]
            if len(decided) != 1 or decided[0].intent.kind is not (IntentKind.HOTCUE if surface == "json" else
                                                                    decided[0].intent.kind):
                missed.append(i)
        server._on_datagram(data, host_time(), CLIENT)
        decider.tick()
    server.close()
    return server, decider, missed


@pytest.mark.parametrize("surface", ["intents", "json"])
def test_ten_thousand_hostile_datagrams_are_counted_and_valid_intents_between_them_decided(surface, caplog):
    caplog.set_level(logging.WARNING)
    server, decider, missed = direct(surface)
    c = server.counters
    assert not missed, f"well-formed intents not decided at inputs {missed[:10]}"
    assert c.received == FUZZ_INPUTS + FUZZ_INPUTS // VALID_EVERY
    assert c.errors == 0 and not errors_logged(caplog.records), errors_logged(caplog.records)[:5]
    assert c.malformed > FUZZ_INPUTS // 4  # most of it is refused at the door…
    remote = [d for d in decider.decisions if d.intent.source is not Source.REMOTE]
    assert not remote  # …and whatever got through is a remote, whatever it claimed
    far = [d for d in decider.decisions if d.intent.at_beat is not None and d.verdict is Verdict.SCHEDULED
           and abs(d.intent.at_beat - d.beat) > 64 * 4 + 8]
    assert not far  # no at_beat beyond the horizon was ever scheduled
    assert len(decider.scheduler._scheduled) <= decider.scheduler.config.max_scheduled
    assert len(decider.scheduler.pending()) <= decider.scheduler.config.max_pending


def test_one_datagram_is_at_most_one_intent_whatever_it_holds():
    decider = Decider()
    server = IntentServer(decider.submit, "127.0.0.1:0", reply=False)
    for i, data in enumerate(corpus("intents", 3000, seed=2)):
        before = len(decider.decisions)
        server._on_datagram(data, host_time(), CLIENT)
        assert len(decider.decisions) - before <= 1, (i, data[:64])
        decider.tick()
    server.close()


@HYPOTHESIS
@given(data=st.binary(max_size=1500))
def test_any_bytes(data):
    assert len(take(data)) <= 1


ARG = st.one_of(st.integers(-(2**31), 2**31 - 1), st.floats(width=32), st.text(max_size=200),
                st.binary(max_size=64), st.booleans(), st.none())


@HYPOTHESIS
@given(address=st.one_of(st.sampled_from(INTENT_ADDRESSES), st.text(min_size=1, max_size=80).map("/{}".format)),
       args=st.lists(ARG, max_size=5))
def test_any_message(address, args):
    try:
        data = osc(address, *args)
    except Exception:  # noqa: BLE001 - python-osc cannot build it: not a datagram anyone can send
        return
    assert len(take(data)) <= 1


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=8)
FIELDS = st.sampled_from(["kind", "deck", "args", "source", "confidence", "at_beat", "text", "id", "lamport"])


@settings(HYPOTHESIS, max_examples=150)
@given(fields=st.dictionaries(FIELDS, JSON_VALUE, max_size=9), kind=st.sampled_from(["PLAY", "LOOP", "TEMPO", "LOAD",
                                                                                        "KEY", "FX", "DROP", "x"]))
def test_any_json_intent(fields, kind):
    fields.setdefault("kind", kind)
    for d in take(osc("/copilot/intent/json", json.dumps(fields))):
        assert d.intent.source is Source.REMOTE


@pytest.mark.parametrize("surface", ["intents", "json"])
def test_a_real_udp_share_leaves_the_server_thread_alive_and_answering(surface, caplog):
    caplog.set_level(logging.WARNING)
    decider = Decider()
    server = IntentServer(decider.submit, "127.0.0.1:0")
    server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        share = fuzz_share(surface)
        sent = blast(server.port, share, lambda: server.receiver.datagrams, sock=sock)
        assert sent >= len(share) - 5  # all but a few oversized ones went out
        assert server.receiver.alive and server.receiver.errors == 0
        assert server.counters.errors == 0 and not errors_logged(caplog.records)
        valid_decided = [d for d in decider.decisions
                         if (d.intent.kind is IntentKind.HOTCUE and d.intent.deck and d.intent.deck.value == "A")
                         or d.intent.text in ("hot cue 2 on deck B", "sync A", "cue deck B")]
        assert len(valid_decided) >= 1500 // 50  # every well-formed one between the garbage
        sock.settimeout(2.0)
        while True:  # drain the answers to the share, then ask once more
            sock.settimeout(0.2)
            try:
                sock.recvfrom(4096)
            except TimeoutError:
                break
        sock.settimeout(2.0)
        sock.sendto(osc("/copilot/panic"), ("127.0.0.1", server.port))
        msg = OscPacket(sock.recvfrom(4096)[0]).messages[0].message
        assert (msg.address, msg.params[0]) == ("/copilot/decision", "done")
    finally:
        sock.close()
        server.close()
