"""`copilot voice transcribe FILE.wav --json` and `copilot voice listen --file`, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.tests.fixtures_voice import say, silence

runner = CliRunner()


def test_transcribe_prints_text_intent_confidence_and_latency(tmp_path: Path) -> None:
    wav = tmp_path / "loop.wav"
    sf.write(wav, np.concatenate([silence(0.2), say("loop four on deck A"), silence(0.3)]), 16000)
    done = runner.invoke(app, ["voice", "transcribe", str(wav), "--json"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["intent"] == {"kind": "LOOP", "deck": "A", "args": {"beats": 4.0}}
    assert "loop" in out["text"].lower()
    assert 0.5 <= out["confidence"] <= 1.0 and out["latency_ms"] > 0


def test_transcribe_of_chatter_is_null_with_exit_code_1(tmp_path: Path) -> None:
    wav = tmp_path / "chatter.wav"
    sf.write(wav, np.concatenate([say("have you seen my headphones anywhere"), silence(0.3)]), 22050)
    done = runner.invoke(app, ["voice", "transcribe", str(wav), "--json"])
    assert done.exit_code == 1
    assert json.loads(done.output)["intent"] is None


def test_a_file_that_is_not_audio_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    done = runner.invoke(app, ["voice", "transcribe", str(bad), "--json"])
    assert done.exit_code == 2 and "cannot read" in done.output


def test_listen_to_a_recording_runs_the_scheduler(tmp_path: Path) -> None:
    wav = tmp_path / "set.wav"
    sf.write(wav, np.concatenate([silence(0.3), say("echo fifty percent on deck B"), silence(1.0)]), 16000)
    done = runner.invoke(app, ["voice", "listen", "--file", str(wav), "--json"])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")]
    heard = [line for line in lines if "verdict" in line]
    assert heard and heard[0]["intent"] == {"kind": "FX", "deck": "B", "args": {"name": "echo", "amount": 0.5}}
    assert heard[0]["verdict"] == "scheduled" and "echo" in heard[0]["decision"]


def test_listen_hears_the_last_word_of_a_file_and_says_each_decision_in_words(tmp_path: Path) -> None:
    """A file that ends right after the speech (no trailing silence for the end-pointer) used to give
    'utterances 0'; the end of the file ends the last utterance. Without --json every decision is a line
    in words and the summary is a sentence, not a Python dict."""
    wav = tmp_path / "play.wav"
    sf.write(wav, np.concatenate([silence(0.3), say("play deck A")]), 16000)
    done = runner.invoke(app, ["voice", "listen", "--file", str(wav), "--duration", "60"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert any(line.startswith("✓ play on deck A") for line in lines), done.output
    summary = lines[-1]
    assert summary.startswith("voice: heard 1 utterance (1 command)"), summary
    assert "{" not in done.output and "'utterances'" not in done.output


def test_listen_takes_duration_like_every_other_command() -> None:
    done = runner.invoke(app, ["voice", "listen", "--help"])
    assert "--duration" in done.output and "--seconds" not in done.output
