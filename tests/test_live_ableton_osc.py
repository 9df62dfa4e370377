"""The AbletonOSC client and the ableton-live target's OSC side, against a real UDP server speaking
AbletonOSC's documented addresses and reply port."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from copilot.bridge.actions import ActionKind, OscOut
from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.host import TargetContext
from copilot.bridge.scheduler import SafetyScheduler, Verdict
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins.ableton import AbletonLive, doctor_checks
from copilot.plugins.ableton_osc import AbletonOSC
from copilot.tests import fixtures_live
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fixtures_live import AbletonOscServer, osc_bytes

ableton_osc_server = fixtures_live.ableton_osc_server  # the fixture, registered in this module


def client_for(server: AbletonOscServer, timeout: float = 0.5) -> AbletonOSC:
    client = AbletonOSC("127.0.0.1", server.port, server.reply_port, timeout=timeout)
    assert client.open(), client.error
    return client


def test_queries_get_live_answers(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.tempo = 123.5
    server.mins[(1, 0)] = (0.0, 20.0, -1.0)
    server.maxs[(1, 0)] = (1.0, 20000.0, 1.0)
    with client_for(server) as client:
        assert client.ping() is not None
        assert client.tempo() == pytest.approx(123.5)
        assert client.parameter_range(1, 0, 1) == (20.0, 20000.0)
        assert client.parameter_range(1, 0, 7) is None  # no such parameter: never a guessed range
        addr, args = client.parameter_message(1, 0, 2, 0.25)
        assert addr == "/live/device/set/parameter/value" and args == (1, 0, 2, -0.5)
        # cached: the second range needs no further round trip
        before = len(server.messages())
        assert client.parameter_range(1, 0, 2) == (-1.0, 1.0)
        assert len(server.messages()) == before


def test_no_server_times_out_politely() -> None:
    client = AbletonOSC("127.0.0.1", free_udp_port(), free_udp_port(), timeout=0.15)
    assert client.open()
    t0 = time.monotonic()
    assert client.ping() is None
    assert client.tempo() is None
    assert client.parameter_range(0, 0, 1) is None
    assert time.monotonic() - t0 < 1.0  # three polite timeouts, no hang
    assert client.fire_scene(2) is True  # sends never raise and never block
    assert client.stats.timeouts == 3
    client.close()


def test_reply_port_taken_is_a_clear_message() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("0.0.0.0", 0))
    port = holder.getsockname()[1]
    try:
        client = AbletonOSC("127.0.0.1", free_udp_port(), port)
        assert client.open() is False
        assert f"UDP {port}" in client.error and "another" in client.error
        assert client.query("/live/test") is None  # no listener: answers None at once
        assert client.send("/live/song/start_playing") is True
        client.close()
    finally:
        holder.close()


def test_slow_server_late_answer_never_answers_the_next_question(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.delay = 0.3
    server.replies.put((120.0,))
    server.replies.put((130.0,))
    with client_for(server, timeout=0.1) as client:
        assert client.tempo() is None  # Live is busy: we give up politely
        # asked again while the first answer is still on its way: the 120 that comes first belongs to the
        # abandoned question and is dropped; the answer to this one is 130
        assert client.query("/live/song/get/tempo", timeout=1.5) == (130.0,)
        assert client.stats.late_replies == 1 and client.stats.timeouts == 1
    server.delay = 0.3
    with client_for(server, timeout=1.0) as client:
        t0 = time.monotonic()
        assert client.tempo() == pytest.approx(120.0)  # slow, but answered
        assert time.monotonic() - t0 >= 0.3


def test_garbage_replies_are_counted_and_ignored(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.garbage = True
    server.tempo = 97.0
    server.mins[(0, 0)] = (0.0, 0.0)
    server.maxs[(0, 0)] = (1.0, 100.0)
    with client_for(server) as client:
        client_socket_alive = client._thread
        server.push(b"")
        server.push(b"#bundle\x00garbage")
        server.push(osc_bytes("/live/song/get/beat", "NaN-ish"))
        assert client.tempo() == pytest.approx(97.0)  # the junk before the answer did not answer
        assert client.parameter_range(0, 0, 1) == (0.0, 100.0)
        assert client.stats.garbage >= 5
        assert client_socket_alive.is_alive()


def test_beat_listener_pushes_live_beats(ableton_osc_server: AbletonOscServer) -> None:
    beats: list[tuple[int, float]] = []
    with client_for(ableton_osc_server) as client:
        assert client.start_beat_listener(lambda n, t: beats.append((n, t)))
        deadline = time.monotonic() + 2.0
        while len(beats) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        client.stop_beat_listener()
    assert [n for n, _ in beats[:4]] == [0, 1, 2, 3]
    assert all(b[1] > a[1] for a, b in itertools.pairwise(beats))


# -- the target over OSC: a scripted set ---------------------------------------------------------------
def _decide(scheduler: SafetyScheduler, intent: Intent) -> list:
    decision = scheduler.submit(intent)
    assert decision.verdict in (Verdict.SCHEDULED, Verdict.DONE), decision.reason
    return list(decision.actions)


def test_scripted_set_sends_exactly_the_expected_messages(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.mins[(0, 2)] = (0.0, 0.0, 0.0)
    server.maxs[(0, 2)] = (1.0, 1.0, 0.8)
    clock = ManualClock(tempo=120.0, start=100.0)
    target = AbletonLive({"osc_port": server.port, "reply_port": server.reply_port, "play": "clip",
                          "clip_slot": 3, "drop_scene": 4, "fx": {"echo": {"device": 2, "parameter": 2}}})
    target.open(TargetContext(clock=clock, options={}))
    try:
        # warm-up (off the hot path): is AbletonOSC there, beat listener, decks followed (test_live_ableton_decks),
        # FX parameter ranges for 4 decks
        server.wait_for(1 + 1 + 4 + 4 * 2)
        deadline = time.monotonic() + 2
        while not target.osc.range_cached(0, 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        warm = server.messages(skip=lambda a: "playing_slot_index" in a)
        assert warm[0] == ("/live/test", ())
        assert warm[1] == ("/live/song/start_listen/beat", ())
        assert sorted(warm[2:]) == sorted(
            [(f"/live/device/get/parameters/{m}", (d, 2)) for d in range(4) for m in ("min", "max")])

        state = HostState()
        scheduler = SafetyScheduler(clock, state)
        actions = []
        clock.advance_to_beat(0.5)
        actions += _decide(scheduler, Intent(IntentKind.PLAY, Deck.A))
        clock.advance_to_beat(4.5)
        actions += _decide(scheduler, Intent(IntentKind.FX, Deck.A, {"name": "echo", "amount": 0.5}))
        actions += _decide(scheduler, Intent(IntentKind.TEMPO, args={"bpm": 122}))
        actions += _decide(scheduler, Intent(IntentKind.DROP, args={"bars": 2}))
        dispatcher = Dispatcher(clock)
        osc_actions = [a for a in actions if a.kind is not ActionKind.ENVELOPE]
        for action in osc_actions:
            dispatcher.schedule(target, target.render(action, state))
        sent = dispatcher.pump(clock.time_at_beat(64))
        server.wait_for(len(warm) + 4 + 4)  # + the 4 decks followed
        live = [m for m in server.messages(skip=lambda a: "playing_slot_index" in a) if m not in warm]
    finally:
        target.close()

    assert live == [
        ("/live/clip/fire", (0, 3)),  # deck A = track 1, slot 4
        ("/live/device/set/parameter/value", (0, 2, 2, pytest.approx(0.4))),  # 50 % of Live's 0..0.8
        ("/live/song/set/tempo", (122.0,)),
        ("/live/scene/fire", (4,)),
    ]
    lead = 0.25 * 120 / 60  # launches go 0.25 s before the boundary Live quantizes them to
    beats = {s.payload.address: s.beat for s in sent if isinstance(s.payload, OscOut)}
    assert beats["/live/clip/fire"] == pytest.approx(4.0 - lead)  # PLAY on the next bar
    assert beats["/live/scene/fire"] == pytest.approx(12.0 - lead)  # drop in 2 bars: bar 4 counting this one
    assert beats["/live/device/set/parameter/value"] == pytest.approx(5.0)  # FX on the next beat
    assert beats["/live/song/set/tempo"] == pytest.approx(8.0)  # tempo on the next bar


def test_fx_without_a_known_range_rides_the_rack_macro_and_says_so() -> None:
    said: list[str] = []
    target = AbletonLive({"osc_port": free_udp_port(), "reply_port": free_udp_port(), "timeout": 0.05,
                          "fx": {"echo": {"device": 0, "parameter": 1}}})
    clock = ManualClock()
    target.open(TargetContext(clock=clock, report=said.append, options={}))
    try:
        scheduler = SafetyScheduler(clock)
        (action,) = _decide(scheduler, Intent(IntentKind.FX, Deck.B, {"name": "echo", "amount": 1.0}))
        out = target.render(action, HostState())
    finally:
        target.close()
    assert [t.payload.data for t in out] == [bytes([0xBF, 2, 127]), bytes([0xBF, 34, 127])]  # macro 2, 14-bit
    assert any("range of FX 'echo'" in s for s in said)


def test_doctor_reports_abletonosc(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    (osc, script) = doctor_checks({"osc_port": server.port, "reply_port": server.reply_port}, folders=[])
    assert osc.ok and "answers at 127.0.0.1" in osc.detail
    assert script.ok and "no Ableton Live preferences" in script.detail

    (osc, _) = doctor_checks({"osc_port": free_udp_port(), "reply_port": free_udp_port(), "timeout": 0.1},
                             folders=[])
    assert not osc.ok
    assert "AbletonOSC not installed/running" in osc.detail and "ideoforms/AbletonOSC" in osc.fix


class _LinkedClock(ManualClock):
    """A manual clock that says Live is on the Link session with us."""

    @property
    def peers(self) -> int:
        return 1


def test_tempo_travels_by_link_when_live_is_on_it() -> None:
    target = AbletonLive({"osc": False})
    for clock, expect in ((_LinkedClock(), []), (ManualClock(), [("/live/song/set/tempo", (122.0,))])):
        target.open(TargetContext(clock=clock, options={}))
        (action,) = SafetyScheduler(clock).submit(Intent(IntentKind.TEMPO, args={"bpm": 122})).actions
        out = target.render(action, HostState())
        target.close()
        assert [(t.payload.address, t.payload.args) for t in out] == expect


def test_lives_beat_cross_checks_the_link_grid() -> None:
    said: list[str] = []
    clock = ManualClock(tempo=120.0, start=50.0)
    target = AbletonLive({"osc": False})
    target.open(TargetContext(clock=clock, report=said.append, options={}))
    try:
        for n in range(12):  # Live on Link: each beat heard one tick (~90 ms ± 10) after Link's
            target._on_live_beat(n, clock.time_at_beat(n) + 0.09 + 0.01 * (n % 3 - 1))
        assert target.live_on_link() is True and target.beat_lag() == pytest.approx(0.09, abs=0.011)
        assert not said
        target._beat_lags.clear()
        for n in range(12):  # Live off Link at 118 BPM: its beats slide through ours
            target._on_live_beat(n, clock.time_at_beat(0) + 0.3 + n * 60 / 118)
        assert target.live_on_link() is False
        assert len(said) == 1 and "is Link on in Live?" in said[0]
        assert target.health()["live_on_link"] is False
    finally:
        target.close()
