"""An offline render steps the session's Python over the blocks where nothing is due (`render_offline`'s
`next_due`): the kernel still renders block by block, so a rehearsal candidate — with a key shift, so a
stretch follows the play head — sounds the same to the sample and plans the same as stepped block by
block, for a fraction of the session's per-block work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot.phrase_db.loader import folder_records
from copilot.plugins import standalone
from copilot.rehearsal import sandbox
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import enumerate_candidates
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track


def test_stepping_over_quiet_blocks_sounds_the_same_as_block_by_block(tmp_path: Path, monkeypatch) -> None:
    write_kick_track(tmp_path, KickTrack("Floor Filler", 55.0, key="A minor"))
    write_kick_track(tmp_path, KickTrack("Night Shift", 61.7, key="B minor"))  # two steps: a key shift
    (candidate,) = [c for c in enumerate_candidates(folder_records([tmp_path]), ["blend"], bars=8)
                    if c.out_track.title == "Floor Filler"]
    steps: list[int] = []
    tick = standalone.StandaloneTarget.tick
    monkeypatch.setattr(standalone.StandaloneTarget, "tick", lambda self: (steps.append(1), tick(self))[1])
    renders, counts = [], []
    for chunk in (0, standalone.OFFLINE_CHUNK):
        monkeypatch.setattr(standalone, "OFFLINE_CHUNK", chunk)
        steps.clear()
        renders.append(sandbox.render(candidate, RenderSettings()))
        counts.append(len(steps))
    by_block, stepped = renders
    assert by_block.plan["facts"].get("key_shift")  # the stretch is in play
    assert np.array_equal(by_block.mix, stepped.mix) and np.abs(stepped.mix).max() > 0.1
    assert np.array_equal(by_block.out_alone, stepped.out_alone)
    assert np.array_equal(by_block.in_alone, stepped.in_alone)
    assert {k: by_block.plan[k] for k in ("start", "end", "steps")} == \
        {k: stepped.plan[k] for k in ("start", "end", "steps")}
    assert stepped.judge().score == pytest.approx(by_block.judge().score, abs=1e-9)
    assert counts[1] < counts[0] / 3  # the session's Python ran for far fewer steps
