"""Planner, query, transitions, Serato crate and LOAD resolution: exact facts, not smoke."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from copilot.bridge.clock import ManualClock
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler
from copilot.phrase_db import serato
from copilot.phrase_db.keys import COMPAT, Key, camelot_distance, compatibility, mirex_score
from copilot.phrase_db.planner import Planner, UnknownSource, Weights
from copilot.phrase_db.query import parse, parse_bpm_range, search_tracks
from copilot.phrase_db.store import Store, TrackRecord
from copilot.phrase_db.transitions import Template, TemplateError, realize, template, templates
from copilot.plugins import phrase_db as plugin
from copilot.tests.fixtures_phrase import synthetic_table, tiny_db, tiny_folder  # noqa: F401


@pytest.fixture(scope="module")
def flat() -> Planner:
    table, _ = synthetic_table(4000, seed=1)
    return Planner.from_table(table, kind="flat")


def test_index_ranking_is_the_exact_composite_score(flat: Planner) -> None:
    rng = np.random.default_rng(2)
    for row in rng.integers(0, len(flat.table), 25):
        rows, scores = flat.rank(int(row), k=10, target=0.7)
        exact_rows, exact_scores = flat.rank(int(row), k=10, target=0.7, exact=True)
        assert list(rows) == list(exact_rows)
        assert np.allclose(scores, exact_scores, atol=1e-4)


def test_breakdown_adds_up_to_the_score(flat: Planner) -> None:
    w = Weights(key=0.4, tempo=0.2, energy=0.2, similarity=0.1, entry=0.1)
    rows, scores = flat.rank(7, k=5, target=0.55, weights=w)
    for r, s in zip(rows, scores, strict=True):
        b = flat.breakdown(7, int(r), 0.55, w)
        total = sum(b[t]["points"] for t in ("key", "tempo", "energy", "similarity", "entry"))
        assert total == pytest.approx(s, abs=2e-3)
        ka, kb = Key.from_index(int(flat.table.key[7])), Key.from_index(int(flat.table.key[r]))
        assert b["key"]["camelot_distance"] == camelot_distance(ka, kb)
        assert b["key"]["fit"] == pytest.approx(compatibility(ka, kb))
        assert b["tempo"]["percent"] == pytest.approx(100 * (flat.table.bpm[r] / flat.table.bpm[7] - 1), abs=0.01)


def test_filters_tempo_window_and_other_tracks(flat: Planner) -> None:
    t = flat.table
    for row in (0, 100, 2001):
        rows, _ = flat.rank(row, k=50)
        assert np.all(np.abs(np.log(t.bpm[rows] / t.bpm[row])) <= math.log(1.06) + 1e-6)
        assert not np.any(t.track_ids[rows] == t.track_ids[row])
        own, _ = flat.rank(row, k=50, same_track=True, weights=Weights(0, 0, 0, 1, 0))
        assert row in own  # a phrase is most similar to itself once its track is allowed


def test_energy_arc_moves_the_pick(flat: Planner) -> None:
    w = Weights(key=0, tempo=0, energy=1, similarity=0, entry=0)
    up, _ = flat.rank(3, k=10, target=0.95, weights=w)
    down, _ = flat.rank(3, k=10, target=0.2, weights=w)
    assert flat.table.energy[up].mean() > 0.85 > 0.3 > flat.table.energy[down].mean()
    assert flat.target_energy(3, "peak") == 0.95
    assert flat.target_energy(3, "up") == pytest.approx(min(1.0, flat.table.energy[3] + 0.1))
    with pytest.raises(ValueError, match="arc must be"):
        flat.target_energy(3, "sideways")


def test_key_lists_give_the_exact_answer_on_a_big_library() -> None:
    table, _ = synthetic_table(30000, seed=3)
    planner = Planner.from_table(table)  # auto: over 20k phrases → per-key inverted lists
    assert planner.index.kind == "keys"
    rng = np.random.default_rng(4)
    for row in rng.integers(0, len(table), 40):
        got, got_scores = planner.rank(int(row), k=10)
        want, want_scores = planner.rank(int(row), k=10, exact=True)
        assert np.allclose(got_scores, want_scores, atol=1e-4)
        assert set(got) == set(want)
    tight = Weights(key=0.05, tempo=0.3, energy=0.3, similarity=0.3, entry=0.05)  # forces the full scan
    got, _ = planner.rank(5, k=10, weights=tight)
    want, _ = planner.rank(5, k=10, weights=tight, exact=True)
    assert set(got) == set(want)


def test_keys_and_camelot() -> None:
    assert Key.parse("8A") == Key.parse("A minor") == Key.parse("Am") == Key(9, "minor")
    assert Key.parse("Bb major").camelot == "6B" and Key.parse("11b") == Key.parse("A major")
    assert camelot_distance(Key.parse("12A"), Key.parse("1A")) == 1  # the wheel wraps
    assert compatibility(Key.parse("8A"), Key.parse("8B")) == 0.8
    assert compatibility(Key.parse("8A"), Key.parse("3B")) == 0.0
    assert np.allclose(COMPAT, COMPAT.T) and np.all(np.diag(COMPAT) == 1)
    assert [mirex_score(Key.parse(e), Key.parse("A minor")) for e in ("Am", "Em", "C", "A", "F#m")] == [
        1.0, 0.5, 0.3, 0.2, 0.0]
    with pytest.raises(ValueError):
        Key.parse("H minor")


def _record(i: int, title: str, artist: str, bpm: float, key: str, tags: tuple[str, ...]) -> TrackRecord:
    return TrackRecord(id=i, path=f"/music/{artist} - {title}.flac", content_hash="", status="ok", error=None,
                       analysis_version=1, analyzed_at=0.0, title=title, artist=artist, tags=tags, bpm=bpm,
                       key=Key.parse(key))


def test_spoken_queries() -> None:
    lib = [_record(1, "Dubby Roller", "Low Tide", 118.0, "8A", ("dub", "deep")),
           _record(2, "Dub Siren", "Low Tide", 124.0, "9A", ("dub",)),
           _record(3, "Warehouse Tool", "Grid Unit", 118.5, "4A", ("techno",)),
           _record(4, "Sunrise", "Mira", 124.0, "8B", ("house",))]
    assert parse("dubby 118 8a").words == ["dubby"] and parse("dubby 118").tempo == 118.0
    assert parse("something in A minor").key == Key(9, "minor")
    top = search_tracks(lib, "dubby 118")
    assert [h.track.id for h in top][:2] == [1, 2]
    assert "118.0 BPM near 118" in top[0].why
    assert next(h.track.id for h in search_tracks(lib, "dub 124")) == 2
    assert search_tracks(lib, "zydeco") == []
    assert {h.track.id for h in search_tracks(lib, "", bpm=(117, 119))} == {1, 3}
    assert {h.track.id for h in search_tracks(lib, "", key=Key.parse("8A"), compatible=True)} == {1, 2, 4}
    assert next(h.track.id for h in search_tracks(lib, "low tide 9a")) == 2  # the key hint breaks the tie
    assert parse_bpm_range("120-126") == (120.0, 126.0)
    with pytest.raises(ValueError):
        parse_bpm_range("fast")


def test_every_template_loads_and_bass_swap_lands_on_the_bar(tmp_path: Path) -> None:
    assert set(templates()) == {"blend", "bass_swap", "filter_fade", "echo_out", "double_drop"}
    envs = realize("bass swap", start_beat=64, out_deck="A", in_deck="B")
    by = {(e.param, e.deck): e for e in envs}
    assert by[("eq_low", "B")].value_at(95.9) == 0.0 and by[("eq_low", "B")].value_at(97) == 0.5
    assert by[("eq_low", "A")].value_at(96) == 0.5 and by[("eq_low", "A")].value_at(97) == 0.0
    assert by[("crossfader", None)].points[0].beat == 64 and by[("crossfader", None)].end == 64 + 64
    assert all(float(p.beat).is_integer() for e in envs for p in e.points)  # on the beat grid
    mirrored = {(e.param, e.deck): e for e in realize("bass_swap", 0, out_deck="B", in_deck="A", bars=8)}
    assert mirrored[("crossfader", None)].value_at(0) == 1.0 and mirrored[("crossfader", None)].value_at(32) == 0.0
    assert mirrored[("eq_low", "A")].value_at(17) == 0.5  # the swap moved to the middle of 8 bars
    with pytest.raises(TemplateError, match="no transition"):
        template("scratch battle")
    with pytest.raises(TemplateError, match="unknown parameter"):
        Template.from_dict("x", {"curves": [{"param": "wobble", "deck": "in", "points": [[0, 0]]}]})
    with pytest.raises(TemplateError, match="belongs to a deck"):
        Template.from_dict("x", {"curves": [{"param": "eq_low", "points": [[0, 0]]}]})


@pytest.mark.parametrize("name", ["blend", "bass_swap", "filter_fade", "echo_out", "double_drop"])
def test_templates_are_playable_within_the_slew_caps(name: str) -> None:
    for env in realize(name, 16, "A", "B"):
        rendered = env.render(1 / 16)
        assert rendered[-1][1] == pytest.approx(env.points[-1].value, abs=1e-9), f"{env.param} never arrives"
        for p in env.points:  # every corner is reached, not shaved off by the slew limit
            assert min(abs(v - p.value) for b, v in rendered if abs(b - p.beat) <= 1 / 16 + 1e-9) <= 1e-9


def test_templates_go_through_the_scheduler() -> None:
    clock = ManualClock(tempo=124.0)
    outbox = NullOutbox()
    scheduler = SafetyScheduler(clock, outbox=outbox)
    for env in realize("echo_out", 32, "A", "B"):
        scheduler.envelope(env)
    assert len(outbox.dispatched) == 3
    sent = {(a.envelope.param, a.envelope.deck): a for a in outbox.dispatched}
    assert sent[("fx_send", "A")].beat == 32 and sent[("fx_send", "A")].envelope.end == 48
    xf = sent[("crossfader", None)].envelope
    rendered = dict(xf.render(0.25))
    assert xf.start == 32 and xf.end == 40  # across in the beat before the middle bar line
    assert rendered[32.0] == 0.0 and rendered[39.0] == 0.0 and rendered[40.0] == 1.0
    values = list(rendered.values())
    assert max(abs(b - a) for a, b in itertools.pairwise(values)) <= 0.5 + 1e-9  # slew-limited: 2 per beat


def test_serato_crate_bytes_and_files(tmp_path: Path) -> None:
    data = serato.crate_bytes(["Music/a b/01 One.mp3", "Music/Two.flac"])
    assert data[:8] == b"vrsn" + (56).to_bytes(4, "big")
    assert data[8:64].decode("utf-16-be") == "1.0/Serato ScratchLive Crate"
    assert serato.track_paths(data) == ["Music/a b/01 One.mp3", "Music/Two.flac"]
    recs = serato.parse(data)
    assert recs[1] == ("osrt", [("tvcn", "song"), ("brev", 0)])
    assert ("ovct", [("tvcn", "bpm"), ("tvcw", "0")]) in recs
    otrk = serato.record("otrk", serato.text("ptrk", "x.mp3"))
    assert otrk == b"otrk\x00\x00\x00\x12" + b"ptrk\x00\x00\x00\x0a" + "x.mp3".encode("utf-16-be")
    assert serato.drive_relative("/Volumes/USB/Music/x.mp3") == (Path("/Volumes/USB"), "Music/x.mp3")
    assert serato.drive_relative("/home/dj/Music/x.mp3") == (Path("/"), "home/dj/Music/x.mp3")
    assert serato.drive_relative("D:\\Music\\x.mp3")[1] == "Music/x.mp3"
    with pytest.raises(FileNotFoundError, match="no Serato library folder"):
        serato.write_crate(tmp_path / "nowhere", ["/a.mp3"])
    (tmp_path / "_Serato_").mkdir()
    crate = serato.write_crate(tmp_path / "_Serato_", ["/music/a.mp3", "/Volumes/Other/b.mp3", "/music/a.mp3"])
    assert crate == tmp_path / "_Serato_" / "Subcrates" / "copilot suggestions.crate"
    assert serato.track_paths(crate.read_bytes()) == ["music/a.mp3"]  # other drive left out, no duplicates


def test_load_by_query_through_the_plugin(tiny_folder: Path, tiny_db: Path, tmp_path: Path,  # noqa: F811
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the crate writer's backup manifest
    from copilot.bridge.actions import Action, ActionKind
    from copilot.bridge.host import TargetContext
    from copilot.bridge.state import HostState
    from copilot.intents.schema import Deck
    from copilot.plugins import serato as serato_plugin

    host = TargetHost(plugins=[plugin], entry_points=False)
    # a fresh machine: no database, the crate folder's sidecars answer
    (library,) = host.libraries({"db": str(tmp_path / "none.sqlite"), "crate": str(tiny_folder)})
    pick = library.resolve("tiny 123")
    assert pick is not None and pick["title"] == "Tiny 2" and pick["bpm"] == 123.0
    assert {"path", "title", "artist", "bpm", "key", "why"} <= set(pick)
    # an analysed library
    shutil.copy(tiny_db, tmp_path / "lib.sqlite")
    (library,) = host.libraries({"db": str(tmp_path / "lib.sqlite")})
    pick = library.resolve("tiny 120.5")
    assert pick["title"] == "Tiny 1" and "phrase database" in pick["why"]
    assert library.resolve("zydeco polka") is None

    # target Serato: a LOAD carrying the pick puts it and the runners-up into a crate, off the render thread
    def load_with(folder: Path) -> list[str]:
        said: list[str] = []
        target = serato_plugin.SeratoTarget({})
        target.open(TargetContext(report=said.append, options={"extra": {"serato_folder": str(folder)}}))
        action = Action(ActionKind.LOAD, Deck.B, 4.0, params={"query": "tiny 120.5", "resolved": pick})
        assert target.render(action, HostState())  # the load press goes out whatever happens to the crate
        target.close()  # waits for the crate writer
        return said

    serato_dir = tmp_path / "_Serato_"
    serato_dir.mkdir()
    said = load_with(serato_dir)
    crate_paths = serato.track_paths((serato_dir / "Subcrates" / "copilot suggestions.crate").read_bytes())
    assert crate_paths[0] == serato.drive_relative(pick["path"])[1] and len(crate_paths) >= 2
    assert said == ["serato-dj-pro: 'Tiny 1' is first in the crate 'copilot suggestions': load it by hand"]
    (missing,) = load_with(tmp_path / "gone")
    assert "load 'Tiny 1' by hand" in missing and "no Serato library folder" in missing


def test_resolve_from_specs(tiny_db: Path, tmp_path: Path) -> None:  # noqa: F811
    shutil.copy(tiny_db, tmp_path / "lib.sqlite")
    with Store(tmp_path / "lib.sqlite") as store:
        planner = Planner(store)
        src = planner.resolve("Tiny 3@intro")
        assert src.track.title == "Tiny 3" and src.phrase_index == 0
        assert planner.resolve("Tiny 3").phrase_index == max(p.index for p in src.track.phrases)
        assert planner.resolve(f"{src.track.id}@1").phrase_index == 1
        with pytest.raises(UnknownSource, match="no analysed track matches"):
            planner.resolve("Unknown Artist")
        with pytest.raises(UnknownSource, match="has phrases 0"):
            planner.resolve("Tiny 3@99")
