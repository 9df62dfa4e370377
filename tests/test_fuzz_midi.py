"""Fuzz: whatever arrives on 'Copilot In' (or a target's own input) — bytes of any length, out-of-range
values, the shapes rtmidi hands over and ones it never should — into every target's on_feedback, the
session's feedback path and voice push-to-talk; then a real share over JACK into a live session."""

from __future__ import annotations

import logging
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.ports import close_client
from copilot.bridge.session import Session, SessionOptions
from copilot.bridge.state import DeckUpdate, HostState
from copilot.intents.schema import Deck
from copilot.plugins import ableton, midi_monitor, mixxx, serato, strudel
from copilot.tests.fuzz_corpus import corpus
from copilot.tests.fuzz_harness import FUZZ_INPUTS, errors_logged

TARGETS = {"serato-dj-pro": serato, "mixxx": mixxx, "ableton-live": ableton, "strudel": strudel,
           "midi-monitor": midi_monitor}
PLAY_A = {"serato-dj-pro": None, "mixxx": None, "ableton-live": None, "strudel": None,
          "midi-monitor": bytes([0x90, 0x10, 0x7F])}


def target(name: str):
    host = TargetHost(plugins=[TARGETS[name]], entry_points=False)
    return host.get(name)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_ten_thousand_hostile_messages_into_on_feedback(name):
    t = target(name)
    state = HostState()
    updates = 0
    for msg in corpus("midi", FUZZ_INPUTS, seed=1):
        out = t.on_feedback(msg)  # must not raise, whatever the message
        assert isinstance(out, list) and all(isinstance(u, DeckUpdate) for u in out)
        for update in out:
            state.apply_feedback(update)  # and what it says must be something the state can take
            updates += 1
    assert updates < FUZZ_INPUTS  # most of it means nothing
    assert set(state.decks()) <= set(Deck)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(msg=st.one_of(st.binary(max_size=8), st.lists(st.integers(-300, 300), max_size=5)))
def test_any_message_into_every_target(msg):
    for name in TARGETS:
        for update in target_cache(name).on_feedback(msg):
            HostState().apply_feedback(update)


_CACHE: dict[str, object] = {}


def target_cache(name: str):
    if name not in _CACHE:
        _CACHE[name] = target(name)
    return _CACHE[name]


def test_the_session_feedback_path_and_push_to_talk_take_anything(tmp_path, caplog):
    from copilot.plugins.voice_input import MidiPushToTalk, VoiceInput, VoiceSettings

    caplog.set_level(logging.WARNING)
    said: list[str] = []
    host = TargetHost(plugins=[midi_monitor], entry_points=False)
    session = Session(SessionOptions(target="midi-monitor", out=tmp_path / "x.wav", osc=None, log=None), Config(),
                      host=host, report=said.append)
    session.targets.append(session.host.get("midi-monitor"))
    voice = VoiceInput(VoiceSettings())
    presses: list[str] = []
    voice.press, voice.release = (lambda: presses.append("down")), (lambda: presses.append("up"))
    ptt = MidiPushToTalk.__new__(MidiPushToTalk)
    ptt.voice, ptt.note, ptt.channel = voice, 60, None
    for msg in corpus("midi", FUZZ_INPUTS, seed=2):
        if isinstance(msg, bytes | bytearray):  # what VirtualIn hands over: bytes, always
            session._on_feedback(bytes(msg), 0.0)
            ptt.on_midi(bytes(msg), 0.0)
    assert session.feedback_count > FUZZ_INPUTS // 2
    assert not errors_logged(caplog.records)
    assert all(p in ("down", "up") for p in presses)


@pytest.mark.jack
def test_a_real_share_over_jack_leaves_the_reader_alive_and_the_host_heard(jack_server, tmp_path):
    import rtmidi

    unique = f"fuzz-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    config = Config({"targets": {"midi-monitor": {"port": f"{unique} Out"}}, "ports": {"in": f"{unique} In"}})
    session = Session(SessionOptions(target="midi-monitor", duration=30.0, link=False, osc=None, midi_api="jack",
                                     log=None), config,
                      host=TargetHost(config.targets(), plugins=[midi_monitor], entry_points=False),
                      report=lambda _m: None)
    session.start()
    host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{unique}-host")
    try:
        host.open_port(next(i for i, p in enumerate(host.get_ports()) if p.endswith(f":{unique} In")))
        port = session.ports.inputs[f"{unique} In"]
        sent = 0
        for msg in corpus("midi", 3000, seed=3):
            if isinstance(msg, bytes) and 1 <= len(msg) <= 3 and msg[0] >= 0x80 and all(b < 0x80 for b in msg[1:]):
                host.send_message(list(msg))
                sent += 1
                if sent % 200 == 0:
                    time.sleep(0.02)  # let the reader drain (JACK carries a bounded number per cycle)
        # The garbage held truncated sysex (F0 …, no F7): rtmidi reads everything after one as part of it.
        # The watchdog ends it within a period (a lone F7): from then on the host is heard again.
        time.sleep(1.5)
        host.send_message([0x90, 0x10, 0x7F])  # and then the host says: deck A plays
        deadline = time.monotonic() + 3.0
        while not session.state.deck(Deck.A).playing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.state.deck(Deck.A).playing, (port.received, sent, session.feedback_count)
        assert port._thread.is_alive() and port.errors == 0
    finally:
        close_client(host)
        session.stop()
