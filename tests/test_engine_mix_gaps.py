"""The autopilot's mix of the example crate has no silent stretch longer than 2 s — from a fresh machine's
state (the example crate not yet written), through its first transition. (The full ten minutes, with
key-lock on, is `bench/first_sound.py`; here key-lock is off so the render takes seconds.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import soundfile as sf

from copilot.tests.fixtures_first import config, first_sound, home, longest_silence


def test_the_example_crate_mix_starts_within_seconds_and_never_falls_silent(tmp_path: Path) -> None:
    out = tmp_path / "mix.wav"
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "run", "--out", str(out), "--duration", "240", "--no-link", "--osc", "",
         "--config", str(config(tmp_path)), "--log", str(tmp_path / "log.jsonl")],
        capture_output=True, text=True, timeout=600, env=home(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "A→B over" in done.stdout, done.stdout  # the first transition was planned
    audio, sr = sf.read(out, always_2d=True)
    assert audio.shape[0] == 240 * sr
    start = first_sound(audio)
    assert start is not None and start < 5.0
    assert longest_silence(audio, start) < 2.0
