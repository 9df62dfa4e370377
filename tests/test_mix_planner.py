"""The planner that plays a set: the crate's order (every step within one Camelot step and 6 % of tempo
wherever the crate allows, measured on generated crates with known keys, tempi and energies), and the
autopilot driving a host — `copilot run --target mixxx --autopilot` — live on JACK, yielding nothing
to nobody: it loads, plays, and mixes on the phrase lines, and never confirms anyone's intent but its own."""

from __future__ import annotations

import gc
import itertools
import os
import random
import time
from pathlib import Path

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import IntentKind, Source
from copilot.mappings.install import Manifest, install
from copilot.phrase_db.keys import from_camelot
from copilot.phrase_db.mixlib import MixLibrary
from copilot.phrase_db.setlist import plan_set, stats, step_ok
from copilot.plugins import autopilot, mixxx
from copilot.plugins import phrase_db as phrase_db_plugin
from copilot.tests.fixtures_dj import HostPorts, MixxxHost
from copilot.tests.fixtures_mix import BassTrack, sidecar_crate, write_bass_track


def chain_crate(n: int, seed: int) -> list[dict]:
    """Tracks that can be ordered with every step compatible (a walk round the wheel with slowly rising
    tempo and a rising, then falling energy), shuffled."""
    rng = random.Random(seed)
    number, letter, bpm = rng.randint(1, 12), rng.choice("AB"), 118.0
    out = []
    for i in range(n):
        key = from_camelot(number, letter)
        out.append({"title": f"Track {i:02d}", "key": key.name, "bpm": round(bpm, 2),
                    "energy": round(0.45 + 0.4 * min(i, n - i) / n + rng.uniform(-0.05, 0.05), 3)})
        move = rng.random()
        if move < 0.45:
            number = number % 12 + 1
        elif move < 0.6:
            letter = "B" if letter == "A" else "A"
        bpm *= 1 + rng.uniform(0.0, 0.02)
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_set_is_ordered_so_every_step_mixes_wherever_the_crate_allows(tmp_path: Path, seed: int) -> None:
    sidecar_crate(tmp_path / "crate", chain_crate(20, seed))
    lib = MixLibrary.open(tmp_path / "none.sqlite", [tmp_path / "crate"])
    tracks = list(lib.tracks.values())
    crate = stats(tracks)
    order = plan_set(tracks)
    planned = stats(order)
    assert sorted(t.path for t in order) == sorted(t.path for t in tracks)
    assert planned.good_steps == planned.steps == 19, planned  # every step: ≤ 1 Camelot step, ≤ 6 % tempo
    assert crate.good_steps < 19  # the crate's own order does not (so the planner did the work)
    assert planned.mean_key_distance <= 1.0 and planned.tempo_jumps == 0


def test_a_track_that_fits_nowhere_costs_one_step_at_the_edge(tmp_path: Path) -> None:
    tracks = chain_crate(12, 7)
    tracks.append({"title": "Outlier", "key": "F# major", "bpm": 140.0, "energy": 0.9})  # 140 BPM: > 6 % from all
    sidecar_crate(tmp_path / "crate", tracks)
    order = plan_set(list(MixLibrary.open(tmp_path / "none.sqlite", [tmp_path / "crate"]).tracks.values()))
    bad = [i for i, (a, b) in enumerate(itertools.pairwise(order)) if not step_ok(a, b)]
    assert len(bad) == 1 and "Outlier" in (order[0].title, order[-1].title)


TEMPO = 240.0
SECTIONS = (("intro", 4, 0.4), ("main", 4, 0.8), ("outro", 4, 0.4))


