"""Fault drills on the files a set writes and reads, each with the music going on (a live session turning a
knob 50 times a second into a real JACK port, checked on the wire): the log's disk fills up, and the phrase
database is damaged in the middle of the set."""

from __future__ import annotations

import contextlib
import math
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
from copilot.intents.schema import Deck
from copilot.plugins import midi_monitor
from copilot.tests.fixtures import MidiCapture

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
        self.thread = threading.Thread(target=self._turn, daemon=True)
        self.thread.start()

    def _turn(self) -> None:
        from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime

        make_realtime(HELPER_PRIORITY)  # as a live input's thread
        i = 0
        while not self.session._stop.is_set():
            self.session.move("eq_low", 0.5 + 0.4 * math.sin(i / 10), Deck.A)
            i += 1
            time.sleep(0.02)

    def arrivals(self) -> list[float]:
        return [self.capture.messages.get()[0] for _ in range(self.capture.messages.qsize())]


def live_session(tmp_path: Path, log: Path | None, duration: float, **options) -> tuple[Session, list[str], str]:
    from copilot.bridge.session import SessionOptions

    port = f"drill-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    config = Config({"targets": {"midi-monitor": {"port": port}}, "ports": {"in": f"{port} In"}})
    said: list[str] = []
    session = Session(SessionOptions(target="midi-monitor", duration=duration, link=False, tempo=120.0, osc=None,
                                     midi_api="jack", log=log, **options),
                      config, host=TargetHost(config.targets(), plugins=[midi_monitor, *options.pop("plugins", [])],
                                              entry_points=False),
                      report=lambda line: said.append(f"{host_time():.3f} {line}"))
    return session, said, port


def test_the_log_disk_fills_up_and_the_set_goes_on(tmp_path, jack_server):
    with tiny_disk(tmp_path / "disk") as disk:
        session, said, port = live_session(tmp_path, disk / "session.jsonl", duration=3.0)
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
    assert len(after) > 20 and max(b - a for a, b in zip(after, after[1:], strict=False)) < 0.25  # still ~50/s
    tally = session.dispatcher.tally["midi-monitor"]
    assert tally.failed == 0 and tally.sent >= len(arrivals) > 100
    assert session.log.failed and session.log.written > 0  # it wrote what fitted, then stopped
    assert said[-1].split(" ", 1)[1].startswith("midi-monitor: ")  # the summary still reached the performer
