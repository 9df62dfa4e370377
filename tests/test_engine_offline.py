"""The engine driven by the real session and scheduler on a manual clock, rendered offline to a WAV:
actions land on the sample of their beat, loops are seamless and exactly N beats, bad files are
refused without touching the deck, and the autopilot plays a beat-matched two-deck mix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.engine.layout import D_ANCHOR_CB, D_ANCHOR_TB
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.plugins import autopilot as autopilot_plugin
from copilot.plugins import phrase_db as phrase_db_plugin
from copilot.plugins import standalone

SR = 48000


def write_track(folder: Path, name: str, audio: np.ndarray, bpm: float, first_beat: float = 0.0,
                sections: list[dict] | None = None) -> Path:
    path = folder / f"{name}.wav"
    sf.write(path, audio.astype(np.float32), SR, subtype="FLOAT")
    truth = {"title": name, "bpm": bpm, "beats": [first_beat], "duration": len(audio) / SR,
             "sections": sections or []}
    path.with_suffix(".json").write_text(json.dumps(truth))
    return path


def session_for(tmp_path: Path, tempo: float, autopilot: bool = False, **kw) -> tuple[Session, list[str]]:
    said: list[str] = []
    options = SessionOptions(target="standalone", link=False, tempo=tempo, osc=None, out=tmp_path / "mix.wav",
                             crate=tmp_path / "crate", log=tmp_path / "log.jsonl", db=tmp_path / "none.sqlite", **kw)
    host = TargetHost({"standalone": {"autopilot": autopilot}},
                      plugins=[standalone, autopilot_plugin, phrase_db_plugin], entry_points=False)
    return Session(options, Config(), host=host, report=said.append), said


def submit(session: Session, kind: IntentKind, deck: Deck | None = None, at: float | None = None, **args) -> None:
    decision = session.submit(Intent(kind, deck, args, at_beat=at))
    assert decision.verdict in (Verdict.SCHEDULED, Verdict.DONE, Verdict.AWAITING_CONFIRM), decision.reason


def render(session: Session, seconds: float) -> np.ndarray:
    target = session.targets[0]
    target.run_offline(session, seconds)
    audio, sr = sf.read(session.options.out, always_2d=True)
    assert sr == SR
    return audio


def sample_of(session: Session, beat: float) -> float:
    return (session.clock.time_at_beat(beat) - session.started_at) * SR


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    folder = tmp_path / "crate"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("tempo", [120.0, 123.0, 127.3])
def test_play_and_pause_land_on_the_sample_of_their_beat(tmp_path: Path, crate: Path, tempo: float) -> None:
    write_track(crate, "dc", np.full((SR * 20, 2), 0.25), bpm=tempo)
    session, _ = session_for(tmp_path, tempo)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="dc")
    submit(session, IntentKind.PLAY, Deck.A, at=8.0)
    submit(session, IntentKind.PAUSE, Deck.A, at=16.0)
    submit(session, IntentKind.CONFIRM)
    out = render(session, 16 * 60 / tempo + 1.0)[:, 0]
    first = int(np.flatnonzero(np.abs(out) > 1e-7)[0])
    assert abs(first - sample_of(session, 8.0)) <= 1.0
    middle = int(sample_of(session, 12.0))
    steady = out[middle]
    fade_start = middle + int(np.flatnonzero(np.abs(out[middle:] - steady) > 1e-4)[0])
    assert abs(fade_start - sample_of(session, 16.0)) <= 1.0  # the pause fade begins on its beat
    assert np.abs(out[int(sample_of(session, 16.0)) + SR // 4:]).max() < 1e-3  # silent once the EQ rings out



def test_a_render_into_memory_is_the_render_the_wav_holds(tmp_path: Path, crate: Path) -> None:
    """`out_memory` (the rehearsal sandbox's way: no file written and read back) is the same session and
    the same samples as `out=WAV`, up to the WAV's 24 bits."""
    write_track(crate, "tones", tones(12.0), bpm=120.0)
    renders = []
    for memory in (False, True):
        folder = tmp_path / f"memory-{memory}"
        folder.mkdir()
        (folder / "crate").symlink_to(crate)
        session, said = session_for(folder, 120.0)
        if memory:
            session.options.out, session.options.out_memory = None, True
        session.start()
        submit(session, IntentKind.LOAD, Deck.A, query="tones")
        submit(session, IntentKind.PLAY, Deck.A, at=4.0)
        target = session.targets[0]
        target.run_offline(session, 6.0)
        if memory:
            renders.append(target.rendered)
            assert not list(folder.glob("*.wav")) and any("to memory" in s for s in said), said
        else:
            renders.append(sf.read(session.options.out, always_2d=True, dtype="float32")[0])
            assert target.rendered is None
    wav, memory = renders
    assert memory.shape == wav.shape and np.abs(memory).max() > 0.05
    assert np.abs(memory - wav).max() <= 2.0 ** -23


def test_each_decks_tap_from_the_one_pass_adds_up_to_the_mix(tmp_path: Path, crate: Path) -> None:
    """`out_decks` (the rehearsal's "each deck alone" from the mix's own pass): with the master chain off
    and the levels under the ceiling, the limiter passes the bus through, delayed by its look-ahead, so the
    decks' taps, aligned with the output, add up to the mix sample for sample (up to the bus's fixed
    20 kHz low-pass, which the taps do not take: a few thousandths on these tones); each deck is heard
    only from its PLAY on."""
    t = np.arange(12 * SR) / SR
    hum = 0.2 * np.sin(2 * np.pi * 61.7 * t)
    write_track(crate, "tones", 0.25 * tones(12.0), bpm=120.0)
    write_track(crate, "hum", np.stack([hum, 0.5 * hum], axis=1), bpm=120.0)
    options = SessionOptions(target="standalone", link=False, tempo=120.0, osc=None, out_memory=True,
                             out_decks=True, crate=crate, log=tmp_path / "log.jsonl", db=tmp_path / "none.sqlite")
    host = TargetHost({"standalone": {"autopilot": False, "master": {"enabled": False}}},
                      plugins=[standalone, phrase_db_plugin], entry_points=False)
    session = Session(options, Config(), host=host, report=lambda _s: None)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="tones")
    submit(session, IntentKind.LOAD, Deck.B, query="hum")
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    submit(session, IntentKind.PLAY, Deck.B, at=8.0)
    target = session.targets[0]
    target.run_offline(session, 6.0)
    mix, decks = target.rendered, target.rendered_decks
    assert decks is not None and decks.shape == (2, *mix.shape)
    assert np.abs(mix).max() > 0.1 and np.abs(decks[1]).max() > 0.05
    assert np.abs(decks.sum(axis=0) - mix).max() < 3e-3
    a, b = (int(np.flatnonzero(np.abs(d[:, 0]) > 1e-6)[0]) for d in decks)
    assert abs(a - sample_of(session, 4.0)) <= 1.0 and abs(b - sample_of(session, 8.0)) <= 1.0


