"""Fuzz: audio files (issue 12). Ten thousand random, truncated, bit-flipped, header-poisoned and
mislabelled files into the decoder and the two fronts behind it (the phrase DB's analysis, the engine's
decks): each ends in a result or one clear line, never a traceback and never a hang. The corpus is
seeded (the same inputs every run); a hypothesis property walks the WAV header's fields besides."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot.phrase_db.audio import CorruptFile, read_audio
from copilot.tests.fuzz_audio import _wav_header


@pytest.mark.slow
def test_ten_thousand_damaged_files_each_end_in_one_clear_line() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-m", "copilot.tests.fuzz_audio", "--count", "10000", "--seed", "12"],
                          capture_output=True, text=True, timeout=900, env=env)  # a hang fails here, loudly
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["inputs"] >= 10_000
    assert report["failures"] == [], report["failures"]
    assert report["outcomes"].get("ok", 0) > 0 and report["outcomes"].get("refused", 0) > 9000, report
    assert report["slowest_s"] < 20.0, report  # nothing near a hang (ffmpeg's timeout is 120 s)
    assert "Traceback" not in done.stdout


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=st.integers(0, 2**32 - 1), channels=st.integers(0, 2**16 - 1), bits=st.integers(0, 2**16 - 1),
       frames=st.integers(0, 2**32 - 1), fmt=st.sampled_from([0, 1, 3, 6, 7, 0xFFFE, 0x55]),
       body=st.binary(max_size=3000), suffix=st.sampled_from([".wav", ".flac", ".mp3", ".aiff"]))
def test_any_wav_header_is_audio_or_one_clear_line(tmp_path_factory: pytest.TempPathFactory, rate: int,
                                                   channels: int, bits: int, frames: int, fmt: int, body: bytes,
                                                   suffix: str) -> None:
    path = tmp_path_factory.mktemp("hdr") / f"x{suffix}"
    path.write_bytes(_wav_header(rate, channels, bits, frames, fmt) + body)
    try:
        decoded = read_audio(path)
    except CorruptFile as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{path.name}: ")
        return
    assert decoded.data.dtype == np.float32 and decoded.data.ndim == 2
    assert 1000 <= decoded.samplerate <= 768_000 and np.isfinite(decoded.data).all()
