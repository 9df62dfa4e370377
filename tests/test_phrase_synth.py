"""The shared music generator: deterministic, and its ground truth matches the samples it makes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from copilot.engine.example_crate import CRATE, ensure_example_crate, read_truth
from copilot.engine.example_synth import Section, TrackSpec, camelot, render_track

SHORT = (Section("intro", 8), Section("drop", 8), Section("outro", 8))


def test_same_spec_same_samples_other_seed_other_samples() -> None:
    spec = TrackSpec(bpm=121.37, sections=SHORT, seed=5)
    a, sr, truth = render_track(spec)
    b, _, truth_b = render_track(spec)
    c, _, _ = render_track(TrackSpec(bpm=121.37, sections=SHORT, seed=6))
    assert a.dtype == np.float32 and a.shape[1] == 2 and sr == 44100
    assert np.array_equal(a, b) and truth == truth_b
    assert not np.array_equal(a, c)
    assert 0.88 < float(np.abs(a).max()) <= 0.892  # peak −1 dBFS


def test_truth_is_the_grid_the_samples_were_laid_on() -> None:
    spec = TrackSpec(bpm=126.7, sections=SHORT, lead_in=0.41, seed=2)
    audio, sr, truth = render_track(spec)
    beats = np.asarray(truth["beats"])
    assert len(beats) == 24 * 4
    assert np.allclose(np.diff(beats), 60.0 / 126.7)
    assert truth["downbeats"] == truth["beats"][::4]
    assert [s["start_bar"] for s in truth["sections"]] == [0, 8, 16]
    assert truth["sections"][1]["start"] == pytest.approx(0.41 + 32 * 60 / 126.7)
    mono = audio.mean(axis=1)
    assert np.abs(mono[: int(0.4 * sr)]).max() == 0.0  # the lead-in is silent
    for beat in beats[:8]:  # every beat starts a kick: silence just before the first, a hit right after
        i = round(beat * sr)
        assert np.abs(mono[i: i + 64]).max() > 0.05
    assert truth["duration"] == pytest.approx(len(audio) / sr)


@pytest.mark.parametrize(("tonic", "mode", "code"), [("C", "major", "8B"), ("A", "minor", "8A"),
                                                       ("F", "minor", "4A"), ("Db", "major", "3B"),
                                                       ("E", "minor", "9A"), ("F#", "major", "2B")])
def test_camelot_codes(tonic: str, mode: str, code: str) -> None:
    assert camelot(tonic, mode) == code


def test_spec_round_trips_and_rejects_nonsense() -> None:
    spec = TrackSpec("T", "A", 119.5, "Bb", "major", sections=SHORT, seed=3, tags=("x",))
    assert spec.tonic == "A#"
    assert TrackSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ValueError):
        TrackSpec(mode="dorian")
    with pytest.raises(ValueError):
        Section("chorus", 8)


def test_example_crate_is_written_once_with_tags_and_truth(tmp_path) -> None:
    paths = ensure_example_crate(tmp_path)
    assert len(paths) == len(CRATE) >= 4
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert ensure_example_crate(tmp_path) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamps  # cached, not rewritten
    bpms = []
    for path, spec in zip(paths, CRATE, strict=True):
        with sf.SoundFile(path) as fh:
            assert (fh.title, fh.artist) == (spec.title, spec.artist)
            assert fh.samplerate == 44100 and fh.channels == 2
        truth = read_truth(path)
        assert truth["key"]["camelot"] == camelot(spec.tonic, spec.mode)
        assert truth["sections"][0]["label"] == "intro" and truth["sections"][-1]["label"] == "outro"
        bpms.append(truth["bpm"])
    assert min(bpms) >= 118 and max(bpms) <= 128 and len(set(bpms)) == len(bpms)
    assert len({read_truth(p)["key"]["name"] for p in paths}) == len(paths)
