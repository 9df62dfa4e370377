"""Voice fixtures: one Whisper model per test session, spoken audio (espeak-ng; flite and Piper for the
corpus families), the corpus results.

Import the `*_fixture` functions you use into your test module; pytest finds them by their names.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from copilot.tests import voice_corpus as corpus

TITLES = ("Midnight Drive", "Dubby 118", "Sunrise", "Deep House", "Techno", "Something Funky", "The Next Track",
          "Blue Monday Dub", "Warehouse 93", "Kick It")


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng); .ci/run installs it")


def say(text: str, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    need_espeak()
    return corpus.speak(text, voice, speed)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * corpus.RATE), dtype=np.float32)


@pytest.fixture(name="portaudio_off_jack")
def portaudio_off_jack_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PortAudio initialised without the test JACK server. sounddevice initialises at import and
    terminates at exit; if it held a client on the session's JACK server, that exit would come after
    the server is gone and abort the test process (pa_jack asserts)."""
    import os
    import sys

    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"copilot-voice-none-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    if "sounddevice" in sys.modules:
        sd = sys.modules["sounddevice"]
        with contextlib.suppress(sd.PortAudioError):  # a JACK server's teardown may have terminated it already
            sd._terminate()
        sd._initialize()
    yield


def same_intent(expected: dict[str, Any] | None, got: dict[str, Any] | None) -> bool:
    """Kind, deck and every argument right (a LOAD query case-insensitively)."""
    if expected is None or got is None:
        return expected is None and got is None
    if (expected["kind"], expected["deck"]) != (got["kind"], got["deck"]):
        return False
    a, b = expected["args"], got["args"]
    if set(a) != set(b):
        return False
    for key, value in a.items():
        if isinstance(value, str):
            if value.lower() != str(b[key]).lower():
                return False
        elif abs(float(value) - float(b[key])) > 1e-6:
            return False
    return True


@pytest.fixture(scope="session", name="transcriber")
def transcriber_fixture() -> Any:
    """The bundled tiny.en, loaded and warmed once."""
    from copilot.voice.asr import Transcriber

    t = Transcriber(titles=TITLES)
    t.warm_up()
    return t


@dataclass(frozen=True)
class Outcome:
    clip: corpus.Clip
    text: str
    got: dict[str, Any] | None
    confidence: float
    asr_s: float
    free_got: dict[str, Any] | None = None  # from the readings alone (no constrained rescue)

    @property
    def right(self) -> bool:
        return same_intent(self.clip.expected, self.got)


@dataclass
class CorpusRun:
    clean: list[Outcome]
    noisy: list[Outcome]

    @staticmethod
    def accuracy(outcomes: list[Outcome]) -> float:
        commands = [o for o in outcomes if o.clip.expected is not None]
        return sum(o.right for o in commands) / len(commands)

    @staticmethod
    def false_accepts(outcomes: list[Outcome]) -> list[Outcome]:
        return [o for o in outcomes if o.clip.expected is None and o.got is not None]


def run_corpus(transcriber: Any, snr_db: float | None, family: str = "espeak", step: int = 1) -> list[Outcome]:
    """One clip in `step` of `family`'s corpus (`corpus.every`), clean (`snr_db` None) or over the music bed."""
    from copilot.voice.understand import understand

    out = []
    for n, clip in corpus.every(step, corpus.clips(family)):
        audio = corpus.audio_of(clip)
        if snr_db is not None:
            audio = corpus.mix_music(audio, snr_db, seed=n)
        transcript = transcriber.transcribe(audio)
        result = understand(transcript, titles=TITLES)
        free = understand(transcript, titles=TITLES, constrained=False)
        out.append(Outcome(clip, transcript.text, result.to_dict()["intent"], result.confidence,
                           transcript.latency_s, free.to_dict()["intent"]))
    return out


@pytest.fixture(scope="session", name="corpus_run")
def corpus_run_fixture(transcriber: Any) -> Iterator[CorpusRun]:
    """Every corpus clip transcribed once, clean and over music at 10 dB SNR."""
    need_espeak()
    yield CorpusRun(run_corpus(transcriber, None), run_corpus(transcriber, 10.0))


# The natural families are heard on one clip in three (every voice in it): the floors stay meaningful
# (≈ 56 commands and 17 non-commands each) and the suite pays ≈ 1 minute per family rather than three.
FAMILY_STEP = 3


class FamilyRuns(dict):
    """family → its CorpusRun, transcribed when first asked for; a family whose voices cannot speak
    here skips the test that asks for it."""

    def __init__(self, transcriber: Any) -> None:
        super().__init__()
        self.transcriber = transcriber

    def __missing__(self, family: str) -> CorpusRun:
        from copilot.tests import voice_tts

        if (why := voice_tts.available(family)) is not None:
            pytest.skip(f"the {family} voices need {why}")
        run = CorpusRun(run_corpus(self.transcriber, None, family, FAMILY_STEP),
                        run_corpus(self.transcriber, 10.0, family, FAMILY_STEP))
        self[family] = run
        return run


@pytest.fixture(scope="session", name="family_runs")
def family_runs_fixture(transcriber: Any) -> FamilyRuns:
    """Per family (flite, piper): its clips transcribed once each, clean and over music at 10 dB SNR."""
    return FamilyRuns(transcriber)