def tones(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 441.3 * t) + 0.2 * np.sin(2 * np.pi * 93.7 * t + 1.0)
    return np.stack([x, x], axis=1)


@pytest.mark.parametrize("beats", [1.0, 4.0, 0.25])
def test_loops_are_seamless_and_exactly_n_beats(tmp_path: Path, crate: Path, beats: float) -> None:
    tempo = 120.0  # 24000 samples per beat: the loop period must be an exact whole number of samples
    source = tones(30.0)
    write_track(crate, "tones", source, bpm=tempo)
    session, _ = session_for(tmp_path, tempo)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="tones")
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    submit(session, IntentKind.LOOP, Deck.A, at=8.0, beats=beats)
    out = render(session, 20.0)[:, 0]
    period = int(beats * 24000)
    looped = out[int(sample_of(session, 8.0)) + 2 * period + 1000:]
    assert np.max(np.abs(looped[period:] - looped[:-period])) < 1e-4  # exactly N beats, every time round
    own = np.max(np.abs(np.diff(source[:, 0])))
    assert np.max(np.abs(np.diff(looped))) <= own * 1.02  # no click at the wrap larger than the music's own


def test_a_corrupt_or_missing_file_is_refused_and_the_deck_plays_on(tmp_path: Path, crate: Path) -> None:
    write_track(crate, "good", tones(30.0), bpm=120.0)
    (crate / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    session, said = session_for(tmp_path, 120.0)
    session.start()
    target = session.targets[0]
    submit(session, IntentKind.LOAD, Deck.A, query="good")
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    submit(session, IntentKind.LOAD, Deck.B, query="broken")
    out = render(session, 6.0)
    assert any("not loaded" in m and "broken" in m for m in said), said
    assert target.engine.deck_state(0)["track"] == "good" and target.engine.deck_state(0)["playing"]
    assert not target.engine.deck_state(1)["loaded"]
    assert np.abs(out[int(sample_of(session, 5.0)):]).max() > 0.05  # deck A never stopped
    # a missing file, resolved by path, is refused the same way
    action = Action(ActionKind.LOAD, Deck.A, 40.0,
                    params={"query": "x", "resolved": {"path": str(tmp_path / "nope.flac")}})
    for item in target.render(action, session.state):
        target.send(item.payload)
    assert any("no such file" in m for m in said), said
    assert target.engine.deck_state(0)["track"] == "good"


def clicks(seconds: float, bpm: float, freq: float) -> np.ndarray:
    """A tone burst on every beat: a track whose beat positions are known exactly."""
    n = int(seconds * SR)
    x = np.zeros(n)
    burst = np.sin(2 * np.pi * freq * np.arange(2400) / SR) * np.hanning(2400)  # tonal: its own band only
    spb = SR * 60 / bpm
    k = 0
    while round(k * spb) + 2400 < n:
        x[round(k * spb):round(k * spb) + 2400] += 0.5 * burst
        k += 1
    return np.stack([x, x], axis=1)


def test_autopilot_plays_a_beat_matched_two_deck_mix(tmp_path: Path, crate: Path) -> None:
    sections = [{"label": "intro", "start_bar": 0, "bars": 8}, {"label": "main", "start_bar": 8, "bars": 8},
                {"label": "outro", "start_bar": 16, "bars": 16}]
    write_track(crate, "01 low", clicks(32 * 4 * 60 / 118.0 + 1, 118.0, 200.0), 118.0, sections=sections)
    write_track(crate, "02 high", clicks(32 * 4 * 60 / 126.0 + 1, 126.0, 1500.0), 126.0, sections=sections)
    tempo = 122.0
    session, said = session_for(tmp_path, tempo, autopilot=True)
    session.start()
    target = session.targets[0]
    target.run_offline(session, None)
    audio, _ = sf.read(session.options.out, always_2d=True)
    x = audio[:, 0]
    refused = [d for d in session.decisions if d.verdict is Verdict.REFUSED]
    assert not refused, [d.reason for d in refused]

    def band(segment: np.ndarray, f: float) -> float:
        spec = np.abs(np.fft.rfft(segment))
        freqs = np.fft.rfftfreq(segment.size, 1 / SR)
        return float(spec[(freqs > f * 0.8) & (freqs < f * 1.2)].sum())

    start = 8.0  # the autopilot starts deck A on the bar after next (beat 8 from a clock at beat 0)
    mix = start + 64  # deck A's outro (bar 16) is where B comes in; the fade lasts 16 bars
    early = x[int(sample_of(session, start + 8)):int(sample_of(session, start + 40))]
    late = x[int(sample_of(session, mix + 70)):int(sample_of(session, mix + 90))]
    assert band(early, 200) > 20 * band(early, 1500)  # A alone first
    assert band(late, 1500) > 20 * band(late, 200)  # B alone after the fade
    middle = x[int(sample_of(session, mix + 28)):int(sample_of(session, mix + 36))]
    assert band(middle, 200) > 0.05 * band(middle, 1500) and band(middle, 1500) > 0.05 * band(middle, 200)
    # both decks are locked to the clock's grid by varispeed (118 → 122 and 126 → 122): every track
    # beat falls on a clock beat, checked on the engine's own play heads...
    engine = target.engine
    for d in (0, 1):
        deck = engine.state["deck"].reshape(4, -1)[d]
        tb = deck[D_ANCHOR_TB] + (np.arange(200.0, 260.0, 7.3) - deck[D_ANCHOR_CB])
        clock_beats = np.arange(200.0, 260.0, 7.3)
        assert np.allclose((tb - clock_beats) % 1.0, 0.0, atol=1e-9) or np.allclose((tb - clock_beats) % 1.0, 1.0,
                                                                                       atol=1e-9)
    # ...and in the audio: B's bursts (centred 1200 track samples after each beat) sit on the grid
    rate = tempo / 126.0
    for beat in (mix + 40, mix + 60, mix + 70):
        n = round(sample_of(session, beat))
        seg = x[n - 600:n + 3000] ** 2
        centre = float((np.arange(seg.size) * seg).sum() / seg.sum()) - 600
        assert abs(centre - 1200 / rate) < 0.001 * SR, (beat, centre)
    assert any("autopilot" in m or "load" in m for m in said)


@pytest.mark.parametrize(("case", "mixes"),
                         [("nobody plays", True), ("a script plays", False), ("switched off", False)])
def test_the_autopilot_is_an_input_that_mixes_only_when_nobody_plays(tmp_path: Path, crate: Path, case: str,
                                                                     mixes: bool) -> None:
    write_track(crate, "tone", clicks(20.0, 120.0, 300.0), 120.0)
    script = tmp_path / "set.txt"
    script.write_text("0 tempo 120\n")
    kw = {"script": script} if case == "a script plays" else {}
    session, _ = session_for(tmp_path, 120.0, autopilot=case != "switched off", **kw)
    session.start()
    assert [s.name for s in session.inputs] == (["autopilot"] if mixes else [])
    audio = render(session, 6.0)
    planned = [d for d in session.decisions if d.intent.source is Source.PLANNER]
    assert bool(planned) is mixes
    assert bool(np.abs(audio[4 * SR:]).max() > 0.01) is mixes  # deck A plays from beat 8 (4 s) only if it mixes


def test_a_playing_decks_position_follows_the_clock_and_its_length_is_known(tmp_path: Path, crate: Path) -> None:
    """What the stage view's deck card shows: the head of a moving deck (the kernel keeps an anchor, not a
    position) at the clock's beat, and the track's length in beats for the time left."""
    write_track(crate, "good", tones(30.0), bpm=120.0)
    session, _ = session_for(tmp_path, 120.0)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="good")
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    render(session, 6.0)
    beat = session.clock.beat
    deck = session.targets[0].engine.deck_state(0, beat)
    assert deck["playing"] and deck["position_beats"] == pytest.approx(beat - 4.0, abs=0.01)
    assert deck["length_beats"] == pytest.approx(60.0, abs=0.1)
    assert session.targets[0].engine.deck_state(0)["position_beats"] != pytest.approx(beat - 4.0, abs=0.5)
