"""LOAD by query on Serato and Mixxx, end to end over JACK: what the host is really sent (its load
button, which loads the row highlighted in its library), what is written for the pick (Serato's crate),
and a decision line that says so — never "picked X" as if X were on the deck."""

from __future__ import annotations

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost, hookimpl
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.phrase_db import serato as serato_crates
from copilot.plugins import midi_monitor, mixxx, serato

pytestmark = pytest.mark.jack


class Shelf:
    """A library holding one real file."""

    name = "shelf"

    def __init__(self, path) -> None:
        self.path = path

    def resolve(self, query: str) -> dict | None:
        return {"path": str(self.path), "title": "Dubby Roller", "bpm": 118.0}


class ShelfPlugin:
    def __init__(self, path) -> None:
        self.shelf = Shelf(path)

    @hookimpl
    def copilot_library(self, options):
        return self.shelf


def load_on(tmp_path, target: str, plugin, out_port: str, midi_capture) -> tuple[object, list[bytes], list[str]]:
    track = tmp_path / "music" / "dubby roller.flac"
    track.parent.mkdir()
    track.write_bytes(b"fLaC")
    (tmp_path / "_Serato_").mkdir()
    said: list[str] = []
    options = SessionOptions(target=target, link=False, tempo=150.0, osc=None, log=tmp_path / "log.jsonl",
                             midi_api="jack", extra={"serato_folder": str(tmp_path / "_Serato_")})
    host = TargetHost(plugins=[midi_monitor, plugin, ShelfPlugin(track)], entry_points=False)
    session = Session(options, Config(), host=host, report=said.append)
    session.start()
    capture = midi_capture(out_port)
    try:
        decision = session.submit(Intent(IntentKind.LOAD, Deck.B, {"query": "dubby 118"}))
        sent = [data for _, data in capture.collect(count=1, timeout=4.0)]
    finally:
        session.stop()
    return decision, sent, said


def test_serato_load_presses_load_track_writes_the_crate_and_says_what_it_did(tmp_path, midi_capture, jack_server):
    decision, sent, said = load_on(tmp_path, "serato-dj-pro", serato, "Copilot Out", midi_capture)
    assert decision.verdict is Verdict.SCHEDULED, decision.reason
    press = serato.SeratoTarget().control("LOAD", Deck.B)
    assert sent and sent[0] == bytes([press.status_byte, press.number, 127])  # Serato's load_track, deck 2
    crate = tmp_path / "_Serato_" / "Subcrates" / "copilot suggestions.crate"
    first = serato_crates.track_paths(crate.read_bytes())[0]
    assert first == serato_crates.drive_relative(tmp_path / "music" / "dubby roller.flac")[1]
    assert "pressed Serato's 'load selected track'" in decision.reason
    assert "not necessarily your pick 'Dubby Roller'" in decision.reason
    assert "first in the crate 'copilot suggestions'" in decision.reason
    assert not any("picked" in line for line in said)


def test_mixxx_load_presses_load_selected_track_and_says_the_pick_is_not_loaded(tmp_path, midi_capture,
                                                                                 jack_server):
    decision, sent, said = load_on(tmp_path, "mixxx", mixxx, "Copilot MIDI 1 Out", midi_capture)
    assert decision.verdict is Verdict.SCHEDULED, decision.reason
    press = mixxx.MixxxTarget().control("LOAD", Deck.B)
    assert sent and sent[0] == bytes([press.status_byte, press.number, 127])  # [Channel2] LoadSelectedTrack
    assert "pressed Mixxx's 'load selected track'" in decision.reason
    assert "a running Mixxx cannot be handed a file" in decision.reason
    assert not any("picked" in line for line in said)
