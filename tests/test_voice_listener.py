"""The listener: end-pointer → Whisper → grammar on its own thread; faults stay inside it."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from copilot.tests.fixtures_voice import say, silence, transcriber_fixture  # noqa: F401  (fixture)
from copilot.voice.asr import Transcriber
from copilot.voice.capture import FileSource
from copilot.voice.listener import Heard, Listener


def two_commands() -> np.ndarray:
    return np.concatenate([silence(0.5), say("loop eight on deck A"), silence(1.0), say("filter down"),
                           silence(1.0)])


def collect(listener_kwargs: dict[str, Any], audio: np.ndarray, asr: Any,
            speed: float = 0) -> tuple[Listener, list[Heard], list]:
    heard: list[Heard] = []
    errors: list[str] = []
    listener = Listener(asr, heard.append, on_error=errors.append, **listener_kwargs)
    listener.start()
    source = FileSource(listener.feed, audio=audio, speed=speed)  # 0: flat out, no waiting for real time
    source.run()
    assert listener.wait_idle(30.0)
    listener.stop()
    return listener, heard, errors


def test_commands_in_a_recording_become_intents_reusing_the_speculative_text(transcriber: Transcriber) -> None:
    # at the pace of speech: fed flat out, the second command's events queue up behind the first guess
    # and the listener drops guesses when it falls behind (on a busy CI host: not speculative)
    listener, heard, errors = collect({}, two_commands(), transcriber, speed=1.0)
    assert errors == []
    intents = [h.result.to_dict()["intent"] for h in heard]
    assert intents == [
        {"kind": "LOOP", "deck": "A", "args": {"beats": 8.0}},
        {"kind": "FILTER", "deck": None, "args": {"direction": "down", "amount": 0.5}},
    ]
    assert all(h.speculative for h in heard)  # the text started at the pause was the text used
    assert listener.stats["reused"] == 2 and listener.stats["intents"] == 2
    assert all(h.result.intent.source.value == "voice" for h in heard)


def test_chatter_is_heard_but_sends_nothing(transcriber: Transcriber) -> None:
    audio = np.concatenate([silence(0.3), say("what time does the club close tonight"), silence(1.0)])
    _, heard, _ = collect({}, audio, transcriber)
    assert len(heard) == 1 and heard[0].result.intent is None


class Flaky(Transcriber):
    """The real model, but the first transcription raises (a corrupt model page, an OOM …)."""

    def __init__(self, real: Transcriber) -> None:
        self.__dict__.update(real.__dict__)
        self.calls = 0

    def transcribe(self, audio: np.ndarray) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("simulated ASR crash")
        return super().transcribe(audio)


def test_an_asr_crash_is_reported_and_listening_goes_on(transcriber: Transcriber) -> None:
    listener, heard, errors = collect({"speculative": False}, two_commands(), Flaky(transcriber))
    assert len(errors) == 1 and "simulated ASR crash" in errors[0]
    assert [h.result.intent.kind.value for h in heard] == ["FILTER"]
    assert listener.stats["errors"] == 1


class Stalling(Transcriber):
    """The real model behind a lock that holds up the first call for `stall` seconds."""

    def __init__(self, real: Transcriber, stall: float) -> None:
        self.__dict__.update(real.__dict__)
        self.stall = stall
        self.first = True

    def transcribe(self, audio: np.ndarray) -> Any:
        if self.first:
            self.first = False
            time.sleep(self.stall)
        return super().transcribe(audio)


def test_a_stalled_asr_never_blocks_capture_and_late_commands_are_dropped(transcriber: Transcriber) -> None:
    heard: list[Heard] = []
    errors: list[str] = []
    listener = Listener(Stalling(transcriber, 2.5), heard.append, on_error=errors.append, max_delay_s=1.0,
                        speculative=False)
    listener.start()
    audio = np.concatenate([silence(0.3), say("play deck B"), silence(0.6)])
    worst = 0.0
    frames = audio.size // 512
    for _ in range(2):  # the same command twice, in real time
        for k in range(frames):
            t0 = time.perf_counter()
            listener.feed(audio[k * 512:(k + 1) * 512], time.monotonic())
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.032)
    assert listener.wait_idle(30.0)
    listener.stop()
    assert worst < 0.05  # the capture side never waited for Whisper
    assert listener.stats["dropped"] >= 1 and any("dropped" in e for e in errors)
    assert listener.stats["utterances"] == 2


def test_confirmation_words_get_slack_only_while_a_yes_is_awaited(transcriber: Transcriber) -> None:
    from copilot.voice.asr import Transcript

    listener = Listener(transcriber, lambda h: None, threshold=0.5, confirm_threshold=0.3)
    shaky_yes = Transcript("Yes.", 0.1, -2.4, 0.05, 3, 10.0)  # a low-certainty "yes"
    assert listener.understand(shaky_yes).intent is None
    listener.expect_confirmation(5.0)
    result = listener.understand(shaky_yes)
    assert result.intent is not None and result.intent.kind.value == "CONFIRM"
    shaky_play = Transcript("Play deck B.", 0.1, -2.4, 0.05, 3, 10.0)
    assert listener.understand(shaky_play).intent is None  # other commands get no slack


def test_push_to_talk_from_another_thread(transcriber: Transcriber) -> None:
    heard: list[Heard] = []
    listener = Listener(transcriber, heard.append, hands_free=False)
    listener.start()
    audio = np.concatenate([silence(0.3), say("sync deck C"), silence(0.3)])
    ignored = np.concatenate([silence(0.3), say("play deck B"), silence(1.0)])
    t0 = time.monotonic()
    for k in range(ignored.size // 512):  # hands-free is off: no button, no utterance
        listener.feed(ignored[k * 512:(k + 1) * 512], t0 + k * 0.032)
    presser = threading.Thread(target=listener.press, args=(t0,))
    presser.start()
    presser.join()
    for k in range(audio.size // 512):
        listener.feed(audio[k * 512:(k + 1) * 512], t0 + (k + 1) * 0.032)
    listener.release(at=time.monotonic())
    assert listener.wait_idle(30.0)
    listener.stop()
    assert [h.result.to_dict()["intent"] for h in heard] == [{"kind": "SYNC", "deck": "C", "args": {}}]
    assert heard[0].how == "released"
