"""The voice plugin: found as an input, talks to a real safety scheduler, confirms risky intents,
push-to-talk over real UDP OSC, doctor checks."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from copilot.bridge.clock import InternalClock
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import SafetyScheduler
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck
from copilot.plugins import voice_input
from copilot.plugins.voice_input import VoiceInput, VoiceSettings
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fixtures_voice import (  # noqa: F401  (fixtures)
    portaudio_off_jack_fixture,
    say,
    silence,
    transcriber_fixture,
)
from copilot.voice.capture import FileSource


class Session:
    """What `copilot run` hands an input: a clock, host state, a real scheduler, a report line."""

    def __init__(self) -> None:
        self.clock = InternalClock(tempo=120.0)
        self.state = HostState()
        self.scheduler = SafetyScheduler(self.clock, self.state)
        self.reports: list[str] = []
        self.decisions: list[Any] = []

    def submit(self, intent: Any) -> Any:
        decision = self.scheduler.submit(intent)
        self.decisions.append(decision)
        return decision

    def move(self, param: str, value: float, deck: Any = None, source: Any = None) -> Any:
        return self.scheduler.move(param, value, deck)

    def report(self, message: str) -> None:
        self.reports.append(message)


def flat_out(audio: np.ndarray) -> Any:
    return lambda sink, clock: FileSource(sink, audio=audio, speed=0, clock=clock)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_the_input_is_offered_only_when_voice_is_asked_for() -> None:
    host = TargetHost(plugins=[voice_input], entry_points=False, settings={"voice": {"end_silence_ms": 250}})
    assert host.inputs({"voice": False}) == []
    [voice] = host.inputs({"voice": True, "extra": {"voice": {"mode": "push-to-talk"}, "voice_titles": ["X"]}})
    assert isinstance(voice, VoiceInput)
    assert (voice.settings.mode, voice.settings.end_silence_ms, voice.settings.titles) == ("push-to-talk", 250, ["X"])
    with pytest.raises(ValueError, match="mode"):
        VoiceSettings.from_sources({"extra": {"voice": {"mode": "shouting"}}}, {})


def test_a_risky_command_waits_for_yes_then_goes_on_the_grid(transcriber: Any) -> None:
    session = Session()
    session.state.apply_feedback(_playing(Deck.A))
    audio = np.concatenate([silence(0.3), say("pause deck A"), silence(1.0), say("yes"), silence(1.0)])
    voice = VoiceInput(VoiceSettings(), transcriber=transcriber, source_factory=flat_out(audio))
    voice.start(session)
    try:
        assert wait_for(lambda: len(session.decisions) >= 2)
    finally:
        voice.stop()
    asked, confirmed = session.decisions[:2]
    assert asked.verdict.value == "awaiting_confirm" and asked.intent.kind.value == "PAUSE"
    assert confirmed.intent.kind.value == "CONFIRM" and confirmed.verdict.value == "done"
    assert [a.kind.value for a in confirmed.actions] == ["PAUSE"]
    assert any("say yes or cancel" in r for r in session.reports)
    status = voice.status()
    assert status["intents"] == 2 and status["latency_ms_p50"] > 0


def _playing(deck: Deck) -> Any:
    from copilot.bridge.state import DeckUpdate

    return DeckUpdate(deck, {"playing": True, "loaded": True})


def test_push_to_talk_over_osc(transcriber: Any) -> None:
    from pythonosc.udp_client import SimpleUDPClient

    port = free_udp_port()
    session = Session()
    speech = np.concatenate([silence(0.3), say("sync deck B"), silence(0.3)])
    ignored = np.concatenate([silence(0.3), say("play deck A"), silence(1.0)])
    settings = VoiceSettings(mode="push-to-talk", ptt_osc=f"127.0.0.1:{port}")
    made: list[FileSource] = []

    def realtime(sink, clock):  # the button matters, so the file plays at real-time pace
        made.append(FileSource(sink, audio=np.concatenate([ignored, speech]), speed=1.0, clock=clock))
        return made[-1]

    voice = VoiceInput(settings, transcriber=transcriber, source_factory=realtime)
    voice.start(session)
    client = SimpleUDPClient("127.0.0.1", port)
    try:
        client.send_message("/copilot/voice/*", 1)  # an address pattern presses nothing
        time.sleep(ignored.size / 16000)  # "play deck A" passes with the button up
        client.send_message(voice_input.PTT_OSC_ADDRESS, 1)
        made[0].join(10.0)
        client.send_message(voice_input.PTT_OSC_ADDRESS, 0)
        client.send_message(voice_input.PTT_OSC_ADDRESS, "garbage")  # ignored, never a crash
        assert wait_for(lambda: len(session.decisions) >= 1)
        time.sleep(0.3)
    finally:
        voice.stop()
    assert [(d.intent.kind.value, d.intent.deck) for d in session.decisions] == [("SYNC", Deck.B)]
    assert voice.heard[0].how == "released"


def test_doctor_finds_the_model_and_reports_a_broken_alias_file(tmp_path, portaudio_off_jack) -> None:
    broken = tmp_path / "aliases.toml"
    broken.write_text("[aliases]\nwobble = \n")
    checks = {c.name: c for c in voice_input.copilot_doctor({"voice": {"aliases": str(broken)}})}
    assert checks["voice model"].ok and "model" in checks["voice model"].detail.lower()
    assert checks["voice activity detector"].ok
    assert not checks["voice aliases"].ok and "not valid TOML" in checks["voice aliases"].detail
    missing = {c.name: c for c in voice_input.copilot_doctor({"voice": {"model": str(tmp_path / "nothing")}})}
    assert not missing["voice model"].ok and missing["voice model"].fix


def test_a_size_name_never_downloads(tmp_path, monkeypatch) -> None:
    from copilot.voice.asr import ModelMissing, resolve_model

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing on disk
    with pytest.raises(ModelMissing, match="never downloads"):
        resolve_model("base.en")
    assert resolve_model("tiny.en").joinpath("model.bin").is_file()  # the bundled one
