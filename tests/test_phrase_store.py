"""The library on disk: incremental, resumable after a kill, corrupt files skipped, readers never blocked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.engine.example_crate import write_track
from copilot.phrase_db import index as ix
from copilot.phrase_db.planner import Planner
from copilot.phrase_db.query import search_tracks
from copilot.phrase_db.runner import analyze_paths
from copilot.phrase_db.store import NotWrittenYet, Store
from copilot.tests.fixtures_phrase import TINY, crashing_worker, tiny_folder  # noqa: F401


@pytest.fixture
def library(tiny_folder: Path, tmp_path: Path) -> Path:  # noqa: F811
    folder = tmp_path / "music"
    shutil.copytree(tiny_folder, folder)
    return folder


def _cli(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen([sys.executable, "-m", "copilot", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _committed(db: Path) -> dict[str, float]:
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=5)
        try:
            return dict(con.execute("SELECT path, analyzed_at FROM tracks WHERE status = 'ok'").fetchall())
        finally:
            con.close()
    except sqlite3.OperationalError:  # the schema is being created this very moment
        return {}


def test_incremental_moves_changes_and_corrupt_files(library: Path, tmp_path: Path) -> None:
    (library / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100))
    (library / "noise.mp3").write_bytes(os.urandom(4000))
    (library / "notes.txt").write_text("not audio, not even looked at")
    store = Store(tmp_path / "lib.sqlite")
    first = analyze_paths([library], store, workers=2, progress=False, report=lambda m: None)
    assert len(first.analysed) == 4
    assert sorted(Path(p).name for p, _ in first.failed) == ["broken.wav", "noise.mp3"]
    assert all("cannot decode" in reason for _, reason in first.failed)
    assert store.counts() == {"tracks": 4, "failed": 2, "phrases": sum(len(t.phrases) for t in store.tracks())}
    assert first.audio_seconds > 4 * 40

    again = analyze_paths([library], store, workers=2, progress=False)
    assert (again.analysed, again.unchanged, len(again.known_bad)) == ([], 4, 2)

    tiny0 = next(library.glob("0 *.flac"))
    os.utime(tiny0, ns=(time.time_ns(), time.time_ns()))  # touched, same bytes: no re-analysis
    moved_to = library / "sub" / "renamed.flac"
    moved_to.parent.mkdir()
    tiny1 = next(library.glob("1 *.flac"))
    shutil.move(tiny1, moved_to)
    shutil.move(tiny1.with_suffix(".json"), moved_to.with_suffix(".json"))
    write_track(next(library.glob("2 *.flac")), TINY[3])  # new content under an old name
    third = analyze_paths([library], store, workers=0, progress=False)
    assert [Path(p).name for p in third.analysed] == [next(library.glob("2 *.flac")).name]
    assert third.moved == [(str(tiny1.resolve()), str(moved_to.resolve()))]
    assert third.unchanged == 2
    paths = {t.path for t in store.tracks()}
    assert str(moved_to.resolve()) in paths and str(tiny1.resolve()) not in paths
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        orphans = "SELECT COUNT(*) FROM phrases WHERE track_id NOT IN (SELECT id FROM tracks)"
        assert con.execute(orphans).fetchone()[0] == 0
    store.close()


def test_a_killed_analysis_resumes_where_it_stopped(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "resume.sqlite"
    proc = _cli("db", "analyze", str(library), "--db", str(db), "-j", "0", "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _committed(db) and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # no goodbye: as if the laptop died
    proc.wait(timeout=30)
    before = _committed(db)
    assert 1 <= len(before) < 4, "the kill should land mid-run"

    store = Store(db)
    summary = analyze_paths([library], store, workers=0, progress=False)
    assert summary.unchanged == len(before)
    assert len(summary.analysed) == 4 - len(before)
    after = _committed(db)
    assert len(after) == 4
    assert all(after[p] == t for p, t in before.items())  # finished tracks were not redone
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_a_worker_that_dies_costs_only_its_own_file(library: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "crash.sqlite")
    files = [library / "0 Tiny 0.flac", library / "1 Tiny 1.flac", library / "2 Tiny 2.flac"]
    summary = analyze_paths(files, store, workers=1, progress=False, worker=crashing_worker)
    assert len(summary.analysed) == 2
    assert [(Path(p).name, r) for p, r in summary.failed] == [
        ("1 Tiny 1.flac", "1 Tiny 1.flac: the analyser crashed on this file")]
    assert store.counts()["failed"] == 1
    store.close()


def test_queries_run_while_the_analyser_writes(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "busy.sqlite"
    proc = _cli("db", "analyze", str(library), "--db", str(db), "-j", "0", "--quiet")
    seen, planned, errors = [], 0, []
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        if not db.exists():
            time.sleep(0.02)
            continue
        try:
            with Store(db, readonly=True) as store:
                tracks = store.tracks()
                seen.append(len(tracks))
                search_tracks(tracks, "tiny 120")
                if len(tracks) >= 2:
                    result = Planner(store).next(tracks[0].title, k=3)
                    assert result["candidates"]
                    planned += 1
        except NotWrittenYet:  # only the instant the schema is born
            pass
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):  # (the same instant, seen a moment later)
                errors.append(exc)
        except Exception as exc:  # noqa: BLE001 - collect and report every failure
            errors.append(exc)
        time.sleep(0.05)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert errors == []
    assert seen == sorted(seen) and seen[-1] >= 1, seen  # never went backwards
    assert planned >= 1
    with Store(db, readonly=True) as store:
        assert store.counts()["tracks"] == 4


def test_index_is_persisted_and_rebuilt_when_stale(library: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "ix.sqlite")
    analyze_paths([library / "0 Tiny 0.flac", library / "1 Tiny 1.flac"], store, workers=0, progress=False)
    index, table = ix.open_index(store)
    path, meta = ix.index_paths(store.path)
    assert path.exists() and json.loads(meta.read_text())["generation"] == store.generation() == table.generation
    stamp = path.stat().st_mtime_ns
    again, _ = ix.open_index(store)
    assert path.stat().st_mtime_ns == stamp and again.count == index.count  # fresh: loaded, not rebuilt
    analyze_paths([library], store, workers=0, progress=False)
    rebuilt, table = ix.open_index(store)
    assert rebuilt.count == len(table) > index.count
    assert json.loads(meta.read_text())["generation"] == store.generation()
    store.close()


def test_cli_tracks_query_next_json(library: Path, tmp_path: Path) -> None:
    from copilot.cli.main import app

    db = str(tmp_path / "cli.sqlite")
    runner = CliRunner()
    res = runner.invoke(app, ["db", "analyze", str(library), "--db", db, "-j", "0", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["analysed"] == 4
    res = runner.invoke(app, ["db", "tracks", "--db", db, "--json"])
    tracks = json.loads(res.stdout)
    assert len(tracks) == 4
    for t, spec in zip(sorted(tracks, key=lambda t: t["path"]), TINY, strict=True):
        assert abs(t["bpm"] - spec.bpm) < 0.05 and t["camelot"] and t["key"]
        assert t["downbeats"] == 24 and t["lufs"] < -5
        assert next(p["label"] for p in t["phrases"]) == "intro"
        assert all({"start", "label", "energy", "bars"} <= set(p) for p in t["phrases"])
    res = runner.invoke(app, ["db", "query", "tiny 123", "--db", db, "--json"])
    hits = json.loads(res.stdout)
    assert hits[0]["title"] == "Tiny 2" and "123" in hits[0]["why"]
    res = runner.invoke(app, ["db", "next", "--from", "Tiny 0@outro", "--db", db, "--json", "-k", "3"])
    plan = json.loads(res.stdout)
    assert plan["from"]["title"] == "Tiny 0" and plan["from"]["label"] == "outro"
    assert len(plan["candidates"]) == 3 and all(c["title"] != "Tiny 0" for c in plan["candidates"])
    res = runner.invoke(app, ["db", "next", "--from", "Tiny 0@chorus", "--db", db])
    assert res.exit_code == 2 and "phrase number or one of" in res.output
    res = runner.invoke(app, ["db", "tracks", "--db", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 1 and "copilot db analyze" in res.output
