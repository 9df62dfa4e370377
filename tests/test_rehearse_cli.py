"""`copilot rehearse CRATE --out DIR` end to end on two generated tracks: every ordered pair rendered and
scored, a report that names them with its plots, --json for machines, and a second run that skips
what is already scored (the results live in DIR/rehearsals.sqlite)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.phrase_db.rehearsals import Rehearsals
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track


def rehearse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in this process (typer's runner: the same parsing and exits, no interpreter start-up)."""
    runner = CliRunner()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, ["rehearse", *args])
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("rehearse-cli")
    (folder / "crate").mkdir()
    write_kick_track(folder / "crate", KickTrack("Floor Filler", 55.0))
    write_kick_track(folder / "crate", KickTrack("Night Shift", 82.41, key="E minor"))
    done = rehearse("crate", "--out", "out", "-T", "bass_swap", "--bars", "8", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout)


def test_every_ordered_pair_is_scored_and_reported_with_plots(first_run) -> None:
    folder, data = first_run
    assert data["run"]["candidates"] == 2 and data["run"]["scored"] == 2 and data["run"]["skipped"] == 0
    titles = {(r["out_title"], r["in_title"]) for r in data["results"]}
    assert titles == {("Floor Filler", "Night Shift"), ("Night Shift", "Floor Filler")}
    for r in data["results"]:
        assert 0 < r["score"] <= 100 and set(r["metrics"]) >= {"on_grid", "bass_clash", "loudness", "overs"}
        assert (folder / "out" / r["plot"]).stat().st_size > 10_000  # a real PNG, not an empty file
        assert r["metrics"]["bass_clash"]["value"] <= 1.0  # a bass swap: the basses never fight
    page = (folder / "out" / "report.html").read_text()
    assert page.count("<img src='plots/") == 2 and "summary.png" in page
    assert "Night Shift" in page and "Floor Filler" in page
    with Rehearsals(folder / "out" / "rehearsals.sqlite") as store:
        assert len(store.results()) == 2


def test_only_the_best_are_drawn_after_the_ranking(tmp_path: Path) -> None:
    """`--plots 1`: every candidate is scored, and only the best-scored one is rendered again and drawn
    (with the score it was ranked by); the report shows one picture."""
    (tmp_path / "crate").mkdir()
    write_kick_track(tmp_path / "crate", KickTrack("Floor Filler", 55.0))
    write_kick_track(tmp_path / "crate", KickTrack("Night Shift", 82.41, key="E minor"))
    done = rehearse("crate", "--out", "out", "-T", "bass_swap", "--bars", "8", "--plots", "1", "--json",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["run"]["scored"] == 2
    best, other = sorted(data["results"], key=lambda r: -r["score"])
    assert best["score"] > other["score"]
    assert (tmp_path / "out" / best["plot"]).stat().st_size > 10_000 and other["plot"] is None
    assert list((tmp_path / "out" / "plots").iterdir()) == [tmp_path / "out" / best["plot"]]
    assert (tmp_path / "out" / "report.html").read_text().count("<img src='plots/") == 1


def test_a_second_run_skips_what_is_already_scored(first_run) -> None:
    folder, _ = first_run
    again = rehearse("crate", "--out", "out", "-T", "bass_swap", "--bars", "8", "--json", cwd=folder)
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["run"]["skipped"] == 2 and data["run"]["scored"] == 0 and len(data["results"]) == 2


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    done = rehearse(str(tmp_path / "nowhere"), "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "no crate folder or phrase database" in done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "crate").mkdir()
    write_kick_track(tmp_path / "crate", KickTrack("Only One", 55.0))
    done = rehearse("crate", "--out", "out", "-T", "no_such", cwd=tmp_path)
    assert done.returncode == 2 and "no template named no_such" in done.stderr
    done = rehearse("crate", "--out", "out", "--workers", "0", cwd=tmp_path)
    assert done.returncode == 2 and "--workers" in done.stderr
    done = rehearse("crate", "--out", "out", "--plots", "-1", cwd=tmp_path)
    assert done.returncode == 2 and "--plots is a whole number from 0" in done.stderr
    (tmp_path / "a-file").write_text("x")
    done = rehearse("crate", "--out", "a-file", cwd=tmp_path)
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr


def test_the_report_opened_in_headless_chromium_shows_its_table_and_plots(first_run, tmp_path: Path) -> None:
    import shutil

    import numpy as np
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium (scripts/bootstrap installs it)")
    folder, _ = first_run
    shot = tmp_path / "report.png"
    done = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1000,1400", f"--screenshot={shot}",
                           (folder / "out" / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the plots drew: matplotlib's blue (outgoing deck) and orange (incoming deck) are on the page
    blue = (abs(pixels - [31, 119, 180]).sum(axis=2) < 40).sum()
    orange = (abs(pixels - [255, 127, 14]).sum(axis=2) < 40).sum()
    assert blue > 200 and orange > 200
    # … and the table's text: many dark pixels in the top third (headline, ranking)
    assert (pixels[: pixels.shape[0] // 3].sum(axis=2) < 150).sum() > 2000
