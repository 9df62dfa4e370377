"""Generated test music for the phrase-DB tests: short tracks with known grid, key and sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copilot.engine.example_crate import write_track
from copilot.engine.example_synth import Section, TrackSpec

S = Section
# Non-integer tempos, a lead-in that puts beat 0 off the sample grid, both modes, 8/16-bar sections.
SPECS = (
    TrackSpec("Test Roller", "Unit A", 120.0, "A", "minor", seed=101, tags=("dub", "roller"),
              sections=(S("intro", 8), S("build", 8), S("drop", 16), S("break", 8), S("drop", 8), S("outro", 8))),
    TrackSpec("Sharp Lights", "Unit B", 123.37, "F#", "major", seed=102, lead_in=0.41, tags=("bright",),
              sections=(S("intro", 16), S("drop", 16), S("break", 8), S("drop", 16), S("outro", 8))),
    TrackSpec("Night Driver", "Unit C", 127.93, "D", "minor", seed=103, tags=("dark", "driving"),
              sections=(S("intro", 8), S("main", 8), S("break", 8), S("build", 8), S("drop", 16), S("outro", 8))),
)
TINY = tuple(
    TrackSpec(f"Tiny {i}", "Unit T", 118.0 + 2.5 * i, tonic, mode, seed=200 + i,
              sections=(S("intro", 8), S("drop", 8), S("outro", 8)))
    for i, (tonic, mode) in enumerate((("C", "major"), ("G", "minor"), ("E", "minor"), ("Bb", "major")))
)


@pytest.fixture(scope="session")
def phrase_tracks(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, Any]]]:
    """The three SPECS as FLAC files with their ground truth."""
    folder = tmp_path_factory.mktemp("phrase-tracks")
    return [(folder / f"{i} {s.title}.flac", write_track(folder / f"{i} {s.title}.flac", s))
            for i, s in enumerate(SPECS)]


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 24-bar tracks (~47 s each): a small library for store/runner tests."""
    folder = tmp_path_factory.mktemp("phrase-tiny")
    for i, spec in enumerate(TINY):
        write_track(folder / f"{i} {spec.title}.flac", spec)
    return folder


def beat_f_measure(estimated: np.ndarray, truth: np.ndarray, window: float = 0.07) -> float:
    """MIREX beat F-measure: one-to-one matches within ±window."""
    est = list(np.sort(estimated))
    hits = 0
    for t in np.sort(truth):
        if not est:
            break
        i = int(np.argmin(np.abs(np.asarray(est) - t)))
        if abs(est[i] - t) <= window:
            hits += 1
            est.pop(i)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(estimated), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


def crashing_worker(path: str) -> tuple[str, Any]:
    """A worker that dies (like a segfault in a decoder) on any file named '*Tiny 1*'."""
    import os

    from copilot.phrase_db.runner import work

    if "Tiny 1" in path:
        os._exit(3)
    return work(path)


def synthetic_table(n: int, seed: int = 0, phrases_per_track: int = 8):
    """A PhraseTable like a big dance library: clustered embeddings, mostly 118–130 BPM, every key."""
    from copilot.phrase_db.constants import EMBED_DIM, LABELS
    from copilot.phrase_db.store import PhraseTable

    rng = np.random.default_rng(seed)
    tracks = np.arange(n) // phrases_per_track
    n_tracks = int(tracks[-1]) + 1
    centers = rng.standard_normal((256, EMBED_DIM))
    style = rng.integers(0, len(centers), n_tracks)[tracks]
    emb = centers[style] + 0.6 * rng.standard_normal((n, EMBED_DIM))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    genre_bpm = rng.choice([122.0, 124.0, 126.0, 128.0, 120.0, 174.0, 140.0, 100.0], n_tracks,
                           p=[0.2, 0.2, 0.15, 0.15, 0.1, 0.08, 0.07, 0.05])
    bpm = (genre_bpm + rng.normal(0, 1.5, n_tracks))[tracks]
    position = np.arange(n) % phrases_per_track
    label = np.where(position == 0, 0, np.where(position == phrases_per_track - 1, 5,
                                                rng.choice([1, 2, 3, 4], n)))
    energy = np.clip(rng.normal(0.6, 0.2, n) + 0.2 * (label == 2) - 0.2 * (label == 4), 0, 1)
    return PhraseTable(
        ids=np.arange(1, n + 1, dtype=np.int64), track_ids=(tracks + 1).astype(np.int64),
        index=position.astype(np.int32), label=label.astype(np.int8), energy=energy.astype(np.float32),
        bpm=bpm.astype(np.float32), key=rng.integers(0, 24, n).astype(np.int16),
        embedding=emb.astype(np.float32), generation=1,
    ), LABELS


@pytest.fixture(scope="session")
def tiny_db(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny folder analysed once (in this process); tests copy the file before writing to it."""
    from copilot.phrase_db.runner import analyze_paths
    from copilot.phrase_db.store import Store

    path = tmp_path_factory.mktemp("phrase-db") / "tiny.sqlite"
    with Store(path) as store:
        analyze_paths([tiny_folder], store, workers=0, progress=False)
    return path
