"""Decoded files kept per process (`engine.files.keep_decoded`, for rehearsal workers): a second load of
the same file gives its samples without decoding it again, read-only; a file changed on disk is read
afresh; the least recently loaded goes first past the limit; by default (a live set) nothing is kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.engine import files


@pytest.fixture(autouse=True)
def nothing_kept() -> Iterator[None]:
    files.keep_decoded(0)
    yield
    files.keep_decoded(0)


def wav(path: Path, hz: float, seconds: float = 1.0) -> Path:
    t = np.arange(round(seconds * 48000)) / 48000
    x = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    sf.write(path, np.column_stack([x, x]), 48000, subtype="FLOAT")
    return path


def test_a_kept_file_is_not_decoded_again_and_cannot_be_changed(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", 110.0)
    files.keep_decoded(64 << 20)
    first, sr, _ = files.decode_with_notes(path)
    second, _, _ = files.decode_with_notes(path)
    assert second is first and sr == 48000
    with pytest.raises(ValueError):
        second[0, 0] = 1.0
    link = tmp_path / "staged.wav"  # the sandbox stages each file as a link: the same file, kept once
    os.symlink(path, link)
    assert files.decode_with_notes(link)[0] is first
    track = files.load_track(link, 48000, {"bpm": 120.0})
    np.testing.assert_array_equal(track.audio, first)


def test_a_changed_file_is_read_afresh(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", 110.0)
    files.keep_decoded(64 << 20)
    before, _, _ = files.decode_with_notes(path)
    wav(path, 220.0, seconds=1.5)
    after, _, _ = files.decode_with_notes(path)
    assert len(after) == 72000 and not np.array_equal(after[:48000], before)


def test_past_the_limit_the_least_recently_loaded_goes_first(tmp_path: Path) -> None:
    a, b, c = (wav(tmp_path / f"{n}.wav", hz) for n, hz in (("a", 110.0), ("b", 220.0), ("c", 330.0)))
    files.keep_decoded(2 * 48000 * 2 * 4)  # room for two one-second stereo files
    da = files.decode_with_notes(a)[0]
    db = files.decode_with_notes(b)[0]
    assert files.decode_with_notes(a)[0] is da  # a is now the more recent
    files.decode_with_notes(c)
    assert files.decode_with_notes(a)[0] is da
    assert files.decode_with_notes(b)[0] is not db  # b went


def test_by_default_nothing_is_kept(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", 110.0)
    first, _, _ = files.decode_with_notes(path)
    assert files.decode_with_notes(path)[0] is not first
    first[0, 0] = 0.5  # a live load's audio is its own


def test_a_missing_file_says_so_with_keeping_on(tmp_path: Path) -> None:
    files.keep_decoded(64 << 20)
    with pytest.raises(files.TrackError, match="no such file"):
        files.decode_with_notes(tmp_path / "gone.wav")
