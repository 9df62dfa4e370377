"""The session end to end with real parts: JACK MIDI ports, host feedback, the session log, offline runs."""

from __future__ import annotations

import time

import pytest

from copilot.bridge.actions import Stream
from copilot.bridge.clock import ManualClock
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost, UnknownTarget
from copilot.bridge.log import read_log
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins import midi_monitor

SCRIPT = """\
0.05 play A
0.10 loop 4 on deck A
0.15 hot cue 3 on B
0.20 filter up 20 percent on deck B
"""


def quiet(messages: list[str]):
    return messages.append


def make_session(tmp_path, script: str = SCRIPT, **kw) -> tuple[Session, list[str]]:
    path = tmp_path / "set.txt"
    path.write_text(script)
    said: list[str] = []
    options = SessionOptions(target="midi-monitor", script=path, link=False, tempo=150.0, osc=None,
                             log=tmp_path / "log.jsonl", **kw)
    host = TargetHost(plugins=[midi_monitor], entry_points=False)
    return Session(options, Config(), host=host, report=quiet(said)), said


def expected_bytes(session: Session) -> list[tuple[float, bytes]]:
    """What the midi-monitor table promises for the script, from the scheduler's own decisions."""
    out = []
    for d in session.decisions:
        for a in d.actions:
            for item in session.host.get("midi-monitor").render(a, session.state):
                for timed in (item.items if isinstance(item, Stream) else [item]):
                    out.append((timed.beat, timed.payload.data))
    return sorted(out, key=lambda x: x[0])


@pytest.mark.jack
def test_a_script_reaches_copilot_out_as_exactly_the_documented_bytes_on_the_beat(tmp_path, midi_capture,
                                                                                   jack_server):
    session, _said = make_session(tmp_path, duration=3.8)
    session.start()
    capture = midi_capture("Copilot Out")
    try:
        session.play()
    finally:
        session.stop()
    got = capture.collect(timeout=0.5)
    want = expected_bytes(session)
    assert [data for _, data in got] == [data for _, data in want]
    # the documented table: PLAY deck A = note 0x10 on channel 1; LOOP 4 = 0x27; hot cue 3 on B = 0x42 ch 2
    first_three_notes = [d for _, d in want if d[0] & 0xF0 == 0x90 and d[2] == 0x7F]
    assert first_three_notes[:3] == [bytes([0x90, 0x27, 0x7F]), bytes([0x91, 0x42, 0x7F]), bytes([0x90, 0x10, 0x7F])]
    # on the beat: each message arrives after its beat and within a JACK period + scheduling slack
    period = jack_server.period / jack_server.rate
    for (arrived, _), (beat, _) in zip(got, want, strict=True):
        late = arrived - session.clock.time_at_beat(beat)
        assert -0.0005 <= late <= period + 0.006, (beat, late)
    records = read_log(tmp_path / "log.jsonl")
    kinds = {r["type"] for r in records}
    assert {"session", "intent", "decision", "sent", "stats"} <= kinds
    sent = [r for r in records if r["type"] == "sent" and r["target"] == "midi-monitor"]
    assert len(sent) == len(want) and all(r["sent"] >= r["due"] for r in sent)


@pytest.mark.jack
def test_host_feedback_on_copilot_in_makes_load_to_a_playing_deck_refused(tmp_path, jack_server):
    import rtmidi

    session, said = make_session(tmp_path, script="", duration=None)
    session.start()
    try:
        host = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-host")
        index = next(i for i, p in enumerate(host.get_ports()) if p.endswith(":Copilot In"))
        host.open_port(index)
        host.send_message([0x90, midi_monitor.NOTES["PLAY"], 127])  # the host says: deck A plays
        deadline = time.monotonic() + 2
        while not session.state.deck(Deck.A).playing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.state.deck(Deck.A).truth.value == "host"
        d = session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "dubby 118"}))
        assert d.verdict is Verdict.REFUSED and "deck A is playing" in d.reason
        assert any("never load a playing deck" in m for m in said)
        host.send_message([0x90, midi_monitor.NOTES["PLAY"], 0])  # stopped in the host
        deadline = time.monotonic() + 2
        while session.state.deck(Deck.A).playing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "dubby 118"})).verdict is Verdict.SCHEDULED
        host.close_port()
    finally:
        session.stop()
    assert session.feedback_count == 2


def test_offline_session_sends_on_exact_virtual_beats_and_logs_them(tmp_path):
    session, _ = make_session(tmp_path, out=tmp_path / "x.wav", duration=4.0)
    assert isinstance(session.clock, ManualClock)
    session.run()
    records = read_log(tmp_path / "log.jsonl")
    sent = [r for r in records if r["type"] == "sent" and r["target"] == "midi-monitor"]
    assert sent, "the script produced no sends"
    for r in sent:  # virtual time: every send is exactly on its due time
        assert r["sent"] == pytest.approx(r["due"], abs=1e-9)
    play = [r for r in sent if r["midi"] == "90 10 7f"]
    assert len(play) == 1 and play[0]["beat"] == 4.0  # the next bar after 0.05 s at 150 BPM


def test_unknown_target_is_refused_with_the_installed_list(tmp_path):
    session, _ = make_session(tmp_path, script="")
    session.options.target = "traktor"
    with pytest.raises(UnknownTarget, match="installed targets: midi-monitor"):
        session.choose_targets()
    session.stop()


def test_auto_target_falls_back_when_no_host_answers(tmp_path):
    session, _ = make_session(tmp_path, script="", auto_wait=0.1)
    session.options.target = "auto"
    assert session.choose_targets() == ["midi-monitor"]
    assert "no host found" in session.target_reason
    session.stop()


def test_auto_target_asks_each_target_and_the_highest_priority_host_that_answers_wins(tmp_path):
    from copilot.bridge.host import Capabilities, Target, hookimpl

    class Quiet(Target):
        name, auto_priority = "quiet", 50

        def capabilities(self):
            return Capabilities()

    class Loud(Target):
        name, auto_priority = "loud", 10

        def detect(self, around):
            return "its program is running" if "python3" in around.processes or around.processes else None

    class Plugin:
        @hookimpl
        def copilot_targets(self, config):
            return [Quiet(), Loud()]

    path = tmp_path / "empty.txt"
    path.write_text("")
    options = SessionOptions(target="auto", script=path, link=False, osc=None, auto_wait=0.1)
    host = TargetHost(plugins=[Plugin(), midi_monitor], entry_points=False)
    session = Session(options, Config(), host=host, report=lambda m: None)
    assert session.choose_targets() == ["loud"] and session.target_reason == "its program is running"
    session.stop()
