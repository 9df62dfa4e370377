"""End-pointing on real speech (espeak-ng) and real music buffers, with the streaming Silero VAD."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.tests.fixtures_voice import say, silence
from copilot.tests.voice_corpus import music_bed
from copilot.voice.endpoint import End, EndpointConfig, Endpointer, Pause, Resume, Start
from copilot.voice.vad import FRAME, RATE, EnergyVad, SileroVad

FRAME_S = FRAME / RATE


def feed(ep: Endpointer, audio: np.ndarray, t0: float = 100.0) -> list[tuple[float, object]]:
    """All events with the capture time of the frame that produced them."""
    out = []
    for k in range(audio.size // FRAME):
        at = t0 + (k + 1) * FRAME_S
        out += [(at, e) for e in ep.feed(audio[k * FRAME:(k + 1) * FRAME], at)]
    return out


def speech_bounds(clip: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(clip) > 0.02 * np.max(np.abs(clip)))
    return int(loud[0]), int(loud[-1])


def trim(clip: np.ndarray) -> np.ndarray:
    """Without espeak's own leading/trailing silence."""
    first, last = speech_bounds(clip)
    return clip[first:last + 1]


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    return say("loop four on deck A")


def test_silero_streaming_tells_speech_from_silence_and_music(command: np.ndarray) -> None:
    vad = SileroVad()
    speech = [vad(command[k:k + FRAME]) for k in range(0, command.size - FRAME, FRAME)]
    vad.reset()
    music = music_bed(3.0, seed=3)
    beats = [vad(music[k:k + FRAME]) for k in range(0, music.size - FRAME, FRAME)]
    assert np.mean(np.array(speech) > 0.5) > 0.6
    assert np.mean(np.array(beats) > 0.5) < 0.05


def test_one_command_gives_start_pause_end_with_the_first_syllable_kept(command: np.ndarray) -> None:
    ep = Endpointer(SileroVad())
    audio = np.concatenate([silence(1.0), command, silence(1.0)])
    events = feed(ep, audio)
    kinds = [type(e) for _, e in events]
    assert kinds == [Start, Pause, End]
    (_, start), (pause_at, pause), (end_at, end) = events
    first, last = speech_bounds(command)
    true_start = 100.0 + 1.0 + first / RATE
    true_end = 100.0 + 1.0 + last / RATE
    assert abs(end.speech_end - true_end) < 0.1
    assert true_start - 0.1 < start.at < true_start + 0.15
    # the End comes after ~300 ms of silence, the speculative Pause ~100 ms after the speech
    assert 0.25 <= end_at - end.speech_end <= 0.40
    assert pause_at < end_at and np.array_equal(pause.audio, end.audio)
    # pre-roll: every loud sample of the command is inside the utterance
    energy = float(np.sum(command**2))
    assert float(np.sum(end.audio**2)) >= 0.99 * energy
    assert end.reason == "silence"


def test_a_short_gap_inside_a_command_resumes_instead_of_ending() -> None:
    ep = Endpointer(SileroVad())
    first, second = (trim(say(t)) for t in ("loop four", "on deck A"))
    audio = np.concatenate([silence(0.5), first, silence(0.2), second, silence(1.0)])
    events = [e for _, e in feed(ep, audio)]
    ends = [e for e in events if isinstance(e, End)]
    assert len(ends) == 1
    assert any(isinstance(e, Resume) for e in events)
    assert float(np.sum(ends[0].audio**2)) >= 0.99 * float(np.sum(first**2) + np.sum(second**2))


def test_music_alone_opens_no_utterance_and_speech_over_music_does(command: np.ndarray) -> None:
    music = music_bed(6.0, seed=1)
    ep = Endpointer(SileroVad())
    assert [e for _, e in feed(ep, music)] == []
    mixed = music.copy()
    at = int(2.0 * RATE)
    mixed[at:at + command.size] += command * 1.5
    ends = [e for _, e in feed(Endpointer(SileroVad()), mixed) if isinstance(e, End)]
    assert len(ends) == 1


def test_clicks_are_not_utterances() -> None:
    rng = np.random.default_rng(0)
    audio = silence(2.0)
    for at in (0.5, 1.2):
        k = int(at * RATE)
        audio[k:k + 400] = rng.standard_normal(400) * np.exp(-np.arange(400) / 80)
    assert [e for _, e in feed(Endpointer(EnergyVad()), audio) if isinstance(e, End)] == []


def test_push_to_talk_ignores_the_detector_and_keeps_the_preroll(command: np.ndarray) -> None:
    ep = Endpointer(SileroVad())
    quiet = silence(1.0)
    feed(ep, quiet)  # fills the pre-roll with silence
    assert ep.press(at=101.0) == [Start(101.0)]
    feed(ep, command, t0=101.0)
    [end] = ep.release(at=102.0)
    assert isinstance(end, End) and end.reason == "released" and end.speech_end == 102.0
    preroll = round(EndpointConfig().preroll_ms / 1000 / FRAME_S) * FRAME
    assert end.audio.size == preroll + command.size // FRAME * FRAME
    assert ep.release(at=103.0) == []  # a second release is nothing


def test_endless_talk_is_cut_at_the_maximum_length() -> None:
    words = say("one two three four five six seven eight nine ten eleven twelve thirteen fourteen", speed=200)
    ep = Endpointer(SileroVad(), EndpointConfig(max_utterance_s=2.0, end_silence_ms=600))
    ends = [e for _, e in feed(ep, np.concatenate([words, words])) if isinstance(e, End)]
    assert ends and ends[0].reason == "too long"
    assert ends[0].audio.size <= 2.0 * RATE + FRAME
