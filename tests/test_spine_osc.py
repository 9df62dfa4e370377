"""OSC intents over real UDP: words and JSON in, decisions back, garbage counted, the LAN allow-list."""

from __future__ import annotations

import json
import socket

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import ManualClock
from copilot.bridge.osc import IntentServer, OscSender, parse_hostport
from copilot.bridge.scheduler import SafetyScheduler, Verdict
from copilot.intents.schema import Deck, Intent, IntentKind, Source


@pytest.fixture
def server():
    sched = SafetyScheduler(ManualClock(120.0))
    decisions = []

    def submit(intent):
        d = sched.submit(intent)
        decisions.append(d)
        return d

    srv = IntentServer(submit, "127.0.0.1:0")
    srv.start()
    srv.decisions = decisions
    yield srv
    srv.close()


def client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    return s


def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def reply(sock: socket.socket) -> tuple[str, str]:
    data, _ = sock.recvfrom(4096)
    msg = OscPacket(data).messages[0].message
    assert msg.address == "/copilot/decision"
    return msg.params[0], msg.params[1]


def test_words_become_a_remote_intent_and_the_sender_hears_the_decision(server):
    sock = client()
    sock.sendto(osc("/copilot/intent", "loop 4 on deck A"), ("127.0.0.1", server.port))
    verdict, reason = reply(sock)
    assert verdict == "scheduled" and "4-beat loop on deck A" in reason
    d = server.decisions[-1]
    assert d.intent.source is Source.REMOTE and d.intent.kind is IntentKind.LOOP and d.intent.deck is Deck.A


def test_json_intents_merge_the_remote_lamport_stamp(server):
    sock = client()
    remote = Intent(IntentKind.HOTCUE, Deck.B, {"n": 2}).to_dict()
    remote["lamport"] = 10_000
    sock.sendto(osc("/copilot/intent/json", json.dumps(remote)), ("127.0.0.1", server.port))
    assert reply(sock)[0] == "scheduled"
    assert server.decisions[-1].intent.lamport > 10_000


def test_panic_confirm_cancel_addresses(server):
    sock = client()
    sock.sendto(osc("/copilot/panic"), ("127.0.0.1", server.port))
    assert reply(sock)[0] == "done"
    sock.sendto(osc("/copilot/confirm"), ("127.0.0.1", server.port))
    assert reply(sock) == ("refused", "nothing is waiting for a yes")
    assert server.decisions[0].verdict is Verdict.DONE


def test_garbage_is_counted_answered_where_possible_and_never_stops_the_server(server):
    sock = client()
    addr = ("127.0.0.1", server.port)
    sock.sendto(b"\x00\xff not osc at all", addr)
    sock.sendto(b"/copilot/intent\x00,s\x00\x00", addr)  # truncated: type tag promises a string
    sock.sendto(osc("/copilot/intent", 42), addr)  # wrong type
    assert reply(sock) == ("refused", "/copilot/intent takes the command as a string")
    sock.sendto(osc("/copilot/intent/json", "{not json"), addr)
    assert reply(sock)[0] == "refused"
    sock.sendto(osc("/copilot/intent", "make it bouncier"), addr)
    verdict, reason = reply(sock)
    assert verdict == "refused" and "not a command" in reason
    sock.sendto(osc("/somewhere/else", 1.0), addr)
    sock.sendto(osc("/copilot/intent", "play B"), addr)  # still alive
    assert reply(sock)[0] == "scheduled"
    assert server.counters.malformed == 5  # bytes, truncated, wrong type, bad JSON, unknown address
    assert server.counters.refused == 1 and server.counters.accepted == 1


def test_a_lan_bind_without_an_allow_list_is_refused():
    with pytest.raises(ValueError, match="allow-list"):
        IntentServer(lambda i: None, "0.0.0.0:0")


def test_hostport_parsing():
    assert parse_hostport("9100") == ("127.0.0.1", 9100)
    assert parse_hostport("0.0.0.0:8000") == ("0.0.0.0", 8000)
    with pytest.raises(ValueError, match="PORT"):
        parse_hostport("here:there")


@pytest.mark.netns
def test_lan_allow_list_for_real_in_a_private_namespace(link_netns):
    for host in ("10.77.0.1", "10.77.0.2", "10.77.0.9"):  # LAN-looking addresses, all inside the namespace
        argv = ["ip", "addr", "add", f"{host}/32", "dev", "lo"]
        link_netns.run(argv).check_returncode()
    out = link_netns.run(link_netns.python("-m", "copilot.tests.osc_allow_probe"), timeout=30)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"stranger": None, "friend": "scheduled", "not_allowed": 1}


def test_osc_sender_bundles_carry_a_timetag(osc_pair):
    sender = OscSender(osc_pair.host, osc_pair.port)
    sender.send("/x", 1.0)
    sender.send_at(0.0, "/y", "z")
    got = osc_pair.collect(2)
    assert [(a, args) for a, args, _ in got] == [("/x", (1.0,)), ("/y", ("z",))]
    sender.close()
