"""Live's decks A–D from AbletonOSC listeners, against a real UDP responder speaking AbletonOSC's
addresses: which clip plays on each deck's track (and its name), pushed at once and on every change,
mapped by configuration; the safety rules then refuse a LOAD onto whichever deck Live says is playing."""

from __future__ import annotations

import time

import pytest

from copilot.bridge.clock import ManualClock
from copilot.bridge.host import TargetContext
from copilot.bridge.scheduler import SafetyScheduler, Verdict
from copilot.bridge.state import HostState, Truth
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins.ableton import AbletonLive
from copilot.tests import fixtures_live
from copilot.tests.fixtures_live import AbletonOscServer

ableton_osc_server = fixtures_live.ableton_osc_server  # the fixture, registered in this module


def until(check, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def open_live(server: AbletonOscServer, state: HostState, **config) -> AbletonLive:
    target = AbletonLive({"osc_port": server.port, "reply_port": server.reply_port, **config})
    target.open(TargetContext(state=state, clock=ManualClock(tempo=120.0), options={}, report=lambda m: None))
    return target


def test_every_deck_follows_its_tracks_playing_clip(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.clips.update({(0, 0): "Warm Pad", (1, 2): "Dubby Roller", (2, 1): "Tool 3", (3, 0): "Acid Line"})
    server.playing[1] = 2  # deck B's clip already plays in Live before copilot starts
    state = HostState()
    target = open_live(server, state)
    try:
        b = state.deck(Deck.B)
        assert until(lambda: state.deck(Deck.B).track == "Dubby Roller"), state.deck(Deck.B)
        b = state.deck(Deck.B)
        assert b.playing and b.truth is Truth.HOST
        assert until(lambda: all(state.deck(d).truth is Truth.HOST for d in (Deck.A, Deck.C, Deck.D)))
        assert not any(state.deck(d).playing for d in (Deck.A, Deck.C, Deck.D))  # Live said so, not a guess

        server.set_playing(3, 0)  # a clip starts on track 4 in Live
        assert until(lambda: state.deck(Deck.D).playing and state.deck(Deck.D).track == "Acid Line")
        server.set_playing(1, -1)  # deck B's track stops
        assert until(lambda: not state.deck(Deck.B).playing)
        assert not state.deck(Deck.A).playing  # no "deck A playing" by default any more

        # the safety rules use it: no LOAD onto the deck Live says is playing; the others are fine
        scheduler = SafetyScheduler(ManualClock(tempo=120.0), state)
        refused = scheduler.submit(Intent(IntentKind.LOAD, Deck.D, {"query": "dubby"}))
        assert refused.verdict is Verdict.REFUSED and "deck D is playing" in refused.reason
        assert scheduler.submit(Intent(IntentKind.LOAD, Deck.B, {"query": "dubby"})).accepted
    finally:
        target.close()
    followed = [p for a, p in server.messages() if a == "/live/track/start_listen/playing_slot_index"]
    assert sorted(followed) == [(0,), (1,), (2,), (3,)]
    assert len([a for a, _ in server.messages() if a == "/live/track/stop_listen/playing_slot_index"]) == 4


def test_decks_map_onto_the_tracks_the_performer_configured(ableton_osc_server: AbletonOscServer) -> None:
    server = ableton_osc_server
    server.clips[(5, 0)] = "Bassline"
    state = HostState()
    target = open_live(server, state, deck_tracks=[4, 5])
    try:
        assert until(lambda: state.deck(Deck.B).truth is Truth.HOST)
        server.set_playing(5, 0)
        assert until(lambda: state.deck(Deck.B).track == "Bassline") and state.deck(Deck.B).playing
        server.set_playing(1, 0)  # track 2 is no deck here: nothing moves
        time.sleep(0.2)
        assert not state.deck(Deck.A).playing and state.deck(Deck.C).truth is not Truth.HOST
    finally:
        target.close()
    followed = sorted(p for a, p in server.messages() if a == "/live/track/start_listen/playing_slot_index")
    assert followed == [(4,), (5,)]


@pytest.mark.jack
def test_a_load_by_query_on_live_says_nothing_is_loaded(ableton_osc_server: AbletonOscServer, tmp_path,
                                                        jack_server) -> None:
    from copilot.bridge.config import Config
    from copilot.bridge.host import TargetHost, hookimpl
    from copilot.bridge.session import Session, SessionOptions
    from copilot.plugins import ableton

    class Shelf:
        name = "shelf"

        def resolve(self, query: str) -> dict:
            return {"path": "/music/dubby roller.flac", "title": "Dubby Roller"}

    class ShelfPlugin:
        @hookimpl
        def copilot_library(self, options):
            return Shelf()

    server = ableton_osc_server
    said: list[str] = []
    options = SessionOptions(target="ableton-live", link=False, osc=None, log=tmp_path / "log.jsonl",
                             midi_api="jack")
    config = {"ableton-live": {"osc_port": server.port, "reply_port": server.reply_port}}
    host = TargetHost(config, plugins=[ableton, ShelfPlugin()], entry_points=False)
    session = Session(options, Config(), host=host, report=said.append)
    session.start()
    try:
        decision = session.submit(Intent(IntentKind.LOAD, Deck.B, {"query": "dubby 118"}))
        time.sleep(0.3)
    finally:
        session.stop()
    assert "Live cannot be handed a track over AbletonOSC" in decision.reason
    assert "drag /music/dubby roller.flac onto a clip slot yourself" in decision.reason
    assert not any("picked" in line for line in said)
    sent = [a for a, _ in server.messages()]
    assert not any("load" in a or "create" in a for a in sent), sent  # nothing pretends to load it
