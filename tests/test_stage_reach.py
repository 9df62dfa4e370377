"""A session that cannot reach its host says so: one loud line at the start naming the target and the fix,
never a ✓ for what cannot be sent, failing sends counted per target and said (not a line per send), and a
closing summary — sent, refused, failed — per target. Live sessions on the internal clock, real ports."""

from __future__ import annotations

import os

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.log import read_log
from copilot.bridge.session import Session, SessionOptions
from copilot.plugins import midi_monitor, serato

# the last line is refused: deck A is about to play
SCRIPT = "0.1 play A\n0.2 loop 4 on deck A\n0.3 filter up 20 percent on deck A\n0.4 load dubby to deck A\n"


def live_session(tmp_path, target: str, duration: float = 1.6, **kw) -> tuple[Session, list[str]]:
    script = tmp_path / "set.txt"
    script.write_text(SCRIPT)
    said: list[str] = []
    options = SessionOptions(target=target, script=script, duration=duration, link=False, tempo=150.0, osc=None,
                             log=tmp_path / "log.jsonl", **kw)
    host = TargetHost(plugins=[midi_monitor, serato], entry_points=False)
    return Session(options, Config(), host=host, report=said.append), said


@pytest.fixture
def no_midi_system(monkeypatch):
    """This machine as a performer's laptop with no MIDI system running: no ALSA sequencer, no JACK."""
    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer: MIDI ports would open")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"copilot-nobody-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")


@pytest.mark.parametrize("target", ["serato-dj-pro", "midi-monitor"])
def test_a_host_with_no_port_is_said_loudly_never_ticked_and_summed_up(tmp_path, no_midi_system, target):
    session, said = live_session(tmp_path, target)
    session.run()
    start = [line for line in said if line.startswith(f"✗ {target} has no MIDI port open")]
    assert len(start) == 1, said
    assert "nothing copilot decides will reach it" in start[0] and "jackd" in start[0]  # the fix, in one line
    decided = [line for line in said if line[:2] in ("✓ ", "! ", "✗ ", "? ") and "[script]" in line]
    assert len(decided) == 4
    assert not [line for line in decided if line.startswith("✓")], decided  # never a ✓ for what cannot go out
    accepted = [line for line in decided if line.startswith("!")]
    assert len(accepted) == 3 and all(f"but {target} has no MIDI port open" in line and
                                      "nothing will reach it" in line for line in accepted)
    assert "never load a playing deck" in next(line for line in decided if line.startswith("✗"))
    summary = said[-2:]
    assert summary[0].startswith("summary: 4 decisions (3 scheduled, 0 done, 1 refused")
    assert summary[1].startswith(f"{target}: 0 sent, 0 refused at send time, ")
    failed = int(summary[1].split(", ")[2].split()[0])
    assert failed >= 4 and "nothing reached the host" in summary[1]  # presses and a filter sweep, all failed
    assert len([line for line in said if "sends are failing" in line or "more sends failed" in line]) <= 1
    records = read_log(tmp_path / "log.jsonl")
    assert len([r for r in records if r["type"] == "send_error"]) <= 2  # not one record per failed send
    [stats] = [r for r in records if r["type"] == "stats"]
    assert stats["sends"][target]["failed"] == failed
    assert next(r["unreachable"] for r in records if r["type"] == "decision" and r["unreachable"]) == {
        target: "has no MIDI port open ('Copilot Out')"}


@pytest.mark.jack
def test_a_host_that_is_there_gets_ticks_and_a_clean_summary(tmp_path, jack_server, midi_capture):
    session, said = live_session(tmp_path, "midi-monitor", midi_api="jack")
    session.start()
    capture = midi_capture("Copilot Out")
    try:
        session.play()
    finally:
        session.stop()
    got = capture.collect(timeout=0.3)
    assert not [line for line in said if "nothing will reach" in line or "has no MIDI port" in line]
    assert len([line for line in said if line.startswith("✓ [script]")]) == 3
    sent = session.dispatcher.tally["midi-monitor"].sent
    assert sent == len(got) > 0  # what the summary counts is what the wire carried
    assert said[-1] == f"midi-monitor: {sent} sent, 0 refused at send time, 0 failed to send"
