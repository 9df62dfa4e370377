"""On a first run the example crate is written behind the set: the set still knows all five tracks
(their truths come before their audio) and opens with the one already on disk. Before, the mixer's
library was read from the folder when only the first file was there, so the autopilot said "the set
is over after this track" and the WAV fell silent after it (the end-to-end check is
test_engine_mix_gaps.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.engine.crate import Crate
from copilot.engine.example_crate import ExampleBuild
from copilot.engine.files import Track
from copilot.phrase_db.mixing import Mixer
from copilot.phrase_db.setlist import plan_set
from copilot.plugins.autopilot import Autopilot


def first_written(folder: Path) -> tuple[Crate, Path]:
    """The example crate as a first run sees it: track 1 on disk, the other four still being written."""
    folder.mkdir(parents=True, exist_ok=True)
    build = ExampleBuild(folder)
    first = build.paths[0]
    sf.write(first, np.zeros((4800, 2)), 48000)
    first.with_suffix(".json").write_text(json.dumps(build.truths[0]))
    crate = Crate(build.paths, "example crate", build.truths, wait=lambda path, timeout: Path(path) == first)
    return crate, first


def test_the_mixer_knows_the_tracks_still_being_written(tmp_path: Path) -> None:
    crate, first = first_written(tmp_path)
    mixer = Mixer(db=tmp_path / "none.sqlite", fallback=[tmp_path])
    assert [t.path for t in mixer.library.tracks.values()] == [str(first)]  # what the folder shows
    assert mixer.know_tracks([(t.path, t.meta) for t in crate.tracks])
    lib = mixer.library
    assert sorted(t.path for t in lib.tracks.values()) == sorted(str(t.path) for t in crate.tracks)
    assert all(t.bpm and t.key and t.phrases for t in lib.tracks.values())  # from the truths: a set can be planned
    assert [crate.on_disk(t.path) for t in crate.tracks] == [True, False, False, False, False]
    order = plan_set(list(lib.tracks.values()), lib.by_path[str(first)])
    assert order[0].path == str(first) and len(order) == 5


def test_a_crate_folder_or_a_database_stays_the_library(tmp_path: Path) -> None:
    crate, first = first_written(tmp_path / "example")
    named = Mixer(db=tmp_path / "none.sqlite", folders=[tmp_path / "example"])  # --crate: the performer's folder
    assert not named.know_tracks([(t.path, t.meta) for t in crate.tracks])
    assert [t.path for t in named.library.tracks.values()] == [str(first)]


def test_the_mixer_keeps_them_when_a_warm_up_reads_the_folder_late(tmp_path: Path) -> None:
    """Live, the session warms the mixer up on a library worker while the autopilot starts: a folder
    read that finishes after `know_tracks` must not put the one-track view back (it did: the live set
    ended after its first track)."""
    crate, _ = first_written(tmp_path)
    mixer = Mixer(db=tmp_path / "none.sqlite", fallback=[tmp_path])
    assert mixer.know_tracks([(t.path, t.meta) for t in crate.tracks])
    mixer._library = None  # the warm-up's read, landing now
    mixer.warm_up()
    assert len(mixer.library) == 5


def test_the_autopilot_hears_what_the_engine_loaded(tmp_path: Path) -> None:
    """The engine calls `loaded` on every load (load_listeners): a file's real length is learned. The
    planner's own record of its decks once shadowed the method, and every load raised in the engine."""
    crate, first = first_written(tmp_path)
    planner = Autopilot(Mixer(db=tmp_path / "none.sqlite", fallback=[tmp_path]), print, on_disk=crate.on_disk)
    track = Track(first, np.zeros((48000 * 30, 2), np.float32), 48000, 120.0)
    planner.loaded(0, track)
    assert planner.lengths[str(first)] == 60.0  # 30 s at 120 BPM
