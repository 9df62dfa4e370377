"""Whisper as configured for commands: the short window, the prompt, N-best, repeats, bad input, aliases."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from copilot.intents.aliases import AliasError, load_aliases
from copilot.tests.fixtures_voice import say, silence, transcriber_fixture  # noqa: F401  (fixture)
from copilot.voice.asr import (
    COMMAND_PROMPT,
    ModelMissing,
    Transcriber,
    Transcript,
    build_prompt,
    collapse_repeats,
    resolve_model,
)
from copilot.voice.understand import understand


def test_a_command_is_read_through_the_short_window_with_other_readings(transcriber: Transcriber) -> None:
    audio = np.concatenate([silence(0.3), say("echo fifty percent on deck B"), silence(0.3)])
    t = transcriber.transcribe(audio)
    assert t.window_s == 10.0  # not Whisper's 30 s
    assert "echo" in t.text.lower() and t.tokens <= transcriber.max_tokens
    assert t.alternatives and all(isinstance(text, str) for text, _ in t.alternatives)
    result = understand(t)
    assert result.to_dict()["intent"] == {"kind": "FX", "deck": "B", "args": {"name": "echo", "amount": 0.5}}


def test_long_audio_keeps_the_end_and_bad_samples_do_not_crash(transcriber: Transcriber) -> None:
    audio = np.concatenate([silence(40.0), say("sync deck A")])
    t = transcriber.transcribe(audio)
    assert t.window_s == 30.0 and "sync" in t.text.lower()
    broken = say("play deck B").copy()
    broken[::50] = np.nan
    broken[1::50] = np.inf
    assert isinstance(transcriber.transcribe(broken), Transcript)
    assert transcriber.transcribe(np.zeros(0, np.float32)).certainty <= 0.5


def test_silence_is_not_trusted(transcriber: Transcriber) -> None:
    t = transcriber.transcribe(silence(1.5))
    assert understand(t).intent is None


def test_titles_reach_the_prompt_and_a_broken_title_source_is_harmless(transcriber: Transcriber) -> None:
    prompt = build_prompt(["Dubby 118", "Midnight Drive"])
    assert prompt.startswith(COMMAND_PROMPT) and "Load Dubby 118 to deck B." in prompt and "Midnight Drive" in prompt
    assert len(build_prompt([f"Track number {i}" for i in range(500)])) <= 600 + 40

    def broken() -> list[str]:
        raise OSError("library database locked")

    t = Transcriber.__new__(Transcriber)
    t._titles = broken
    assert t.titles() == ()


def test_repetitions_are_collapsed() -> None:
    assert collapse_repeats("Drop it. Drop it. Drop it. Drop") == "Drop it."
    assert collapse_repeats("Play deck C. Play deck C. Play") == "Play deck C."
    assert collapse_repeats("Loop four. Loop eight.") == "Loop four. Loop eight."
    assert collapse_repeats("Loop four.") == "Loop four."


def test_models_are_found_only_where_they_are(tmp_path: Path) -> None:
    assert (resolve_model(None) / "model.bin").is_file()
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(ModelMissing, match=r"model\.bin"):
        resolve_model(empty)
    with pytest.raises(ModelMissing, match="not a Whisper size"):
        resolve_model("gigantic.en")
    with pytest.raises(ValueError, match="window_s"):
        Transcriber(window_s=2.0)


def test_alias_files(tmp_path: Path) -> None:
    good = tmp_path / "a.toml"
    good.write_text('[aliases]\n"wobble" = "filter down 80 percent"\n"lift off" = "eight bar build"\n')
    assert load_aliases(good) == {"wobble": "filter down 80 percent", "lift off": "eight bar build"}
    assert load_aliases(tmp_path / "missing.toml") == {}
    with pytest.raises(AliasError, match="no alias file"):
        load_aliases(tmp_path / "missing.toml", missing_ok=False)
    bad = tmp_path / "b.toml"
    bad.write_text('[aliases]\n"wobble" = 3\n')
    with pytest.raises(AliasError, match="non-empty string"):
        load_aliases(bad)
    broken = tmp_path / "c.toml"
    broken.write_bytes(b"\xff\xfe[aliases")
    with pytest.raises(AliasError, match=re.escape(broken.name)):
        load_aliases(broken)
