"""Nothing a file does stops the phrase database from speaking plainly (issue 12). A corrupt or foreign
database is one line naming the file and the way out — `copilot db check`, `--rebuild` — instead of a
traceback from `db tracks/query/next`; `kill -9` of `db analyze` takes its workers with it; a pure tone
or a square wave is "no beat" (confidence near 0), not a confident BPM ranked as peak energy; a
truncated file is analysed with a warning."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import Result
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.phrase_db.analysis import analyze_file
from copilot.phrase_db.beatgrid import AnalysisError, fit_grid
from copilot.phrase_db.features import SR as ANALYSIS_SR
from copilot.phrase_db.runner import analyze_paths
from copilot.phrase_db.store import Store
from copilot.tests.fixtures_first import alive, children
from copilot.tests.fixtures_phrase import tiny_db, tiny_folder  # noqa: F401

runner = CliRunner()
READERS = (["db", "tracks"], ["db", "query", "acid"], ["db", "next", "--from", "Tiny 0"])


def _one_clear_line(done: Result, path: Path) -> str:
    text = done.output.strip()
    assert done.exit_code == 1, text
    assert "Traceback" not in text and "Error:" not in text.split(" ")[0]
    assert len(text.splitlines()) == 1, text
    assert str(path) in text and "copilot db check" in text and "--rebuild" in text, text
    return text


def test_a_file_that_is_not_a_phrase_database_is_one_line_for_every_reader(tmp_path: Path) -> None:
    noise = tmp_path / "noise.sqlite"
    noise.write_bytes(np.random.default_rng(3).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.sqlite"
    text.write_text("my set list\n")
    import sqlite3

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE songs (name TEXT)")
    for path in (noise, text, foreign):
        for args in READERS:
            _one_clear_line(runner.invoke(app, [*args, "--db", str(path)]), path)


def test_an_empty_database_file_is_not_yet_written_not_damaged(tmp_path: Path) -> None:
    """A file with no tables is what a reader meets while `db analyze` creates the database: no
    database yet (one line, the way to make one), not 'damaged' (which sends the user to --rebuild)."""
    empty = tmp_path / "new.sqlite"
    empty.write_bytes(b"")
    for args in READERS:
        done = runner.invoke(app, [*args, "--db", str(empty)])
        text = done.output.strip()
        assert done.exit_code == 1 and len(text.splitlines()) == 1 and "Traceback" not in text, text
        assert str(empty) in text and "db analyze" in text and "--rebuild" not in text, text


def test_damage_inside_a_real_database_is_found_by_check_and_mended_by_rebuild(
        tiny_db: Path, tiny_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "lib.sqlite"
    shutil.copy(tiny_db, db)
    healthy = runner.invoke(app, ["db", "check", "--db", str(db)])
    assert healthy.exit_code == 0 and "healthy" in healthy.output and "4 tracks" in healthy.output, healthy.output

    data = bytearray(db.read_bytes())
    page = 4096
    data[page:] = np.random.default_rng(5).integers(0, 256, len(data) - page, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(data))  # the first page (the schema) intact, every table page garbage
    for args in READERS:
        _one_clear_line(runner.invoke(app, [*args, "--db", str(db)]), db)
    check = runner.invoke(app, ["db", "check", "--db", str(db)])
    assert check.exit_code == 1 and "damaged" in check.output and "--rebuild" in check.output, check.output

    rebuilt = runner.invoke(app, ["db", "analyze", str(tiny_folder), "--db", str(db), "--rebuild", "-j", "0",
                                  "--quiet"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "kept the old lib.sqlite as" in rebuilt.output
    kept = sorted(tmp_path.glob("lib.sqlite.damaged-*"))
    assert kept and kept[0].read_bytes()[page:page + 64] == bytes(data[page:page + 64])  # nothing lost
    again = runner.invoke(app, ["db", "check", "--db", str(db)])
    assert again.exit_code == 0 and "4 tracks" in again.output, again.output


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc for the worker processes")
def test_kill_9_of_db_analyze_takes_its_workers_with_it(tiny_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    music = tmp_path / "music"
    for i in range(3):  # enough work that the workers are busy when the parent dies
        shutil.copytree(tiny_folder, music / str(i))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "db", "analyze", str(music), "--db",
                             str(tmp_path / "lib.sqlite"), "-j", "2", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [c for c in children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]
        time.sleep(0.2)
    assert len(workers) >= 2, "the analyser never started its workers"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:  # never leave them behind, even when the test fails
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers outlived their parent: {left}"


@pytest.mark.parametrize("shape", ["sine", "square", "noise"])
def test_beatless_audio_is_no_beat_not_a_confident_tempo(tmp_path: Path, shape: str) -> None:
    t = np.arange(30 * 44100) / 44100
    wave = {"sine": np.sin(2 * np.pi * 440 * t), "square": np.sign(np.sin(2 * np.pi * 110 * t)),
            "noise": np.random.default_rng(7).standard_normal(len(t)) / 4}[shape]
    y = (0.4 * wave).astype(np.float32)
    mono = y[:: 2][: 30 * ANALYSIS_SR]  # near enough to 22.05 kHz for the grid
    _, _, confidence, _, _ = fit_grid(mono, ANALYSIS_SR)
    assert confidence < 0.05
    path = tmp_path / f"{shape}.wav"
    sf.write(path, y, 44100)
    with pytest.raises(AnalysisError, match="no beat"):
        analyze_file(path)
    with Store(tmp_path / "lib.sqlite") as store:
        summary = analyze_paths([path], store, workers=0, progress=False, report=lambda _m: None)
        assert summary.analysed == [] and "no beat" in summary.failed[0][1]
        assert store.counts()["tracks"] == 0  # never ranked as "peak energy"


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_a_truncated_file_is_analysed_with_a_warning(tiny_folder: Path, tmp_path: Path, fmt: str) -> None:  # noqa: F811
    audio, sr = sf.read(sorted(tiny_folder.glob("*.flac"))[0], always_2d=True)
    whole = tmp_path / f"whole.{fmt.lower()}"
    sf.write(whole, audio, sr, format=fmt, subtype="PCM_16")
    cut = tmp_path / f"cut.{fmt.lower()}"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.7)])  # a copy that stopped at 70 %
    with Store(tmp_path / "lib.sqlite") as store:
        said: list[str] = []
        summary = analyze_paths([cut], store, workers=0, progress=False, report=said.append)
    assert len(summary.analysed) == 1, summary.failed
    assert summary.warnings and "truncated" in summary.warnings[0] and "cut." in summary.warnings[0]
    assert any("warning:" in line and "truncated" in line for line in said)
