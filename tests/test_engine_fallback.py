"""No host and no sound device: `copilot run` plays into a WAV that behaves. It goes to the user data
folder under a new name each run, says where at the start and how much it wrote at the end, and every
way a set ends leaves a file that sox and libsndfile read whole: SIGTERM as `timeout` sends it (to the
process, then its group), `kill -9` (at most a second lost), and the length cap."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.tests.fixtures_first import (
    SR,
    Run,
    config,
    first_sound,
    recordings,
    track,
    wav_frames_by_header,
    wav_frames_by_size,
)


def _args(tmp: Path, crate: Path, **standalone: object) -> list[str]:
    return ["--target", "standalone", "--no-link", "--osc", "", "--crate", str(crate), "--config",
            str(config(tmp, **standalone)), "--log", str(tmp / "log.jsonl")]


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    folder = tmp_path / "crate"
    track(folder, "one", seconds=40.0, bpm=120.0, freq=400.0)
    track(folder, "two", seconds=40.0, bpm=120.0, freq=700.0)
    return folder


def test_sigterm_twice_like_timeout_and_the_length_cap_leave_whole_new_wavs(tmp_path: Path, crate: Path) -> None:
    run = Run(tmp_path, _args(tmp_path, crate))
    try:
        said = run.wait_for("playing into")
        path = Path(re.search(r"playing into (\S+\.wav)", said).group(1))
        assert path.parent == tmp_path / "data" / "copilot" / "recordings"
        assert re.fullmatch(r"copilot-\d{4}-\d\d-\d\d-\d{6}\.wav", path.name)
        assert "Ctrl-C" in said
        run.wait_for("deck A:")
        time.sleep(4.0)
        run.signal_like_timeout()
        code = run.finish()
    finally:
        run.kill()
    out = "\n".join(run.lines)
    assert code == 0, out
    assert "Traceback" not in out
    wrote = re.search(r"wrote (\d+) s to (\S+)", out)
    assert wrote and Path(wrote.group(2)) == path, out
    audio, sr = sf.read(path, always_2d=True)
    assert sr == SR and audio.shape[0] >= 4 * SR
    assert wav_frames_by_header(path) == audio.shape[0] == wav_frames_by_size(path)
    assert abs(int(wrote.group(1)) - audio.shape[0] / SR) <= 1.0
    if shutil.which("soxi"):
        assert int(subprocess.run(["soxi", "-s", str(path)], capture_output=True, text=True).stdout) == audio.shape[0]
    assert first_sound(audio) is not None  # the autopilot's deck is in it
    assert not (tmp_path / "copilot-mix.wav").exists()  # nothing in the current folder

    # the cap ends a set by itself, with a message, into a new file (never the one before)
    run = Run(tmp_path, _args(tmp_path, crate, fallback_minutes=0.05))  # 3 s
    try:
        code = run.finish(timeout=90.0)
    finally:
        run.kill()
    out = "\n".join(run.lines)
    assert code == 0, out
    assert "reached its 0.05 min cap" in out, out
    capped = re.search(r"wrote 3 s to (\S+)", out)
    assert capped, out
    assert Path(capped.group(1)) != path and recordings(tmp_path) == sorted([path, Path(capped.group(1))])
    assert sf.info(capped.group(1)).frames == 3 * SR == wav_frames_by_header(Path(capped.group(1)))


def test_kill_9_loses_at_most_a_second(tmp_path: Path, crate: Path) -> None:
    run = Run(tmp_path, _args(tmp_path, crate))
    try:
        said = run.wait_for("playing into")
        path = Path(re.search(r"playing into (\S+\.wav)", said).group(1))
        run.wait_for("deck A:")
        time.sleep(3.5)
    finally:
        run.kill()
    by_size, by_header = wav_frames_by_size(path), wav_frames_by_header(path)
    assert by_size >= 3 * SR
    assert by_size - 1.2 * SR <= by_header <= by_size  # the header was rewritten within the last second
    audio, _ = sf.read(path, frames=by_header, always_2d=True)
    assert np.isfinite(audio).all()
