"""A crate that cannot play is said, not rendered as silence. Today a corrupt file first in the crate, a
crate of beatless tones or a folder that does not exist each rendered pure silence and exited 0. Now
each unplayable track is skipped with one line, the autopilot moves on to the next that plays, and with
nothing playable `copilot run` exits non-zero with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import soundfile as sf

from copilot.tests.fixtures_first import config, corrupt, first_sound, home, longest_silence, sine, track


def _render(tmp: Path, crate: Path, seconds: float = 20.0) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp / "mix.wav"
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "run", "--out", str(out), "--crate", str(crate), "--duration",
         str(seconds), "--no-link", "--osc", "", "--config", str(config(tmp)), "--log", str(tmp / "log.jsonl")],
        capture_output=True, text=True, timeout=300, env=home(tmp), cwd=tmp)
    return done, out


def test_unplayable_tracks_are_skipped_in_one_line_each_and_the_mix_plays_the_rest(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    corrupt(crate, "01 corrupt")
    sine(crate, "02 tone")
    (crate / "03 gone.wav").symlink_to(tmp_path / "deleted.wav")
    track(crate, "04 good", seconds=40.0, bpm=120.0, freq=500.0)
    track(crate, "05 tone without grid", seconds=30.0, sidecar=False)  # clicks: the beat is found, it plays
    done, out = _render(tmp_path, crate)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "Traceback" not in text
    skipped = [line for line in done.stdout.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3, skipped  # one line each, said once
    for said in ("01 corrupt.wav: cannot decode", "02 tone.wav: no beat", "03 gone.wav: no such file"):
        assert any(said in line for line in skipped), (said, skipped)
    audio, _ = sf.read(out, always_2d=True)
    start = first_sound(audio)
    assert start is not None and start < 5.0, text  # the autopilot went on to the next track at once
    assert longest_silence(audio, start) < 1.0


def test_nothing_playable_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    corrupt(crate, "a")
    sine(crate, "b", hz=110.0)
    done, _ = _render(tmp_path, crate)
    text = done.stdout + done.stderr
    assert done.returncode != 0, text
    assert "nothing in" in text and "can play" in text, text
    assert "Traceback" not in text


def test_a_crate_folder_that_does_not_exist_or_is_empty_exits_non_zero(tmp_path: Path) -> None:
    done, _ = _render(tmp_path, tmp_path / "no-such-folder")
    assert done.returncode != 0 and "no crate folder at" in done.stderr, done.stdout + done.stderr  # the flag's check
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    done, _ = _render(tmp_path, tmp_path / "empty")
    assert done.returncode != 0 and "no audio files there" in done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
