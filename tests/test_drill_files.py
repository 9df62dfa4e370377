"""Fault drills on the files a set writes and reads, each with the music going on (a live session turning a
knob 50 times a second into a real JACK port, checked on the wire): the log's disk fills up, and the phrase
database is damaged in the middle of the set."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session
from copilot.plugins import midi_monitor
from copilot.tests.fixtures import MidiCapture
from copilot.tests.fixtures_drill import knob_thread

pytestmark = pytest.mark.jack


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "16k") -> Iterator[Path]:
    """A tmpfs of a few kilobytes: a disk that fills up within a second of a set."""
    where.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


class Music:
    """A knob turning 50 times a second on a session's own port, captured on the wire."""

    def __init__(self, session: Session, port: str) -> None:
        self.session = session
        self.capture = MidiCapture(port, f"{port}-capture")
        self.thread = knob_thread(session)

    def arrivals(self) -> list[float]:
        return [self.capture.messages.get()[1] for _ in range(self.capture.messages.qsize())]


def live_session(tmp_path: Path, log: Path | None, duration: float, **options) -> tuple[Session, list[str], str]:
    from copilot.bridge.session import SessionOptions

    plugins = options.pop("plugins", [])
    port = f"drill-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    config = Config({"targets": {"midi-monitor": {"port": port}}, "ports": {"in": f"{port} In"}})
    said: list[str] = []
    session = Session(SessionOptions(target="midi-monitor", duration=duration, link=False, tempo=120.0, osc=None,
                                     midi_api="jack", log=log, **options),
                      config, host=TargetHost(config.targets(), plugins=[midi_monitor, *plugins],
                                              entry_points=False),
                      report=lambda line: said.append(f"{host_time():.3f} {line}"))
    return session, said, port


def stop_after(session: Session, done: threading.Event, seconds: float) -> None:
    """End the set `seconds` after `done` (however long a loaded machine took to get there)."""
    def wait() -> None:
        done.wait()
        time.sleep(seconds)
        session._stop.set()

    threading.Thread(target=wait, daemon=True).start()


def test_the_log_disk_fills_up_and_the_set_goes_on(tmp_path, jack_server):
    with tiny_disk(tmp_path / "disk") as disk:
        session, said, port = live_session(tmp_path, disk / "session.jsonl", duration=30.0)
        full = threading.Event()
        says = session.log.on_fail  # the session's own way of telling the performer
        session.log.on_fail = lambda line: (says(line), full.set())
        stop_after(session, full, 1.5)
        session.start()
        music = Music(session, port)
        try:
            session.play()
        finally:
            session.stop()  # closing a log on a full disk must not raise either
        arrivals = music.arrivals()
        music.capture.close()
    stopped = [line for line in said if "the session log stopped" in line]
    assert len(stopped) == 1 and "No space left on device" in stopped[0] and "the set goes on" in stopped[0]
    when = float(stopped[0].split()[0])
    after = [t for t in arrivals if t > when + 0.1]
    assert len(after) > 20 and max(b - a for a, b in itertools.pairwise(after)) < 0.25  # still ~50/s
    tally = session.dispatcher.tally["midi-monitor"]
    assert tally.failed == 0 and tally.sent >= len(arrivals) > 100
    assert session.log.failed and session.log.written > 0  # it wrote what fitted, then stopped
    assert said[-1].split(" ", 1)[1].startswith("midi-monitor: ")  # the summary still reached the performer


def small_library(path: Path) -> Path:
    """A phrase database with a handful of analysed tracks (saved as the analyser saves them)."""
    from copilot.phrase_db.analysis import TrackAnalysis
    from copilot.phrase_db.beatgrid import BeatGrid
    from copilot.phrase_db.keys import Key
    from copilot.phrase_db.store import Store

    with Store(path) as store:
        for i, (title, bpm) in enumerate([("Dubby 118", 118.0), ("Sunrise Keys", 124.0), ("Warehouse", 128.0)]):
            a = TrackAnalysis(f"/music/{title}.flac", 240.0, 44100, 2, BeatGrid(bpm, 0.1, 470, 0, 0.9),
                              Key.parse("A minor"), 0.8, -9.0, [], tags={"title": title, "artist": f"DJ {i}"})
            store.save(a, f"hash{i}", 1000 + i, 0)
    return path


def test_the_phrase_database_is_damaged_mid_set_and_the_set_goes_on(tmp_path, jack_server):
    from copilot.intents.schema import Intent, IntentKind
    from copilot.plugins import phrase_db

    db = small_library(tmp_path / "library.sqlite")
    session, said, port = live_session(tmp_path, tmp_path / "log.jsonl", duration=30.0, db=db, plugins=[phrase_db])
    session.start()
    music = Music(session, port)
    outcome: dict[str, object] = {}
    refused = threading.Event()
    stop_after(session, refused, 1.5)

    def performer() -> None:
        time.sleep(0.5)
        outcome["before"] = session.submit(Intent(IntentKind.LOAD, args={"query": "dubby 118"}))
        with open(db, "r+b") as fh:  # a write torn half way: the pages after the header become garbage
            fh.seek(1024)
            fh.write(os.urandom(os.path.getsize(db) - 1024))
        outcome["damaged_at"] = host_time()
        outcome["after"] = session.submit(Intent(IntentKind.LOAD, args={"query": "sunrise keys"}))
        refused.set()

    threading.Thread(target=performer, daemon=True).start()
    try:
        session.play()
    finally:
        session.stop()
    arrivals = music.arrivals()
    music.capture.close()
    before, after = outcome["before"], outcome["after"]
    assert before.verdict.value == "scheduled" and before.actions[0].params["resolved"]["title"] == "Dubby 118"
    assert after.verdict.value == "refused"
    assert "the phrase database" in after.reason and "is damaged" in after.reason and "nothing loaded" in after.reason
    assert any(line.split(" ", 1)[1].startswith("✗ [script] load 'sunrise keys' refused") for line in said)
    later = [t for t in arrivals if t > outcome["damaged_at"]]
    assert len(later) > 50 and max(b - a for a, b in itertools.pairwise(later)) < 0.25  # music on
    assert session.dispatcher.tally["midi-monitor"].failed == 0
