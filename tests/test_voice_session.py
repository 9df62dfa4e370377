"""`copilot run --voice` end to end: a spoken command, push-to-talk on "Copilot In", the real session
and scheduler, and the documented bytes on "Copilot Out" (JACK MIDI)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.ports import close_client
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import LOOP_BEATS
from copilot.plugins import midi_monitor, voice_input
from copilot.tests.fixtures_voice import say, silence

NOTE = 60


@pytest.mark.jack
def test_a_spoken_loop_with_push_to_talk_reaches_copilot_out(tmp_path: Path, jack_server, midi_capture) -> None:
    import rtmidi

    speech = say("loop four on deck A")
    lead, tail = 0.8, 1.5
    wav = tmp_path / "said.wav"
    sf.write(wav, np.concatenate([silence(lead), speech, silence(tail)]), 16000)
    said: list[str] = []
    options = SessionOptions(target="midi-monitor", link=False, tempo=120.0, osc=None, voice=True,
                             extra={"voice": {"file": str(wav), "mode": "push-to-talk", "ptt_midi_note": NOTE}})
    host = TargetHost(plugins=[midi_monitor, voice_input], entry_points=False)
    session = Session(options, Config(), host=host, report=said.append)
    session.start()
    try:
        out = midi_capture("Copilot Out")
        pad = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="voice-test-pad")
        pad.open_port(next(i for i, p in enumerate(pad.get_ports()) if p.endswith(":Copilot In")))
        pad.send_message([0x90, NOTE, 100])  # hold to talk
        time.sleep(lead + speech.size / 16000 + 0.2)
        pad.send_message([0x80, NOTE, 0])
        deadline = time.monotonic() + 10
        while not session.decisions and time.monotonic() < deadline:
            time.sleep(0.02)
        [decision] = session.decisions
        assert (decision.intent.kind.value, decision.intent.deck, decision.intent.source.value) == \
            ("LOOP", "A", "voice")
        loop_note = midi_monitor.LOOP_NOTE_BASE + LOOP_BEATS.index(4.0)
        wire = [data for _, data in out.collect(timeout=1.0)]
        assert bytes([0x90, loop_note, 127]) in wire  # deck A is channel 1
        close_client(pad)
    finally:
        session.stop()
    voice = next(i for i in session.inputs if i.name == "voice")
    assert voice.status()["intents"] == 1
    assert any("voice: heard" in m for m in said)
    assert session.feedback_count >= 2  # the pad's notes still reached the session's own handler
