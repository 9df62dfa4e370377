"""Analysis against ground truth by construction: tempo, beats, downbeats, key, sections, loudness."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from copilot.engine.example_synth import Section, TrackSpec, render_track
from copilot.phrase_db.analysis import analyze_file
from copilot.phrase_db.audio import CorruptFile, resample
from copilot.phrase_db.beatgrid import AnalysisError
from copilot.phrase_db.features import SR, key_chroma, spectra
from copilot.phrase_db.keys import Key, estimate_key, mirex_score
from copilot.phrase_db.loudness import integrated_lufs
from copilot.tests.fixtures_phrase import beat_f_measure, phrase_tracks  # noqa: F401

DROPS = {"drop", "main"}


@pytest.fixture(scope="module")
def analysed(phrase_tracks):  # noqa: F811
    return [(analyze_file(path), truth) for path, truth in phrase_tracks]


def test_tempo_within_five_hundredths_of_a_bpm(analysed) -> None:
    for result, truth in analysed:
        assert abs(result.grid.bpm - truth["bpm"]) <= 0.05, (result.grid.bpm, truth["bpm"])


def test_beats_within_ten_ms_and_f_measure(analysed) -> None:
    for result, truth in analysed:
        est, ref = result.grid.beat_times(), np.asarray(truth["beats"])
        nearest = np.array([np.min(np.abs(est - t)) for t in ref])
        assert np.max(nearest) <= 0.010, f"{truth['title']}: worst beat {1000 * nearest.max():.1f} ms off"
        assert beat_f_measure(est, ref) >= 0.95


def test_downbeats_are_the_bar_lines(analysed) -> None:
    for result, truth in analysed:
        est, ref = result.grid.downbeat_times(), np.asarray(truth["downbeats"])
        assert len(est) == len(ref)
        assert np.max(np.abs(est - ref)) <= 0.010


def test_key_exact_and_mirex_score(analysed) -> None:
    scores = [mirex_score(r.key, Key.parse(t["key"]["name"])) for r, t in analysed]
    print(f"MIREX weighted key score on {len(scores)} tracks: {100 * np.mean(scores):.1f} %")
    assert scores == [1.0] * len(scores), [(r.key.name, t["key"]["name"]) for r, t in analysed]
    assert all(r.key.camelot == t["key"]["camelot"] for r, t in analysed)


def _sections(result: Any) -> list[tuple[float, str]]:
    out, last = [], None
    for p in result.phrases:
        if p.section != last:
            out.append((p.start, p.label))
            last = p.section
    return out


def test_section_boundaries_within_one_bar_on_the_phrase_lattice(analysed) -> None:
    for result, truth in analysed:
        bar = 4 * 60.0 / truth["bpm"]
        found = [start for start, _ in _sections(result)]
        for sec in truth["sections"]:
            assert min(abs(f - sec["start"]) for f in found) < bar, f"{truth['title']}: {sec['label']} missed"
        lattice = truth["lead_in"] + 8 * bar * np.arange(64)
        for f in found:  # anything extra still sits on an 8-bar line (e.g. the outro losing its pads)
            assert np.min(np.abs(lattice - f)) < bar
        assert all(p.bars in (8, 16, 32) for p in result.phrases[:-1])


def test_labels_and_energy_follow_the_arrangement(analysed) -> None:
    for result, truth in analysed:
        sections = _sections(result)
        assert sections[0][1] == "intro" and sections[-1][1] == "outro"
        for sec in truth["sections"]:
            label = next(lab for start, lab in reversed(sections) if start <= sec["start"] + 0.1)
            if sec["label"] in DROPS:
                assert label in DROPS, f"{truth['title']}: {sec['label']} at bar {sec['start_bar']} called {label}"
            elif sec["label"] == "break":
                assert label == "break"
        by_label: dict[str, list[float]] = {}
        for p in result.phrases:
            by_label.setdefault(p.label, []).append(p.energy)
        assert max(by_label["break"]) < min(by_label["intro"]) < max(by_label["drop"] + by_label.get("main", []))
        assert all(0.0 <= p.energy <= 1.0 for p in result.phrases)


def test_tags_come_from_the_file(analysed) -> None:
    result, truth = analysed[0]
    assert (result.title, result.artist) == (truth["title"], truth["artist"])
    assert {"dub", "roller"} <= set(result.tags["tags"])


@pytest.mark.parametrize("tonic", ["C", "D#", "G", "A#"])
@pytest.mark.parametrize("mode", ["major", "minor"])
def test_key_profiles_across_the_wheel(tonic: str, mode: str) -> None:
    spec = TrackSpec(bpm=124.0, tonic=tonic, mode=mode, seed=7, sections=(Section("break", 8), Section("drop", 8)))
    audio, sr, truth = render_track(spec)
    key, confidence = estimate_key(key_chroma(spectra(resample(audio.mean(axis=1), sr, SR))))
    assert key == Key.parse(truth["key"]["name"]), (key.name, truth["key"]["name"])
    assert confidence > 0.0


def test_loudness_matches_the_reference_meter(phrase_tracks) -> None:  # noqa: F811
    pyloudnorm = pytest.importorskip("pyloudnorm", reason="pyloudnorm (test extra) is the reference meter")
    data, sr = sf.read(phrase_tracks[0][0], dtype="float64")
    assert integrated_lufs(data, sr) == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(data), abs=0.05)
    t = np.arange(5 * 48000) / 48000
    sine = 0.5 * np.sin(2 * np.pi * 997 * t)
    # a 997 Hz sine at −6 dBFS in both channels: −3.01 + −6.02 + 3.01 (two channels) ≈ −6.06 LUFS
    assert integrated_lufs(np.c_[sine, sine], 48000) == pytest.approx(-6.06, abs=0.05)
    assert integrated_lufs(np.zeros((48000, 2)), 48000) == -math.inf


def test_bad_audio_is_refused_with_a_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    with pytest.raises(CorruptFile, match=r"garbage\.wav: cannot decode"):
        analyze_file(garbage)
    nan = tmp_path / "nan.wav"
    x = np.zeros((44100, 2), np.float32)
    x[100] = np.nan
    sf.write(nan, x, 44100, subtype="FLOAT")
    with pytest.raises(CorruptFile, match="NaN"):
        analyze_file(nan)
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros((44100 * 10, 2), np.float32), 44100)
    with pytest.raises(AnalysisError, match="silent"):
        analyze_file(silent)
    short = tmp_path / "short.flac"
    sf.write(short, np.random.default_rng(0).standard_normal((44100, 2)).astype(np.float32) * 0.1, 44100)
    with pytest.raises(AnalysisError, match="at least 4 s"):
        analyze_file(short)


def test_tags_from_file_tags_and_names_without_a_sidecar(phrase_tracks, tmp_path: Path) -> None:  # noqa: F811
    import mutagen.flac

    from copilot.phrase_db.audio import read_tags

    flac = tmp_path / "untitled.flac"
    shutil.copy(phrase_tracks[1][0], flac)  # no sidecar beside it now
    tags = mutagen.flac.FLAC(flac)
    tags["title"], tags["artist"], tags["genre"], tags["bpm"] = "Deep Cut", "Someone", "Dub Techno", "123.37"
    tags.save()
    found = read_tags(flac)
    assert (found["title"], found["artist"], found["bpm"]) == ("Deep Cut", "Someone", "123.37")
    assert {"dub", "techno"} <= set(found["tags"])
    named = tmp_path / "07 Low Tide - Harbour Lights.wav"
    sf.write(named, np.zeros((4410, 2), np.float32), 44100)
    assert (read_tags(named)["artist"], read_tags(named)["title"]) == ("Low Tide", "Harbour Lights")
