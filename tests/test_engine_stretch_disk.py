"""Offline stretches kept on disk (`engine.stretch.keep_on_disk`): a later run — another worker, a
resumed rehearsal — takes a stretch from disk instead of rendering it again, with the samples of one run
to the end; one that needs more than the disk holds renders it again from the start (the same samples,
the span never narrowed); a different file content, ratio or start is a different stretch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.engine import stretch
from copilot.engine.engine import Engine
from copilot.engine.stretch import StretchJob, StretchKey, source_of

from .test_engine_keylock import BPM_SESSION, BPM_TRACK, SR, tone_track


@pytest.fixture(autouse=True)
def nothing_kept() -> Iterator[None]:
    stretch._FINISHED.clear()
    yield
    stretch.keep_on_disk(None)
    stretch._FINISHED.clear()


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Path, np.ndarray]:
    """Six seconds of tone and clicks, its file, and the whole of it stretched in one run."""
    audio = tone_track(6.0)[0].astype(np.float32)
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    sf.write(path, audio, SR, subtype="FLOAT")
    whole = StretchJob(Engine(), KEY, audio, start=SR).run()
    return audio, path, whole.buf.copy()


KEY = StretchKey.of("tone", BPM_TRACK / BPM_SESSION, -2.0)


def read(job: StretchJob, whole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the deck may read of a partial job, and the same frames of the whole stretch (past the splice,
    where the whole one cross-faded its second pass in)."""
    lo = job.lo + stretch.SPLICE
    assert job.hi > lo
    return job.buf[lo: job.hi], whole[lo: job.hi]


def test_a_later_process_takes_the_stretch_from_disk_and_renders_nothing(tone, tmp_path: Path) -> None:
    audio, path, whole = tone
    stretch.keep_on_disk(tmp_path)
    first = StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    assert first.seconds > 0 and stretch.save_kept() == 1 and stretch.save_kept() == 0  # written once
    stretch._FINISHED.clear()  # as a fresh process starts: nothing in memory
    later = StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    assert later.seconds == 0.0 and (later.lo, later.hi) == (first.lo, first.hi)
    assert np.array_equal(*read(later, whole))
    # past what the disk holds: rendered again from the start, the same samples as one run to the end
    longer = StretchJob(Engine(), KEY, audio, start=SR)
    stretch._FINISHED.clear()
    longer.run(source_of(path), until=4 * SR)
    assert longer.seconds > 0 and longer.hi > first.hi
    assert np.array_equal(*read(longer, whole))
    longer.run(source_of(path))
    assert longer.finished and np.array_equal(longer.buf, whole)
    assert stretch.save_kept() == 1  # the finished one replaces the shorter copy
    stretch._FINISHED.clear()
    done = StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    assert done.finished and done.seconds == 0.0 and np.array_equal(done.buf, whole)


def test_another_content_ratio_or_start_is_another_stretch(tone, tmp_path: Path) -> None:
    audio, path, _ = tone
    stretch.keep_on_disk(tmp_path)
    StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    stretch.save_kept()
    stretch._FINISHED.clear()
    other_start = StretchJob(Engine(), KEY, audio, start=2 * SR).run(source_of(path), until=2 * SR)
    other_ratio = StretchJob(Engine(), StretchKey.of("tone", 1.0, -2.0), audio, start=SR).run(source_of(path),
                                                                                                until=2 * SR)
    louder = path.with_name("louder.wav")  # the same name elsewhere would not matter: the bytes do
    sf.write(louder, audio * 0.5, SR, subtype="FLOAT")
    other_audio = StretchJob(Engine(), KEY, audio * 0.5, start=SR).run(source_of(louder), until=2 * SR)
    assert other_start.seconds > 0 and other_ratio.seconds > 0 and other_audio.seconds > 0


def test_a_damaged_copy_on_disk_is_rendered_again(tone, tmp_path: Path) -> None:
    audio, path, whole = tone
    stretch.keep_on_disk(tmp_path)
    StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    stretch.save_kept()
    stretch._FINISHED.clear()
    (npy,) = tmp_path.glob("*.npy")
    npy.write_bytes(npy.read_bytes()[:1000])  # cut short (a full disk, a killed worker)
    job = StretchJob(Engine(), KEY, audio, start=SR).run(source_of(path), until=2 * SR)
    assert job.seconds > 0 and np.array_equal(*read(job, whole))
