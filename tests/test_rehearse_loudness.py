"""A track whose analysis has no loudness is measured once for the whole rehearsal, not once per worker:
the figure is kept in the out folder (`sandbox.LOUDNESS`), where a fresh worker — or a later run — takes it
instead of decoding and measuring the track again, and renders the same candidate to the same samples and
score. A file changed since is measured afresh."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from copilot.phrase_db import loudness
from copilot.phrase_db.loader import folder_records
from copilot.rehearsal import sandbox
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import enumerate_candidates
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track


def test_a_tracks_loudness_is_measured_once_and_kept_for_every_worker(tmp_path: Path, monkeypatch) -> None:
    crate, out = tmp_path / "crate", tmp_path / "out"
    crate.mkdir()
    out.mkdir()
    write_kick_track(crate, KickTrack("Floor Filler", 55.0, key="A minor"))
    write_kick_track(crate, KickTrack("Night Shift", 55.0, key="A minor"))
    (candidate,) = [c for c in enumerate_candidates(folder_records([crate]), ["blend"], bars=8)
                    if c.out_track.title == "Floor Filler"]
    assert candidate.out_track.lufs is None and candidate.in_track.lufs is None  # measured, not analysed
    measured: list[int] = []
    real = loudness.integrated_lufs
    monkeypatch.setattr(loudness, "integrated_lufs", lambda *a, **k: (measured.append(1), real(*a, **k))[1])
    sandbox._LUFS.clear()
    first = sandbox.render(candidate, RenderSettings(), out)
    assert len(measured) == 2 and len(list((out / sandbox.LOUDNESS).glob("*.json"))) == 2
    figures = dict(sandbox._LUFS)
    assert all(v is not None and -40 < v < 0 for v in figures.values())

    sandbox._LUFS.clear()  # a fresh worker: nothing in memory, the out folder holds both figures
    again = sandbox.render(candidate, RenderSettings(), out)
    assert len(measured) == 2  # neither track measured again
    assert figures == sandbox._LUFS
    assert np.array_equal(first.mix, again.mix) and np.abs(first.mix).max() > 0.1
    assert np.array_equal(first.in_alone, again.in_alone)
    assert again.judge().score == first.judge().score

    path = Path(candidate.in_track.path)  # the file changed since: measured afresh
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    sandbox._LUFS.clear()
    sandbox.render(candidate, RenderSettings(), out)
    assert len(measured) == 3