@pytest.mark.jack
@pytest.mark.usefixtures("jack_server")
def test_the_autopilot_plays_a_set_on_mixxx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_TRANSITIONS", str(tmp_path / "learned"))
    crate = tmp_path / "crate"
    crate.mkdir()
    for spec in (BassTrack("Opener", 55.0, 880.0, bpm=TEMPO, sections=SECTIONS),
                 BassTrack("Follower", 82.41, 1300.0, bpm=TEMPO, key="E minor", camelot="9A", sections=SECTIONS)):
        write_bass_track(crate, spec, sr=8000)
    name = f"Copilot-{os.getpid()}-auto"
    cfg = {"port": f"{name} MIDI 1 Out", "feedback_port": f"{name} MIDI 1 In"}
    config = Config({"targets": {"mixxx": cfg}, "ports": {"in": f"{name} In"}})
    options = SessionOptions(target="mixxx", link=False, tempo=TEMPO, osc=None, midi_api="jack", crate=crate,
                             autopilot=True, db=tmp_path / "none.sqlite", log=tmp_path / "s.jsonl")
    plugins = TargetHost(config.targets(), plugins=[mixxx, phrase_db_plugin, autopilot], entry_points=False)
    reports: list[str] = []
    session = Session(options, config, host=plugins, report=reports.append)
    install("mixxx", plugins.get("mixxx").mapping_files(), [tmp_path / "installed"],
            manifest=Manifest(tmp_path / "manifest.json"))
    host = MixxxHost(tmp_path / "installed" / "Copilot.midi.xml")
    ports = None
    try:
        session.start()
        ports = HostPorts(cfg["port"], cfg["feedback_port"], lambda data, i: host.handle(data, i), f"auto-{name}")
        assert [s.name for s in session.inputs] == ["autopilot"]
        deadline = time.monotonic() + 25.0
        while time.monotonic() < deadline:
            mix = [d for d in session.decisions if d.intent.kind is IntentKind.TRANSITION]
            if mix and mix[0].verdict is Verdict.SCHEDULED and \
                    session.clock.beat > mix[0].actions[0].params["end"] + 2:
                break
            time.sleep(0.05)
    finally:
        session.stop()
        if ports is not None:
            ports.close()
        gc.collect()
    planner = [d for d in session.decisions if d.intent.source is Source.PLANNER]
    kinds = [d.intent.kind for d in planner]
    assert kinds[:4] == [IntentKind.LOAD, IntentKind.CROSSFADE, IntentKind.PLAY, IntentKind.LOAD], reports
    mix = next(d for d in planner if d.intent.kind is IntentKind.TRANSITION)
    assert mix.verdict is Verdict.SCHEDULED, mix.reason
    start = mix.actions[0].params["start"]
    play_a = next(d for d in planner if d.intent.kind is IntentKind.PLAY)
    assert start == play_a.beat + 32  # Opener's outro line: 8 bars after it started
    assert "the outgoing track ends there" in mix.reason  # a 4-bar outro: the mix fits inside it
    # what Mixxx saw: both loads, A playing, then B playing on the phrase line, then A stopped
    seen = [(e.group, e.key, e.value) for _, e in host.events]
    assert ("[Channel1]", "LoadSelectedTrack", 1.0) in seen and ("[Channel2]", "LoadSelectedTrack", 1.0) in seen
    order = [seen.index(("[Channel1]", "play", 1.0)), seen.index(("[Channel2]", "play", 1.0)),
             seen.index(("[Channel1]", "play", 0.0))]
    assert order == sorted(order)
    assert any(g == "[Master]" and k == "crossfader" for g, k, _ in seen)
    # the planner answered no question but its own (none was asked here) and nothing else spoke
    assert not [d for d in session.decisions if d.intent.kind is IntentKind.CONFIRM and "id" not in d.intent.args]


def test_the_autopilot_yields_to_the_performer_and_answers_only_its_own_questions(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    from copilot.intents.parser import parse
    from copilot.plugins import midi_monitor

    monkeypatch.setenv("COPILOT_TRANSITIONS", str(tmp_path / "learned"))
    crate = tmp_path / "crate"
    crate.mkdir()
    write_bass_track(crate, BassTrack("Opener", 55.0, 880.0), sr=8000)
    write_bass_track(crate, BassTrack("Follower", 82.41, 1300.0, key="E minor", camelot="9A"), sr=8000)
    options = SessionOptions(target="midi-monitor", link=False, tempo=120.0, osc=None, out=tmp_path / "x.wav",
                             crate=crate, autopilot=True, db=tmp_path / "none.sqlite", log=tmp_path / "s.jsonl")
    plugins = TargetHost({}, plugins=[midi_monitor, phrase_db_plugin, autopilot], entry_points=False)
    said: list[str] = []
    session = Session(options, Config(), host=plugins, report=said.append)
    session.start()
    clock = session.clock

    def run_to(beat: float) -> None:
        while clock.beat < beat:
            session.advance(clock.now() + 0.05)

    def planner_mix():
        return next((d for d in session.decisions if d.intent.kind is IntentKind.TRANSITION), None)

    while planner_mix() is None and clock.beat < 400:
        session.advance(clock.now() + 0.05)
    mix = planner_mix()
    assert mix is not None and mix.verdict is Verdict.SCHEDULED and mix.intent.source is Source.PLANNER
    start = mix.actions[0].params["start"]
    run_to(start + 8)  # the planner's mix is under way
    assert session.transitions()[0]["state"] == "running"
    mine = session.submit(parse("kill the bass on B", source=Source.VOICE).intent)
    assert mine.verdict is Verdict.SCHEDULED and "stepped aside: the mix is yours" in mine.reason
    assert session.transitions() == []
    pause = session.submit(parse("pause A", source=Source.VOICE).intent)
    assert pause.verdict is Verdict.AWAITING_CONFIRM
    asked_at = len(session.decisions)
    run_to(start + 8 + 48)  # inside the 16 bars the planner leaves the performer alone
    assert any("the performer has the decks" in m for m in said)
    later = session.decisions[asked_at:]
    assert not [d for d in later if d.intent.source is Source.PLANNER]  # it stays out of the way …
    assert [p.id for p, _ in session.scheduler.pending()] == [pause.intent.id]  # … and never says yes for you
    session.stop()
