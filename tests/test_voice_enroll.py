"""`copilot voice enroll`: the performer says each prompt once; how Whisper hears their voice becomes
aliases. The learning rule on written pairs, then the real CLI on a recording of a flite voice (one
that tiny.en hears "deck A" as "deck E" and "loop" as "blue"), judged by `copilot voice transcribe`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.tests import voice_corpus as corpus
from copilot.tests import voice_tts
from copilot.tests.fixtures_voice import portaudio_off_jack_fixture, silence  # noqa: F401
from copilot.voice.enroll import PROMPTS, learn, merge, to_toml

runner = CliRunner()
VOICE = "flite:slt"


def test_a_misheard_word_outside_the_command_language_becomes_an_alias() -> None:
    learned = learn([("loop eight", "Blue tape."), ("play deck A", "Play deck E."), ("pause deck B", "Pause deck B.")])
    assert learned == {"blue": "loop", "tape": "8", "e": "a"}


def test_command_words_numbers_and_decks_are_never_remapped() -> None:
    """'deck D' heard for 'deck B', 'four' for 'pause': mapping them would change what a correctly heard
    command means, so nothing is learned from those."""
    assert learn([("pause deck B", "Pause deck D."), ("pause", "Four."), ("loop two", "Loop four.")]) == {}


def test_a_word_heard_for_two_different_words_teaches_nothing() -> None:
    assert learn([("pause deck B", "Pause deck E."), ("cue deck D", "Cue deck E.")]) == {}


def test_no_word_is_taught_to_mean_load() -> None:
    """Every word after "load" is a track query: "both" → "load" turned the lyric "both me closer in the
    summer rain" into a LOAD. A misheard LOAD prompt is learned as its whole sentence only."""
    learned = learn([("load sunrise", "Both sunrise."),
                     ("load midnight drive to deck B", "Load midnight drive to deck D.")])
    assert learned == {"both sunrise": "load sunrise"}


def test_a_sentence_heard_with_other_words_becomes_a_sentence_alias() -> None:
    learned = learn([("sync deck B to deck A", "Same technique B to decay."), ("confirm", "Good for him.")])
    assert learned == {"same technique b to decay": "sync deck b to deck a", "good for him": "confirm"}
    assert learn([("loop eight", "Loop eight on deck.")]) == {}  # only command words: keeps its own meaning


def test_the_performers_own_aliases_win_and_are_kept_first() -> None:
    merged = merge({"wobble": "filter down eighty percent", "blue": "echo"}, {"blue": "loop", "tape": "8"})
    assert merged == {"tape": "8", "wobble": "filter down eighty percent", "blue": "echo"}
    text = to_toml(merged, {"blue": "loop", "tape": "8"})
    assert tomllib.loads(text)["aliases"] == merged
    assert text.index('"wobble"') < text.index("# learned") < text.index('"tape"')


@pytest.fixture(name="slt_recording")
def slt_recording_fixture(tmp_path: Path) -> Path:
    if (why := voice_tts.available("flite")) is not None:
        pytest.skip(f"flite voices need {why}")
    parts = [silence(0.5)]
    for prompt in PROMPTS:
        parts += [corpus.speak(prompt, VOICE, 110), silence(1.0)]
    wav = tmp_path / "enrol.wav"
    sf.write(wav, np.concatenate(parts), corpus.RATE)
    return wav


def test_enrolment_from_a_recording_makes_a_misheard_deck_understood(slt_recording: Path, tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[aliases]\n"wobble" = "filter down eighty percent"\n')
    command = tmp_path / "play.wav"  # another rendition than the enrolment's: 120 % of the voice's pace
    sf.write(command, np.concatenate([corpus.speak("play deck A", VOICE, 120), silence(0.3)]), corpus.RATE)
    before = runner.invoke(app, ["voice", "transcribe", str(command), "--json", "--aliases", str(aliases)])
    assert before.exit_code == 1, before.output  # heard as "Play deck E.": not a command

    done = runner.invoke(app, ["voice", "enroll", "--file", str(slt_recording), "--aliases", str(aliases)])
    assert done.exit_code == 0, done.output
    table = tomllib.loads(aliases.read_text())["aliases"]
    assert table["wobble"] == "filter down eighty percent" and table["e"] == "a"
    assert (tmp_path / "aliases.toml.bak").read_text() == '[aliases]\n"wobble" = "filter down eighty percent"\n'

    after = runner.invoke(app, ["voice", "transcribe", str(command), "--json", "--aliases", str(aliases)])
    assert after.exit_code == 0, after.output
    assert '"kind": "PLAY", "deck": "A"' in after.output


def test_a_recording_with_the_wrong_number_of_prompts_writes_nothing(tmp_path: Path) -> None:
    if (why := voice_tts.available("flite")) is not None:
        pytest.skip(f"flite voices need {why}")
    wav = tmp_path / "short.wav"
    sf.write(wav, np.concatenate([corpus.speak("play deck A", VOICE, 110), silence(1.0)]), corpus.RATE)
    aliases = tmp_path / "aliases.toml"
    done = runner.invoke(app, ["voice", "enroll", "--file", str(wav), "--aliases", str(aliases)])
    assert done.exit_code == 2
    assert f"heard 1 utterances for {len(PROMPTS)} prompts" in done.output
    assert not aliases.exists()


def test_a_broken_alias_file_is_said_and_left_alone(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.toml"
    aliases.write_text("[aliases\nbroken")
    done = runner.invoke(app, ["voice", "enroll", "--file", str(tmp_path / "none.wav"), "--aliases", str(aliases)])
    assert done.exit_code == 2 and "not valid TOML" in done.output and "Traceback" not in done.output
    assert aliases.read_text() == "[aliases\nbroken"


def test_no_microphone_is_one_line(portaudio_off_jack: None) -> None:
    done = runner.invoke(app, ["voice", "enroll"])
    assert done.exit_code == 2, done.output
    assert "cannot open the input" in done.output and "Traceback" not in done.output


def test_an_alias_file_that_cannot_be_written_is_one_line(slt_recording: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    done = runner.invoke(app, ["voice", "enroll", "--file", str(slt_recording), "--aliases",
                               str(blocked / "aliases.toml")])
    assert done.exit_code == 2 and "cannot write" in done.output and "Traceback" not in done.output
