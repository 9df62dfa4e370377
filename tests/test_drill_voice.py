"""Fault drill, with the music going on: the speech recognizer's thread is killed while it works. A live
session hears two spoken commands from a recording (hands-free, the bundled Whisper model), turns a
knob 50 times a second on a real JACK port, and the recognizer's thread is killed as the first command
is being transcribed: the voice input starts it again and says so, the second command is decided, the
knob never stops."""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Deck, IntentKind
from copilot.plugins import midi_monitor, voice_input
from copilot.tests.fixtures import MidiCapture
from copilot.tests.fixtures_drill import knob_thread
from copilot.tests.fixtures_voice import say, silence

pytestmark = pytest.mark.jack


def kill(thread: threading.Thread) -> None:
    """What a crash inside the recognizer does to its thread: an exception nothing in it catches."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    assert done == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the kill, on purpose
def test_the_recognizer_is_killed_mid_utterance_and_voice_comes_back(tmp_path, jack_server):
    first, second = say("loop four on deck A"), say("hot cue two on deck B")
    wav = tmp_path / "said.wav"
    sf.write(wav, np.concatenate([silence(0.8), first, silence(2.5), second, silence(2.0)]), 16000)
    port = f"drill-voice-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    config = Config({"targets": {"midi-monitor": {"port": port}}, "ports": {"in": f"{port} In"}})
    said: list[str] = []
    seconds = 0.8 + (first.size + second.size) / 16000 + 4.5 + 1.5
    session = Session(SessionOptions(target="midi-monitor", duration=seconds, link=False, tempo=120.0, osc=None,
                                     midi_api="jack", log=tmp_path / "log.jsonl", voice=True,
                                     extra={"voice": {"file": str(wav), "mode": "hands-free"}}),
                      config, host=TargetHost(config.targets(), plugins=[midi_monitor, voice_input],
                                              entry_points=False),
                      report=lambda line: said.append(line))
    session.start()
    voice = next(i for i in session.inputs if i.name == "voice")
    listener = voice.listener
    listener.max_delay_s = 60.0  # a loaded test machine transcribes slowly: this drill is about the thread
    capture = MidiCapture(port, f"{port}-capture")
    killed: dict[str, float] = {}

    def killer() -> None:
        deadline = time.monotonic() + 10.0
        while listener._jobs.unfinished_tasks == 0 and time.monotonic() < deadline:
            time.sleep(0.001)  # the first utterance's audio is on its way to the recognizer
        time.sleep(0.02)
        killed["at"] = host_time()
        kill(listener._thread)

    knob_thread(session)
    threading.Thread(target=killer, daemon=True).start()
    try:
        session.play()
    finally:
        session.stop()
    arrivals = [capture.messages.get()[1] for _ in range(capture.messages.qsize())]
    capture.close()
    assert "at" in killed
    assert listener.stats["restarts"] == 1
    assert sum("the speech recognizer stopped; started it again" in line for line in said) == 1
    hotcue = [d for d in session.decisions if d.intent.kind is IntentKind.HOTCUE]
    assert hotcue and hotcue[0].intent.deck is Deck.B and hotcue[0].intent.source.value == "voice", said
    after = [t for t in arrivals if t > killed["at"]]
    assert len(after) > 100 and max(b - a for a, b in itertools.pairwise(after)) < 0.25  # the knob went on
    assert session.dispatcher.tally["midi-monitor"].failed == 0
