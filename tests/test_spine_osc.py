"""OSC intents over real UDP: words and JSON in, decisions back, garbage counted, the LAN allow-list."""

from __future__ import annotations

import json
import socket
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import ManualClock
from copilot.bridge.osc import Bind, IntentServer, OscSender
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
    assert Bind.parse("9100") == Bind("127.0.0.1", 9100)
    assert Bind.parse("0.0.0.0:8000") == Bind("0.0.0.0", 8000)
    with pytest.raises(ValueError, match="PORT"):
        Bind.parse("here:there")


@pytest.mark.netns
def test_lan_allow_list_for_real_in_a_private_namespace(link_netns):
    for host in ("10.77.0.1", "10.77.0.2", "10.77.0.9"):  # LAN-looking addresses, all inside the namespace
        argv = ["ip", "addr", "add", f"{host}/32", "dev", "lo"]
        link_netns.run(argv).check_returncode()
    out = link_netns.run(link_netns.python("-m", "copilot.tests.osc_allow_probe"), timeout=30)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"stranger": None, "friend": "scheduled", "not_allowed": 1,
                      "network": {"stranger": None, "member": "scheduled"}}


def test_osc_sender_bundles_carry_a_timetag(osc_pair):
    sender = OscSender(osc_pair.host, osc_pair.port)
    sender.send("/x", 1.0)
    sender.send_at(0.0, "/y", "z")
    got = osc_pair.collect(2)
    assert [(a, args) for a, args, _ in got] == [("/x", (1.0,)), ("/y", ("z",))]
    sender.close()


# -- the front door: hostile datagrams, address patterns, allow-lists ---------------------------------------
def wait_reply(sock: socket.socket, timeout: float = 1.0) -> tuple[str, str]:
    sock.settimeout(timeout)
    return reply(sock)


def test_address_patterns_are_refused_never_expanded(server):
    sock = client()
    addr = ("127.0.0.1", server.port)
    for pattern in ("/*/*", "/copilot/{panic,cancel}", "/copilot/pani?", "/copilot/[cp]anic"):
        sock.sendto(osc(pattern), addr)
    sock.sendto(osc("/copilot/intent", "play B"), addr)  # after them, on the same socket
    assert wait_reply(sock)[0] == "scheduled"
    assert [d.intent.kind for d in server.decisions] == [IntentKind.PLAY]  # nothing fired PANIC/CONFIRM/CANCEL
    assert server.counters.malformed == 4


def test_hostile_datagrams_are_counted_dropped_and_never_stall_the_server(server):
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder as Message

    sock = client()
    addr = ("127.0.0.1", server.port)
    three = OscBundleBuilder(IMMEDIATELY)
    for name in ("/copilot/panic", "/copilot/confirm", "/copilot/cancel"):
        three.add_content(Message(name).build())
    hostile = [
        bytes.fromhex("2fff0000"),  # an address that is not UTF-8: it used to kill the server's thread
        osc("/" + "*" * 51),  # a pattern python-osc's matcher backtracks on for a minute and a half
        three.build().dgram,  # one datagram, three intents: refused whole
        b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x10" + b"/\xc3\x28" + b"\x00" * 13,  # garbage inside a bundle
    ]
    for data in hostile:
        sock.sendto(data, addr)
        sock.sendto(osc("/copilot/intent", "play B"), addr)
        started = time.monotonic()
        assert wait_reply(sock)[0] in ("scheduled", "refused")  # answered: alive and not stalled
        assert time.monotonic() - started < 0.5, data[:16]
    assert server.counters.malformed == len(hostile)
    assert not [d for d in server.decisions if d.intent.kind is not IntentKind.PLAY]
    one = OscBundleBuilder(IMMEDIATELY)
    one.add_content(Message("/copilot/panic").build())
    sock.sendto(one.build().dgram, addr)  # a bundle of one message is that message
    assert wait_reply(sock)[0] == "done"


def _intent_server(bind, allow):
    return IntentServer(lambda i: SafetyScheduler(ManualClock()).submit(i), bind, allow)


def _motion_listener(bind, allow):
    from copilot.motion.registry import Registry
    from copilot.motion.sources import Listener, OscSource

    return Listener(Bind.parse(bind), OscSource(Registry()), allow)


def _push_to_talk(bind, allow):
    from copilot.plugins.voice_input import OscPushToTalk, VoiceInput, VoiceSettings

    return OscPushToTalk(VoiceInput(VoiceSettings(extra={"ptt_allow": list(allow)})), bind)


@pytest.mark.parametrize("make", [_intent_server, _motion_listener, _push_to_talk],
                         ids=["intents", "motion", "push-to-talk"])
def test_every_listener_takes_the_same_allow_list_rules(make):
    with pytest.raises(ValueError, match="allow-list"):
        make("0.0.0.0:0", [])  # beyond this machine, nobody may come in unlisted
    with pytest.raises(ValueError, match="--allow takes an address or network"):
        make("0.0.0.0:0", ["192.168.1.300"])
    for allow, admitted in ((["127.0.0.0/8"], True), (["10.9.8.0/24"], False), (["127.0.0.1"], True)):
        made = make("0.0.0.0:0", allow)
        receiver = getattr(made, "receiver", None) or made._receiver
        if receiver._thread is None:
            made.start() if hasattr(made, "start") else None
        try:
            sock = client()
            sock.sendto(osc("/copilot/voice/ptt", 0), ("127.0.0.1", receiver.port))
            deadline = time.monotonic() + 2.0
            while receiver.datagrams < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert receiver.datagrams == 1
            assert receiver.not_allowed == (0 if admitted else 1), (allow, receiver.not_allowed)
        finally:
            made.close() if hasattr(made, "close") else made.stop()
