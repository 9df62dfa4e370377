"""What a sender on the network may make the scheduler hold: bounded `at_beat`, a remote is a remote,
bounded queues with a clear refusal when full — on the scheduler itself and over real UDP."""

from __future__ import annotations

import json
import socket

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import ManualClock
from copilot.bridge.osc import IntentServer
from copilot.bridge.safety import SafetyConfig
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler, Verdict
from copilot.bridge.state import DeckUpdate, HostState
from copilot.intents.schema import Deck, Intent, IntentError, IntentKind, Source

K = IntentKind


def make(**cfg):
    clock = ManualClock(120.0)
    state = HostState()
    sched = SafetyScheduler(clock, state, NullOutbox(), SafetyConfig(**cfg))
    return clock, state, sched


# -- at_beat: within the horizon, or refused ----------------------------------------------------------------
def test_a_play_asked_for_beat_1e15_is_refused_and_never_makes_the_deck_about_to_play():
    clock, _, sched = make()
    far = sched.submit(Intent(K.PLAY, Deck.A, source=Source.REMOTE, at_beat=1e15))
    assert far.verdict is Verdict.REFUSED and "bars ahead" in far.reason and "64 bars" in far.reason
    clock.advance(2.0)
    load = sched.submit(Intent(K.LOAD, Deck.A, {"query": "dubby"}))
    assert load.verdict is Verdict.SCHEDULED, load.reason  # deck A is not "about to play" for ever


@pytest.mark.parametrize("at_beat", [1e308, -1e15, 64 * 4 + 8.0, -(64 * 4 + 8.0)])
def test_beats_beyond_the_horizon_either_way_are_refused_with_a_reason(at_beat):
    _, _, sched = make()
    d = sched.submit(Intent(K.HOTCUE, Deck.B, {"n": 1}, at_beat=at_beat))
    assert d.verdict is Verdict.REFUSED
    assert ("ahead" in d.reason) if at_beat > 0 else ("in the past" in d.reason)


def test_within_the_horizon_an_at_beat_is_kept_and_the_horizon_is_a_setting():
    clock, _, sched = make()
    clock.advance_to_beat(10.2)
    d = sched.submit(Intent(K.HOTCUE, Deck.B, {"n": 1}, at_beat=250.0))  # 60 bars on
    assert d.verdict is Verdict.SCHEDULED and d.beat == 250.0
    late = sched.submit(Intent(K.HOTCUE, Deck.A, {"n": 1}, at_beat=9.5))  # a little late: the next beat
    assert late.verdict is Verdict.SCHEDULED and late.beat == 11.0
    _, _, short = make(horizon_bars=2)
    assert short.submit(Intent(K.CUE, Deck.A, at_beat=12.0)).verdict is Verdict.REFUSED
    assert short.submit(Intent(K.CUE, Deck.A, at_beat=4.0)).verdict is Verdict.SCHEDULED
    assert SafetyConfig.from_dict({"horizon_bars": 8}).horizon_bars == 8.0


def test_at_beat_must_be_a_number():
    for bad in (True, "12", [1]):
        with pytest.raises(IntentError, match="at_beat"):
            Intent(K.CUE, Deck.A, at_beat=bad)


# -- bounded queues -------------------------------------------------------------------------------------
def test_the_scheduled_queue_is_bounded_with_a_clear_refusal():
    _, _, sched = make(max_scheduled=20)
    verdicts = [sched.submit(Intent(K.HOTCUE, Deck.A, {"n": 1}, at_beat=float(4 + i))) for i in range(25)]
    assert [d.verdict for d in verdicts[:20]] == [Verdict.SCHEDULED] * 20
    full = verdicts[20]
    assert full.verdict is Verdict.REFUSED and "20 intents are already queued" in full.reason
    assert sched.submit(Intent(K.PANIC)).verdict is Verdict.DONE  # PANIC empties it
    assert sched.submit(Intent(K.CUE, Deck.A)).verdict is Verdict.SCHEDULED


