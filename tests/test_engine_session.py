"""The engine through the front door: `copilot run --out` renders a mix from the command line, and a
live session with no usable sound device says so and records to a WAV instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.plugins import autopilot, phrase_db, standalone

from .test_engine_offline import SR, clicks, write_track


def test_copilot_run_out_renders_the_crate_from_the_command_line(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    write_track(crate, "one", clicks(40.0, 121.0, 300.0), 121.0)
    write_track(crate, "two", clicks(40.0, 125.0, 900.0), 125.0)
    out = tmp_path / "mix.wav"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "run", "--out", str(out), "--crate", str(crate), "--duration", "20",
         "--no-link", "--osc", "", "--log", str(tmp_path / "log.jsonl")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "target: standalone" in done.stdout and "rendered 20.0 s" in done.stdout, done.stdout
    audio, sr = sf.read(out, always_2d=True)
    assert sr == SR and audio.shape[0] == 20 * SR
    assert np.sqrt(np.mean(audio[5 * SR:] ** 2)) > 0.01  # the autopilot started a deck
    tp = max(np.abs(signal.resample_poly(audio[:, c], 4, 1)).max() for c in range(2))
    assert 20 * np.log10(tp) <= -1.0


def test_no_sound_device_means_a_wav_instead_of_a_failure(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    write_track(crate, "tone", clicks(30.0, 120.0, 500.0), 120.0)
    said: list[str] = []
    wav = tmp_path / "fallback.wav"
    config = Config({"targets": {"standalone": {"device": "copilot-no-such-device", "blocksize": 256,
                                                "fallback_wav": str(wav)}}})
    options = SessionOptions(target="standalone", link=False, tempo=120.0, osc=None, crate=crate, duration=8.0,
                             log=tmp_path / "log.jsonl", db=tmp_path / "none.sqlite")
    host = TargetHost(config.targets(), plugins=[standalone, autopilot, phrase_db], entry_points=False)
    session = Session(options, config, host=host, report=said.append)
    session.run()
    assert any("no sound device" in m for m in said), said
    audio, sr = sf.read(wav, always_2d=True)
    assert sr == SR and 7.0 * SR < audio.shape[0] < 9.0 * SR  # recorded in step with the clock
    assert np.abs(audio[6 * SR:]).max() > 0.01, said  # the autopilot played deck A, into the file
