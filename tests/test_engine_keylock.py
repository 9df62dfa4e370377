"""Key-lock and key shift, judged from the rendered audio: the real session, scheduler, router and
dispatcher drive the standalone target on a manual clock, offline, into a WAV.

The test track is generated with known ground truth: a steady 440 Hz tone and a 2 ms click on every
beat of 120 BPM. Played at 128 BPM, key-lock keeps the tone at 440 Hz and puts every click on the
128 BPM grid; without it the deck is varispeed (469.3 Hz); a key shift of +1 gives 466.2 Hz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.host import TargetHost
from copilot.bridge.router import Router
from copilot.bridge.state import HostState
from copilot.engine.keylock import matching_shift, track_key
from copilot.intents.parser import parse
from copilot.intents.schema import Deck, IntentKind
from copilot.phrase_db.keys import Key
from copilot.plugins import midi_monitor, serato

from .test_engine_offline import SR, render, sample_of, session_for, submit, write_track

BPM_TRACK, BPM_SESSION = 120.0, 128.0
CLICKS = signal.butter(4, [2000, 10000], "bandpass", fs=SR, output="sos")


def tone_track(seconds: float = 16.0, freq: float = 440.0) -> tuple[np.ndarray, np.ndarray]:
    """A 440 Hz tone with a click on every beat at 120 BPM; (audio, beat sample positions)."""
    n = int(seconds * SR)
    x = 0.2 * np.sin(2 * np.pi * freq * np.arange(n) / SR)
    click = 0.4 * np.random.default_rng(1).standard_normal(96) * np.hanning(96)
    beats = np.arange(0.0, seconds - 0.2, 60.0 / BPM_TRACK) * SR
    for b in beats.astype(int):
        x[b:b + click.size] += click
    return np.stack([x, x], axis=1), beats


def pitch(x: np.ndarray) -> float:
    """Frequency of the strongest partial between 300 and 700 Hz (windowed FFT, interpolated peak)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), 1 << 22))
    freqs = np.fft.rfftfreq(1 << 22, 1 / SR)
    lo = np.searchsorted(freqs, 300.0)
    k = lo + int(np.argmax(spectrum[lo:np.searchsorted(freqs, 700.0)]))
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return float((k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / (1 << 22))


def cents(f: float, ref: float) -> float:
    return float(1200 * np.log2(f / ref))


def click_onsets(x: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Where each click starts (samples), near each expected position: its 2-10 kHz envelope crossing half
    its peak."""
    env = np.abs(signal.hilbert(signal.sosfiltfilt(CLICKS, x)))
    out = []
    for e in expected:
        seg = env[int(e) - SR // 50:int(e) + SR // 50]
        out.append(int(e) - SR // 50 + int(np.argmax(seg > 0.5 * seg.max())))
    return np.array(out, float)


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("keylock") / "crate"
    folder.mkdir()
    audio, beats = tone_track()
    write_track(folder, "tone", audio, bpm=BPM_TRACK)
    (folder / "tone.json").write_text('{"title": "tone", "bpm": 120.0, "beats": [0.0], "key": "A major (11B)"}')
    # the click detector's own offset on the original, to judge the stretch and not the detector
    bias = float(np.median(click_onsets(audio[:, 0], beats[1:]) - beats[1:]))
    return folder, np.array([bias])


def play_at_128(tmp_path: Path, crate: Path, *intents: tuple[IntentKind, dict]) -> tuple[np.ndarray, object]:
    (tmp_path / "crate").symlink_to(crate)
    session, _ = session_for(tmp_path, BPM_SESSION)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="tone")
    for kind, args in intents:
        submit(session, kind, Deck.A, **args)
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    out = render(session, 12.0)[:, 0]
    return out, session


def steady(out: np.ndarray, session: object) -> np.ndarray:
    start = int(sample_of(session, 4.0)) + SR  # a second after PLAY: past any cross-fade
    return out[start:start + 4 * SR]


def test_key_lock_keeps_the_pitch_and_puts_every_beat_on_the_faster_grid(tmp_path: Path, track) -> None:
    crate, (bias,) = track
    out, session = play_at_128(tmp_path, crate)
    assert abs(cents(pitch(steady(out, session)), 440.0)) <= 5.0
    expected = np.array([sample_of(session, 4.0 + k) for k in range(1, 20)])
    late = (click_onsets(out, expected) - expected - bias) / SR * 1000.0
    assert np.max(np.abs(late)) <= 2.0, late  # ms off the 128 BPM grid
    stats = session.targets[0].engine.stats()
    assert stats["varispeed_runs"] == 0  # offline the stretch is ready before the deck plays
    assert session.targets[0].engine.deck_state(0)["stretched"]


def test_without_key_lock_the_deck_is_varispeed(tmp_path: Path, track) -> None:
    crate, _ = track
    out, session = play_at_128(tmp_path, crate, (IntentKind.KEYLOCK, {"on": False}))
    assert abs(cents(pitch(steady(out, session)), 440.0 * BPM_SESSION / BPM_TRACK)) <= 1.0  # 469.3 Hz
    assert not session.targets[0].engine.deck_state(0)["stretched"]


def test_key_shift_up_one_semitone(tmp_path: Path, track) -> None:
    crate, (bias,) = track
    out, session = play_at_128(tmp_path, crate, (IntentKind.KEY, {"delta": 1}))
    assert abs(cents(pitch(steady(out, session)), 440.0 * 2 ** (1 / 12))) <= 5.0  # 466.2 Hz
    expected = np.array([sample_of(session, 4.0 + k) for k in range(1, 20)])
    late = (click_onsets(out, expected) - expected - bias) / SR * 1000.0
    assert np.max(np.abs(late)) <= 2.0, late
    assert session.targets[0].health()["decks"]["A"]["key_shift"] == 1.0



def test_an_offline_stretch_done_before_is_reused_sample_for_sample(tmp_path: Path, track) -> None:
    """A rehearsal renders each candidate three times (the mix, each deck alone) and a pair again for each
    template: the same track at the same tempo and shift is stretched once per process, and the render is
    the same as if it had been stretched afresh."""
    crate, _ = track
    renders, work = [], []
    for take in range(2):
        folder = tmp_path / f"take-{take}"
        folder.mkdir()
        out, session = play_at_128(folder, crate, (IntentKind.KEY, {"delta": 2}))
        renders.append(out)
        work.append(sum(job.seconds for job in session.targets[0].keylock._cache.values()))
    assert work[0] > 0.05 and work[1] == 0.0, work  # Rubber Band ran the first time only
    assert np.array_equal(renders[0], renders[1])
    assert np.abs(steady(renders[1], session)).max() > 0.05


def test_the_deck_plays_varispeed_until_its_stretch_is_ready_then_cross_fades(tmp_path: Path, track) -> None:
    """Live the stretch renders on a worker: the kernel switches only where the stretch holds audio."""
    from copilot.engine.engine import Engine
    from copilot.engine.files import Track
    from copilot.engine.stretch import StretchJob, StretchKey

    crate, _ = track
    audio, _ = tone_track(8.0)
    eng = Engine()
    eng.set_clock_map(0, 0.0, BPM_SESSION / 60.0 / SR)
    eng.load(0, Track(crate / "tone.wav", audio.astype(np.float32), SR, BPM_TRACK))
    eng.control("crossfader", 0.0)
    job = StretchJob(eng, StretchKey.of("tone", BPM_TRACK / BPM_SESSION, 0.0), audio.astype(np.float32))
    eng.stretch(0, job.slot, job.key.ratio)
    eng.play(0)
    before = np.concatenate([eng.render(256).copy() for _ in range(2 * SR // 256)]).reshape(-1, 2)
    assert eng.stats()["varispeed_runs"] > 0 and not eng.deck_state(0)["stretched"]
    job.run()
    after = np.concatenate([eng.render(256).copy() for _ in range(2 * SR // 256)]).reshape(-1, 2)
    assert eng.deck_state(0)["stretched"]
    assert abs(cents(pitch(before[SR // 2:, 0]), 469.333)) <= 2.0
    assert abs(cents(pitch(after[SR // 2:, 0]), 440.0)) <= 5.0
    # the switch is a cross-fade: no step larger than the tone's own
    joined = np.concatenate([before[:, 0], after[:, 0]])
    step = np.max(np.abs(np.diff(joined[before.shape[0] - 2048:before.shape[0] + 4096])))
    assert step < 1.2 * np.max(np.abs(np.diff(before[SR // 2:, 0])))


def test_match_key_uses_the_tracks_keys() -> None:
    a_minor, e_minor = Key.parse("A minor"), Key.parse("E minor")
    assert matching_shift(e_minor, a_minor) == 5  # E minor up 5 = A minor
    assert matching_shift(Key.parse("C major"), a_minor) == 0  # relative keys: already one step apart
    assert track_key(type("T", (), {"key": None, "meta": {"key": {"name": "F minor", "camelot": "4A"}}})()) == \
        Key.parse("F minor")
    assert track_key(type("T", (), {"key": "A minor (8A)", "meta": {}})()) == a_minor


def test_the_performers_words_reach_the_engine() -> None:
    for text, kind, deck, args in (
        ("key lock on A", IntentKind.KEYLOCK, Deck.A, {"on": True}),
        ("key lock off B", IntentKind.KEYLOCK, Deck.B, {"on": False}),
        ("key B up one", IntentKind.KEY, Deck.B, {"delta": 1}),
        ("key down 2 on A", IntentKind.KEY, Deck.A, {"delta": -2}),
        ("match key to A", IntentKind.KEY, None, {"match": "A"}),
        ("reset key on B", IntentKind.KEY, Deck.B, {"semitones": 0}),
    ):
        result = parse(text)
        assert result.intent is not None, (text, result.reason)
        assert (result.intent.kind, result.intent.deck, dict(result.intent.args)) == (kind, deck, args)


def test_a_host_that_cannot_stretch_is_told_so() -> None:
    reports: list[str] = []
    host = TargetHost(plugins=[serato, midi_monitor], entry_points=False)
    clock = ManualClock(120.0)
    dispatcher = Dispatcher(clock)
    router = Router([host.get("serato-dj-pro")], dispatcher, HostState(), clock, reports.append)
    router.dispatch([Action(ActionKind.KEYLOCK, Deck.A, 4.0, params={"on": True})])
    assert dispatcher.pending() == 0
    assert reports == ["serato-dj-pro cannot take KEYLOCK; nothing was sent for it"]


def test_live_the_worker_renders_and_the_log_says_when_the_deck_is_varispeed(track) -> None:
    """Live: the stretch renders on the worker thread; a playing deck that waits for it is named in the
    log, and again once its stretch is in."""
    import time

    from copilot.engine.engine import Engine
    from copilot.engine.files import Track
    from copilot.engine.keylock import KeyLock

    crate, _ = track
    audio, _ = tone_track(8.0)
    clock = ManualClock(BPM_SESSION)
    eng = Engine()
    eng.set_clock_map(0, 0.0, BPM_SESSION / 60.0 / SR)
    eng.render(256)  # compiled (or loaded) before the worker starts, as the live target does
    said: list[str] = []
    keylock = KeyLock(eng, clock, said.append, live=True)
    try:
        tune = Track(crate / "tone.wav", audio.astype(np.float32), SR, BPM_TRACK, meta={"key": "A major (11B)"})
        eng.load(0, tune)
        keylock.loaded(0, tune)  # the worker starts now
        eng.play(0)
        eng.render(256)
        keylock.tick()  # the deck plays before its stretch is in: the log says so
        deadline = time.monotonic() + 30.0
        while len(said) < 2 and time.monotonic() < deadline:  # the feeder's rhythm: a block, a tick
            eng.render(256)
            clock.advance(256 / SR)
            keylock.tick()
            time.sleep(0.01)
        for _ in range(8):
            eng.render(256)
    finally:
        keylock.close()
    assert eng.deck_state(0)["stretched"]
    assert said[0] == "deck A plays varispeed: its key-lock stretch (128.0 BPM) is still rendering"
    assert said[1].startswith("deck A: key-lock stretch ready (128.0 BPM, ")
    assert keylock.status(0) == {"keylock": True, "key_shift": 0.0, "key": "11B"}


def test_an_offline_stretch_of_the_span_ahead_is_the_same_span_of_the_whole_stretch() -> None:
    """Offline a stretch renders only as far as its deck will read and goes on from there with the same
    stretcher: the frames it holds are those of the whole track stretched in one go, sample for sample,
    and going on to the end gives the whole stretch."""
    from copilot.engine.engine import Engine
    from copilot.engine.stretch import StretchJob, StretchKey

    audio, _ = tone_track(8.0)
    audio = audio.astype(np.float32)
    key = StretchKey.of("tone", BPM_TRACK / BPM_SESSION, 2.0)
    whole = StretchJob(Engine(), key, audio).run()
    part = StretchJob(Engine(), key, audio).run(until=2 * SR)
    assert 2 * SR <= part.hi < 3 * SR and not part.finished  # about two seconds, not eight
    assert np.array_equal(part.buf[:part.hi], whole.buf[:part.hi])
    assert not part.buf[part.hi:].any()
    part.run(until=5 * SR)
    assert np.array_equal(part.buf[:part.hi], whole.buf[:part.hi])
    part.run()
    assert part.finished and np.array_equal(part.buf, whole.buf)


def test_an_offline_render_stretches_only_what_its_decks_play_and_sounds_the_same(tmp_path: Path, track,
                                                                                   monkeypatch) -> None:
    """The session's offline render with the stretch following the play head (a couple of seconds ahead)
    is the render with the whole track stretched first, sample for sample, for less Rubber Band."""
    from copilot.engine import keylock, stretch

    crate, _ = track
    renders, held = [], []
    for ahead in (None, keylock.OFFLINE_AHEAD):
        monkeypatch.setattr(keylock, "OFFLINE_AHEAD", ahead)
        stretch._FINISHED.clear()  # nothing taken over from the other take
        folder = tmp_path / f"ahead-{ahead}"
        folder.mkdir()
        (folder / "crate").symlink_to(crate)
        session, _ = session_for(folder, BPM_SESSION)
        session.start()
        submit(session, IntentKind.LOAD, Deck.A, query="tone")
        submit(session, IntentKind.KEY, Deck.A, delta=2)
        submit(session, IntentKind.PLAY, Deck.A, at=4.0)
        renders.append(render(session, 6.0)[:, 0])
        (job,) = session.targets[0].keylock._cache.values()
        held.append((job.hi, job.size))
    assert np.array_equal(renders[0], renders[1]) and np.abs(renders[1]).max() > 0.05
    (whole, size), (ahead, _) = held
    assert whole == size and ahead < 0.6 * size  # 6 s rendered of a 16 s track: the stretch stopped near there


def test_a_later_render_takes_over_the_partial_stretch_and_its_stretcher() -> None:
    """A second render of the same audio, ratio, shift and start (the rehearsal's next candidate) starts
    from what the first left and goes on with its stretcher: the samples of one run to the end. The first
    job, its stretcher gone, renders no more (and does not hang)."""
    from copilot.engine import stretch
    from copilot.engine.engine import Engine
    from copilot.engine.stretch import StretchJob, StretchKey

    audio, _ = tone_track(6.0)
    audio = audio.astype(np.float32)
    key = StretchKey.of("tone", BPM_TRACK / BPM_SESSION, -1.0)
    whole = StretchJob(Engine(), key, audio).run()
    stretch._FINISHED.clear()
    source = ("tone-audio", 1, 2)
    first = StretchJob(Engine(), key, audio).run(source, until=SR)
    later = StretchJob(Engine(), key, audio).run(source, until=SR // 2)
    assert later.hi == first.hi and later.seconds == 0.0  # taken over: nothing rendered again
    assert first.run(source, until=3 * SR).hi == later.hi  # robbed of its stretcher: it stops
    later.run(source)
    assert later.finished and np.array_equal(later.buf, whole.buf)
