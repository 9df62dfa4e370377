"""The after-show review: `copilot rehearse CRATE --log SESSION.jsonl` scores the transitions a set really
played — read from the log a real offline set wrote — on the lines they were played on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.bridge.log import read_log
from copilot.cli.main import app
from copilot.phrase_db.loader import folder_records
from copilot.rehearsal.review import played
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track
from copilot.tests.test_rehearse_cli import rehearse

SET = """\
0    load floor filler to deck A
0.5  load night shift to deck B
1    play A
3    bass swap into B in 8
"""


@pytest.fixture(scope="module")
def a_played_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A set played offline through the real session: two tracks, one bass swap, its session log."""
    folder = tmp_path_factory.mktemp("review")
    (folder / "crate").mkdir()
    write_kick_track(folder / "crate", KickTrack("Floor Filler", 55.0))
    write_kick_track(folder / "crate", KickTrack("Night Shift", 82.41, key="E minor"))
    (folder / "set.txt").write_text(SET)
    done = CliRunner().invoke(app, ["run", "--target", "standalone", "--no-link", "--crate", str(folder / "crate"),
                                    "--script", str(folder / "set.txt"), "--out", str(folder / "set.wav"),
                                    "--log", str(folder / "session.jsonl"), "--duration", "40", "--osc", "",
                                    "--view", "off"])
    assert done.exit_code == 0, done.output
    return folder


def test_the_played_transition_is_rehearsed_on_its_own_lines(a_played_set: Path) -> None:
    folder = a_played_set
    plans = [r for r in read_log(folder / "session.jsonl") if r["type"] == "plan"]
    assert len(plans) == 1, "the set played one transition"
    plan = plans[0]["plan"]
    out_anchor = plans[0]["decks"]["A"]["anchor"]
    done = rehearse("crate", "--log", "session.jsonl", "--out", "out", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["run"]["candidates"] == 1 and data["run"]["scored"] == 1
    (r,) = data["results"]
    assert (r["out_title"], r["in_title"], r["template"]) == ("Floor Filler", "Night Shift", "bass_swap")
    assert r["source"] == "log:session.jsonl" and "as played" in r["describe"]
    assert r["exit_bar"] == round((plan["start"] - out_anchor) / 4) and r["exit_bar"] > 0  # where A was
    assert r["plan"]["bars"] == plan["bars"] == 8
    assert 0 < r["score"] <= 100 and r["metrics"]["bass_clash"]["value"] <= 1.0
    assert "as played" in (folder / "out" / "report.html").read_text()


def test_a_log_with_nothing_played_or_garbage_is_one_line(a_played_set: Path, tmp_path: Path) -> None:
    (tmp_path / "junk.jsonl").write_bytes(b"\x00\xff not json\n{\"type\": \"plan\"}\n[1, 2]\n")
    done = rehearse(str(a_played_set / "crate"), "--log", "junk.jsonl", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "holds no transition" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    missing = rehearse(str(a_played_set / "crate"), "--log", "nowhere.jsonl", "--out", "out2", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read the session log" in missing.stderr


def test_only_accepted_plans_with_known_tracks_become_candidates(a_played_set: Path, tmp_path: Path) -> None:
    lines = (a_played_set / "session.jsonl").read_text().splitlines()
    refused = [line.replace('"verdict": "scheduled"', '"verdict": "refused"') for line in lines]
    (tmp_path / "refused.jsonl").write_text("\n".join(refused))
    tracks = folder_records([a_played_set / "crate"])
    assert len(played(a_played_set / "session.jsonl", tracks).candidates) == 1
    assert played(tmp_path / "refused.jsonl", tracks).candidates == []
    only_one = [t for t in tracks if t.title == "Floor Filler"]  # the incoming track is not in this crate
    review = played(a_played_set / "session.jsonl", only_one)
    assert review.candidates == [] and "Night Shift.wav is not in the crate" in review.skipped[0]
    torn = [line.replace('"steps": [', '"steps": [7, ') for line in lines]  # a damaged plan record
    (tmp_path / "torn.jsonl").write_text("\n".join(torn))
    damaged = played(tmp_path / "torn.jsonl", tracks)
    assert damaged.candidates == [] and "damaged" in damaged.skipped[0]
