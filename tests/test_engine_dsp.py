"""The engine's DSP, measured on its real kernel: EQ kill, filter sweep, crossfader law, true-peak
limiter, and that no NaN or Inf ever reaches the output."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.layout import F_STAGES, G_CROSSFADER, L_FILTER, TP_ALWAYS, lane
from copilot.engine.state import EngineSettings, MasterSettings

SR = 48000
BPM = 120.0


def engine_with(*decks: np.ndarray, **settings) -> Engine:
    """An engine with these (frames, 2) signals loaded on decks A, B…, all playing now. The master chain
    is bypassed unless asked for: these tests measure the stages before it (test_engine_master.py has it)."""
    settings.setdefault("master", MasterSettings(enabled=False))
    eng = Engine(EngineSettings(samplerate=SR, decks=max(2, len(decks)), **settings))
    eng.set_clock_map(0, 0.0, BPM / 60.0 / SR)
    for d, audio in enumerate(decks):
        eng.load(d, Track(Path(f"deck{d}"), np.ascontiguousarray(audio, np.float32), SR, BPM, 0.0))
        eng.play(d)
    return eng


def render(eng: Engine, seconds: float, block: int = 256) -> np.ndarray:
    n = int(seconds * SR) // block
    return np.concatenate([eng.render(block).copy() for _ in range(n)]).reshape(-1, 2)


def sine(freq: float, seconds: float = 4.0, amp: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([x, x], axis=1)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def db(ratio: float) -> float:
    return 20 * math.log10(max(ratio, 1e-300))


@pytest.mark.parametrize(("band", "freq"), [("eq_low", 60.0), ("eq_mid", 790.0), ("eq_high", 10000.0)])
def test_eq_kill_is_at_least_40_db_in_its_band(band: str, freq: float) -> None:
    levels = {}
    for value in (0.5, 0.0):
        eng = engine_with(sine(freq))
        eng.control("crossfader", 0.0)
        eng.control(band, value, 0)
        out = render(eng, 1.5)
        levels[value] = rms(out[SR // 2:, 0])
    assert levels[0.5] == pytest.approx(0.25 / math.sqrt(2), rel=0.02)  # unity passes the tone
    assert db(levels[0.0] / levels[0.5]) <= -40.0


def test_eq_at_unity_is_flat_across_the_bands() -> None:
    for freq in (40.0, 250.0, 790.0, 2500.0, 12000.0):
        eng = engine_with(sine(freq))
        eng.control("crossfader", 0.0)
        out = render(eng, 1.0)
        assert abs(db(rms(out[SR // 2:, 0]) / rms(sine(freq)[:, 0]))) < 0.1, freq


def noise(seconds: float = 6.0, amp: float = 0.1) -> np.ndarray:
    return np.random.default_rng(7).standard_normal((int(seconds * SR), 2)) * amp


def pink(seconds: float = 6.0, amp: float = 0.1) -> np.ndarray:
    """Equal energy per octave, like music: every step of a sweep removes a similar share."""
    white = np.random.default_rng(11).standard_normal((int(seconds * SR), 2))
    spectrum = np.fft.rfft(white, axis=0)
    f = np.fft.rfftfreq(white.shape[0], 1 / SR)
    spectrum[1:] /= np.sqrt(f[1:, None])
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n=white.shape[0], axis=0)
    return amp * x / x.std()


def multitone(seconds: float = 1.0, amp: float = 0.05) -> np.ndarray:
    """Thirty log-spaced tones, 30 Hz to 16 kHz: pink-like, and its level is exactly repeatable."""
    t = np.arange(int(seconds * SR)) / SR
    freqs = np.geomspace(30.0, 16000.0, 30)
    phases = np.random.default_rng(5).uniform(0, 2 * np.pi, freqs.size)
    x = amp * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]).sum(axis=0)
    return np.stack([x, x], axis=1)


@pytest.mark.parametrize("direction", ["down", "up"])
def test_filter_sweep_is_monotonic(direction: str) -> None:
    tones = multitone()
    levels = []
    for v in np.linspace(0.5, 0.0 if direction == "down" else 1.0, 11):
        eng = engine_with(tones)
        eng.control("crossfader", 0.0)
        eng.control("filter", float(v), 0)
        out = render(eng, 0.6)
        levels.append(rms(out[SR // 4:, 0]))
    assert all(b < a for a, b in itertools.pairwise(levels)), levels
    assert db(levels[-1] / levels[0]) < -5.0  # closed keeps only the few tones beyond its edge


def test_crossfader_is_equal_power_with_minus_3_db_at_centre() -> None:
    tone = sine(1000.0)
    levels = {}
    for x in (0.0, 0.25, 0.5, 0.75, 1.0):
        a = engine_with(tone, np.zeros_like(tone))
        b = engine_with(np.zeros_like(tone), tone)
        for eng in (a, b):
            eng.control("crossfader", x)
        levels[x] = (rms(render(a, 0.5)[SR // 4:, 0]), rms(render(b, 0.5)[SR // 4:, 0]))
    full = levels[0.0][0]
    assert abs(db(levels[0.5][0] / full) - (-3.01)) < 0.05
    assert abs(db(levels[0.5][1] / full) - (-3.01)) < 0.05
    assert levels[1.0][0] < full * 1e-3 and levels[0.0][1] < full * 1e-3
    for x, (la, lb) in levels.items():  # equal power everywhere, not only at the centre
        assert abs(db(math.sqrt(la**2 + lb**2) / full)) < 0.05, x


def true_peak(x: np.ndarray) -> float:
    """4x oversampled peak, as a meter measures dBTP."""
    return max(float(np.max(np.abs(signal.resample_poly(x[:, c].astype(np.float64), 4, 1)))) for c in range(2))


def test_limiter_holds_minus_1_dbtp_on_hot_material() -> None:
    rng = np.random.default_rng(3)
    n = 8 * SR
    t = np.arange(n) / SR
    # +20 dB hot: a square-ish bass, a high sine near fs/4 (inter-sample overs), bursts of noise
    hot = (3.0 * np.sign(np.sin(2 * np.pi * 55 * t)) + 4.0 * np.sin(2 * np.pi * 11025.7 * t + 0.3)
           + 2.0 * rng.standard_normal(n) * (np.sin(2 * np.pi * 0.5 * t) > 0))
    left = hot
    right = np.roll(hot, 17) * -1
    eng = engine_with(np.stack([left, right], axis=1), np.stack([right, left], axis=1))
    eng.control("trim", 0.75, 0)
    eng.control("trim", 0.75, 1)
    out = render(eng, 7.5)
    assert np.isfinite(out).all()
    tp_db = db(true_peak(out))
    assert tp_db <= -1.0, tp_db
    assert tp_db > -3.0  # it limits; it does not just turn everything down
    assert db(rms(out)) > -12.0


def test_the_true_peak_skip_changes_nothing_and_holds_minus_1_dbtp() -> None:
    """The limiter skips its 4x interpolation where no inter-sample peak can reach the ceiling.
    Material that swings between quiet passages and +20 dB overs must come out the same, sample for
    sample, as with the interpolation forced on everywhere, and never pass −1 dBTP."""
    rng = np.random.default_rng(9)
    t = np.arange(6 * SR) / SR
    hot = 4.0 * np.sin(2 * np.pi * 11025.7 * t + 0.3) + 2.0 * rng.standard_normal(t.size)
    quiet = 0.05 * np.sin(2 * np.pi * 440.0 * t) + 0.02 * rng.standard_normal(t.size)
    loud = (np.sin(2 * np.pi * 0.75 * t) > 0.3)  # loud about a third of the time, in 0.5 s bursts
    x = np.where(loud, hot, quiet)
    audio = np.stack([x, -np.roll(x, 5)], axis=1)
    outs, stats = [], []
    for stages in (0, TP_ALWAYS):
        eng = engine_with(audio)
        eng.control("crossfader", 0.0)
        eng.state["settings"][F_STAGES] = stages
        outs.append(render(eng, 5.5, block=64))
        stats.append(eng.stats())
    skipped, forced = stats
    assert forced["true_peak_runs"] == forced["subblocks"]
    assert 0.2 * skipped["subblocks"] < skipped["true_peak_runs"] < 0.8 * skipped["subblocks"]
    assert np.max(np.abs(outs[0] - outs[1])) <= 1e-7
    assert db(true_peak(outs[0])) <= -1.0


def test_tremolo_follows_its_law_on_the_beat() -> None:
    """m(b) = 1 − depth·(0.5 − 0.5·cos 4πb): two dips per beat (the kernel steps the cosine by a
    recurrence restarted every sub-block; this checks it against the formula on a DC input)."""
    dc = np.full((3 * SR, 2), 0.25)
    eng = engine_with(dc)
    eng.control("crossfader", 0.0)
    eng.control("tremolo", 0.6, 0)
    out = render(eng, 2.5, block=64)[:, 0]
    n = np.arange(out.size)
    beat = (n - eng.latency_samples) * BPM / 60.0 / SR  # the limiter's look-ahead delays the output
    expected = 0.25 * (1.0 - 0.6 * (0.5 - 0.5 * np.cos(4 * np.pi * beat)))
    settled = slice(SR // 2, None)  # after the control's ramp
    # measured 7e-6 (the master low-pass delays the 4 Hz wobble by ~half a sample); one sample off
    # the beat grid would read 3e-5
    assert np.max(np.abs(out[settled] - expected[settled])) < 1.5e-5


def test_eq_kill_on_a_third_deck_pairs_with_an_empty_lane() -> None:
    """Decks are equalised two at a time; with three decks, C's partner lanes run on silence."""
    levels = {}
    for value in (0.5, 0.0):
        tone = sine(790.0)
        eng = Engine(EngineSettings(samplerate=SR, decks=3))
        eng.set_clock_map(0, 0.0, BPM / 60.0 / SR)
        eng.load(2, Track(Path("deckC"), tone.astype(np.float32), SR, BPM, 0.0))
        eng.play(2)
        eng.control("eq_mid", value, 2)
        levels[value] = rms(render(eng, 1.5)[SR // 2:, 0])
    assert levels[0.5] == pytest.approx(0.25 / math.sqrt(2), rel=0.02)
    assert db(levels[0.0] / levels[0.5]) <= -40.0


def test_nan_parameters_and_nan_audio_never_reach_the_output() -> None:
    bad = sine(300.0)
    bad[1000:1100] = np.nan
    bad[5000] = np.inf
    eng = engine_with(bad, noise())
    for name in ("filter", "eq_low", "eq_mid", "volume", "trim", "fx_send", "pan", "tremolo"):
        eng.control(name, float("nan"), 0)
        eng.control(name, float("inf"), 1)
    eng.control("crossfader", float("nan"))
    eng.envelope("filter", [(0.5, float("nan")), (1.0, 0.2), (float("nan"), 0.3), (2.0, float("inf"))], 0)
    eng.fx(0, "echo", float("nan"))
    eng.loop(1, float("nan"))
    out = render(eng, 3.0)
    assert np.isfinite(out).all()
    assert rms(out[SR:]) > 1e-3  # and the music goes on
    lanes = eng.state["lane_val"]
    assert np.isfinite(lanes).all()
    assert lanes[lane("filter", 0)] == 1.0  # an infinite corner is held to the cap, never passed on
    assert lanes[G_CROSSFADER] == pytest.approx(0.5)  # NaN → the parameter's neutral value


def test_panic_puts_filters_and_fx_to_neutral_within_one_block() -> None:
    eng = engine_with(noise())
    eng.control("filter", 0.1, 0)
    eng.control("fx_send", 0.8, 0)
    eng.fx(0, "reverb", 1.0)
    render(eng, 1.0)
    assert eng.state["lane_val"][L_FILTER] == pytest.approx(0.1)
    eng.panic()
    eng.render(64)
    lanes = eng.state["lane_val"]
    assert lanes[lane("filter", 0)] == 0.5
    assert lanes[lane("fx_send", 0)] == 0.0
    assert lanes[lane("fx_depth", 0)] == 0.0
    assert not eng.state["echo"].any() and not eng.state["reverb"].any()  # tails cleared too
    assert eng.stats()["panics"] == 1


def test_silence_decays_to_exact_zero_not_subnormals() -> None:
    eng = engine_with(sine(50.0, seconds=1.0))
    eng.fx(0, "echo", 1.0)
    render(eng, 6.0)
    dsp = eng.state["dsp"]
    tiny = dsp[(dsp != 0) & (np.abs(dsp) < 1e-30)]
    assert tiny.size == 0
    echo = eng.state["echo"]
    assert not np.any((echo != 0) & (np.abs(echo) < np.finfo(np.float32).tiny))


@pytest.mark.parametrize("beat", [2.0, 2.5, 3.3])
def test_a_command_takes_effect_on_the_first_sample_at_or_after_its_beat(beat: float) -> None:
    eng = engine_with()
    spb = SR * 60.0 / BPM
    eng.mark(7, beat)
    render(eng, 1.0, block=64)
    assert eng.stats()["last_mark"] == 0  # not yet: its beat is still ahead
    render(eng, 1.0, block=64)
    stats = eng.stats()
    assert stats["last_mark"] == 7
    assert stats["mark_sample"] == stats["applied_sample"] == math.ceil(beat * spb - 1e-9)
    eng.control("volume", 0.3, 0, beat + 3.0)  # a ramp starts on its beat's sample too
    render(eng, 1.0, block=64)
    assert eng.stats()["applied_sample"] == math.ceil((beat + 3.0) * spb - 1e-9)