def test_the_default_bound_holds_a_flood_of_remote_intents():
    _, _, sched = make()
    beats = [4.0 + i * 0.5 for i in range(400)]  # all within 64 bars
    verdicts = [sched.submit(Intent(K.HOTCUE, Deck.A, {"n": 2}, source=Source.REMOTE, at_beat=b)).verdict
                for b in beats]
    assert verdicts.count(Verdict.SCHEDULED) == SafetyConfig().max_scheduled
    assert len(sched._scheduled) == SafetyConfig().max_scheduled


def test_questions_waiting_for_a_yes_are_bounded():
    _, state, sched = make(max_pending=3)
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True}))
    asked = [sched.submit(Intent(K.TEMPO, args={"bpm": 150.0 + i})) for i in range(5)]
    assert [d.verdict for d in asked] == [Verdict.AWAITING_CONFIRM] * 3 + [Verdict.REFUSED] * 2
    assert "3 questions are already waiting for a yes" in asked[3].reason
    assert len(sched.pending()) == 3


# -- over the wire ------------------------------------------------------------------------------------------
def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


@pytest.fixture
def server():
    sched = SafetyScheduler(ManualClock(120.0))
    decisions = []

    def submit(intent):
        decisions.append(sched.submit(intent))
        return decisions[-1]

    srv = IntentServer(submit, "127.0.0.1:0")
    srv.start()
    srv.decisions = decisions
    yield srv
    srv.close()


def ask(server, payload: dict) -> tuple[str, str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(osc("/copilot/intent/json", json.dumps(payload)), ("127.0.0.1", server.port))
        msg = OscPacket(sock.recvfrom(4096)[0]).messages[0].message
    return msg.params[0], msg.params[1]


def test_a_json_sender_claiming_to_be_the_voice_or_the_planner_is_a_remote(server):
    for claimed in ("voice", "planner", "bogus"):
        verdict, _ = ask(server, {"kind": "CUE", "deck": "A", "source": claimed})
        assert verdict == "scheduled"
        assert server.decisions[-1].intent.source is Source.REMOTE


def test_json_at_beat_1e308_is_answered_with_a_refusal_and_true_is_not_a_beat(server):
    verdict, reason = ask(server, {"kind": "PLAY", "deck": "A", "at_beat": 1e308})
    assert verdict == "refused" and "bars ahead" in reason
    verdict, reason = ask(server, {"kind": "PLAY", "deck": "A", "at_beat": True})
    assert verdict == "refused" and "at_beat" in reason
    verdict, _ = ask(server, {"kind": "LOAD", "deck": "A", "args": {"query": "x"}})
    assert verdict == "scheduled"  # nothing above left deck A "about to play"


# -- a Link peer moves the tempo under a decided TEMPO --------------------------------------------------------
def test_a_tempo_decided_before_a_peer_moved_the_set_is_withheld_at_its_beat_if_the_jump_is_now_too_big():
    from copilot.bridge.dispatch import Dispatcher
    from copilot.bridge.router import Router

    clock = ManualClock(120.0)
    said: list[str] = []
    dispatcher = Dispatcher(clock, realtime=False)
    router = Router([], dispatcher, HostState(), clock, said.append, tempo_jump_cap=3.0)
    sched = SafetyScheduler(clock, HostState(), router, SafetyConfig())
    up = sched.submit(Intent(K.TEMPO, args={"delta_bpm": 2.0}))  # 120 → 122 on the next bar
    assert up.verdict is Verdict.SCHEDULED
    clock.set_tempo(160.0)  # a peer yanks the set to 160 before the bar
    dispatcher.pump(clock.time_at_beat(up.beat) + 0.01)
    assert clock.tempo == 160.0  # never yanked back by a decision made at 120
    assert said == ["✗ tempo to 122 BPM withdrawn: the Link session moved to 160.0 BPM meanwhile — a 38.0 BPM "
                    "jump would need a yes"]
    small = sched.submit(Intent(K.TEMPO, args={"delta_bpm": 2.0}))  # decided at 160: 162 goes out
    clock.set_tempo(161.0)  # a nudge meanwhile: 162 is still within the cap from there
    dispatcher.pump(clock.time_at_beat(small.beat) + 0.01)
    assert clock.tempo == 162.0
