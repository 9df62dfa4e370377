"""A deck never starts before its track is decoded. The first `copilot run` on a fresh machine rendered
150 s of digital silence: the autopilot's PLAY landed while deck A's first decode was still running, the
deck started empty, and the engine then refused the late LOAD ("deck A was playing"). Here the decode is
held up for real (the engine's loader is busy with another job) while the PLAY's beat passes; the deck
must wait, then come in on the grid with its track — or be refused with the reason, never silent."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.engine.layout import D_ANCHOR_CB, D_ANCHOR_TB
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins import autopilot, standalone
from copilot.tests.fixtures_first import NO_DEVICE, SR, first_sound, longest_silence, track


def _session(tmp: Path, **settings: object) -> tuple[Session, list[str]]:
    track(tmp / "crate", "one", seconds=30.0, bpm=120.0)
    said: list[str] = []
    table = {"device": NO_DEVICE, "autopilot": False, "keylock": False, "fallback_wav": str(tmp / "live.wav"),
             **settings}
    options = SessionOptions(target="standalone", link=False, tempo=120.0, osc=None, crate=tmp / "crate",
                             log=tmp / "log.jsonl")
    host = TargetHost({"standalone": table}, plugins=[standalone, autopilot], entry_points=False)
    return Session(options, Config({"targets": {"standalone": table}}), host=host, report=said.append), said


def _until(clock: Any, beat: float, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while clock.beat < beat and time.monotonic() < deadline:
        time.sleep(0.01)


def _said(said: list[str], text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in said if text in m]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"never said {text!r}: {said}")


def _held_decode(session: Session) -> threading.Event:
    """Keep the engine's one loader thread busy until the gate opens (a slow disk, a long file before it)."""
    gate = threading.Event()
    session.targets[0]._loader.submit(gate.wait, 30.0)
    return gate


def test_a_play_that_comes_before_its_decode_waits_and_comes_in_on_the_grid(tmp_path: Path) -> None:
    session, said = _session(tmp_path)
    session.start()
    try:
        engine = session.targets[0].engine
        gate = _held_decode(session)
        load = session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "one"}))
        play = session.submit(Intent(IntentKind.PLAY, Deck.A))
        assert load.verdict is Verdict.SCHEDULED and play.verdict is Verdict.SCHEDULED, (load.reason, play.reason)
        _until(session.clock, play.beat + 2.0)  # its beat has passed: the PLAY reached the engine
        assert not engine.deck_state(0)["playing"]  # …and did not start an empty deck
        released = session.clock.beat
        gate.set()
        late = _said(said, "comes in")
        assert "on the grid" in late
        _until(session.clock, session.clock.beat + 6.0)
        state = engine.deck_state(0)
        assert state["playing"] and state["refused_loads"] == 0, said
        anchor_cb, anchor_tb = float(engine._deck[0][D_ANCHOR_CB]), float(engine._deck[0][D_ANCHOR_TB])
    finally:
        session.stop()
    assert not any("refused a load" in m for m in said), said
    audio, sr = sf.read(tmp_path / "live.wav", always_2d=True)
    start = first_sound(audio)
    t_release = (session.clock.time_at_beat(released) - session.started_at)
    assert start is not None and start >= t_release - 0.1  # nothing before the track was there
    assert longest_silence(audio, start) < 0.6  # then a click every half second, never a gap
    # on the grid: track beat 0 sits where the PLAY asked (it came in whole bars later, that far in)
    assert abs((anchor_cb - anchor_tb) - play.beat) < 0.01
    assert sr == SR


def test_a_play_without_a_track_or_too_late_is_refused_with_the_reason(tmp_path: Path) -> None:
    session, said = _session(tmp_path, play_wait_bars=0)
    session.start()
    try:
        engine = session.targets[0].engine
        empty = session.submit(Intent(IntentKind.PLAY, Deck.B))
        _until(session.clock, empty.beat + 1.0)
        assert "it has no track" in _said(said, "deck B not started")
        assert not engine.deck_state(1)["playing"] and not session.state.deck(Deck.B).playing

        gate = _held_decode(session)
        session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "one"}))
        play = session.submit(Intent(IntentKind.PLAY, Deck.A))
        _until(session.clock, play.beat + 2.0)
        gate.set()
        refused = _said(said, "deck A not started")
        assert "decode" in refused and "play it again" in refused
        time.sleep(1.0)
        assert not engine.deck_state(0)["playing"] and engine.deck_state(0)["loaded"]
        assert not session.state.deck(Deck.A).playing  # the scheduler no longer believes it plays
    finally:
        session.stop()
    audio, _ = sf.read(tmp_path / "live.wav", always_2d=True)
    assert np.abs(audio).max() < 1e-4  # nothing played, and nothing pretended to
