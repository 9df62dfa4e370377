"""The critic's faster arithmetic gives the numbers of the plain one: Welch spectra in one FFT call
against `scipy.signal.welch`, windowed means hop by hop against a running sum over every sample, the
short-term loudness with each channel filtered contiguously against the frames × channels filter, and
the true peak oversampled only near the ceiling against the whole signal oversampled."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from copilot.phrase_db.loudness import k_weighting
from copilot.rehearsal import critic

SR = 48000


def noise(seconds: float, seed: int = 1, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((round(seconds * SR), channels)) * 0.1


@pytest.mark.parametrize("n", [300, 4095, 4096, 4097, 48000 * 3 + 17])
def test_welch_in_one_fft_call_is_scipys_welch(n: int) -> None:
    x = critic.mono(noise(n / SR + 0.001)[:n])
    f, p = critic.welch(x, SR)
    f0, p0 = signal.welch(x, SR, nperseg=min(4096, n))
    assert np.array_equal(f, f0)
    np.testing.assert_allclose(p, p0, rtol=1e-9, atol=1e-20)


@pytest.mark.parametrize(("w", "h"), [(240, 120), (2400, 480), (1000, 300)])
def test_window_means_are_the_running_sum_s(w: int, h: int) -> None:
    power = noise(2.0, seed=w)[:, 0] ** 2
    c = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, len(power) - w + 1, h)
    np.testing.assert_allclose(critic.window_means(power, w, h), (c[starts + w] - c[starts]) / w, rtol=1e-9)


def test_short_term_loudness_is_the_frames_by_channels_filter_s() -> None:
    x = noise(9.0, seed=3) * np.linspace(0.2, 1.0, round(9.0 * SR))[:, None]
    filtered = signal.sosfilt(k_weighting(SR), x, axis=0)
    power = (filtered**2).sum(axis=1)
    w, h = 3 * SR, SR // 10
    c = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, len(power) - w + 1, h)
    old = -0.691 + 10 * np.log10((c[starts + w] - c[starts]) / w + 1e-12)
    times, lufs = critic.short_term_loudness(x, SR)
    np.testing.assert_allclose(times, (starts + w / 2) / SR)
    np.testing.assert_allclose(lufs, old, atol=1e-9)


def test_short_term_loudness_of_float32_is_the_contiguous_float64_channels_s_to_the_last_bit() -> None:
    """The engine's float32 render handed to the filter as is (its own float64 copy is the only one):
    the same bits as each channel first made contiguous float64 (the fourth pass's way)."""
    x = (noise(7.0, seed=5) * np.linspace(1.0, 0.3, round(7.0 * SR))[:, None]).astype(np.float32)
    filtered = signal.sosfilt(k_weighting(SR), np.ascontiguousarray(x.T, np.float64), axis=-1)
    filtered *= filtered
    ms = critic.window_means(filtered.sum(axis=0), 3 * SR, SR // 10)
    _, lufs = critic.short_term_loudness(x, SR)
    assert np.array_equal(lufs, -0.691 + 10 * np.log10(ms + 1e-12))
    assert np.array_equal(critic.short_term_loudness(x[:, 0], SR)[1],
                          critic.short_term_loudness(np.ascontiguousarray(x[:, :1]), SR)[1])


def test_mono_is_the_channels_mean_to_the_last_bit() -> None:
    x = noise(1.0, seed=9).astype(np.float32)
    assert np.array_equal(critic.mono(x), x.astype(np.float64).mean(axis=1))
    three = noise(1.0, seed=9, channels=3)
    np.testing.assert_allclose(critic.mono(three), three.mean(axis=1), rtol=1e-12, atol=1e-15)


def hot_mix() -> np.ndarray:
    """Quiet noise with loud bursts here and there — some pushed over the ceiling, one a single sample
    right at a block's edge — so most blocks are skipped and the overs sit at their borders."""
    x = noise(6.0, seed=7) * 0.05
    t = np.arange(2400) / SR
    for at, level in ((0.5, 0.95), (1.7, 1.2), (3.1, 0.7), (4.4, 1.4)):
        i = round(at * SR)
        x[i:i + len(t)] += level * np.sin(2 * np.pi * 3001 * t + at)[:, None]
    x[critic.OVERS_BLOCK * 300] = 1.3  # a lone sample over the ceiling on a block line
    return x.astype(np.float32)


def test_the_true_peak_oversampled_near_the_ceiling_counts_what_the_whole_signal_oversampled_does() -> None:
    mix = hot_mix()
    ctx = critic.Context(samplerate=SR, tempo=120.0, start=1.0, end=5.0)
    m = critic.overs(mix, ctx)
    up = signal.resample_poly(mix, 4, 1, axis=0)
    peak = np.abs(up).max(axis=1)
    ceiling = 10 ** (ctx.ceiling_dbtp / 20)
    assert m.value is not None and m.value > 0
    assert m.value == pytest.approx((peak > ceiling).sum() / (4 * SR) * 1000, abs=1e-9)
    assert m.detail["true_peak_dbtp"] == pytest.approx(20 * np.log10(peak.max()), abs=1e-4)


def overs_span_by_span(mix: np.ndarray, ctx: critic.Context) -> tuple[int, float]:
    """The fifth pass's true peak, kept to compare: each run of near blocks oversampled in a call of its
    own, with 64 samples of context either side. Oversampled frames over the ceiling, and the top peak."""
    x = np.asarray(mix, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    ceiling = 10 ** (ctx.ceiling_dbtp / 20)
    sample_peak = critic._peak_per_frame(x)
    over, top = 0, float(sample_peak.max())
    near = ceiling * 10 ** (-critic.TRUE_PEAK_BOUND_DB / 20)
    blocks = np.maximum.reduceat(sample_peak, np.arange(0, len(x), critic.OVERS_BLOCK))
    for first, last in critic._runs(np.flatnonzero(blocks > near)):
        i = max(0, first * critic.OVERS_BLOCK - critic.OVERS_EDGE)
        end = min(len(x), (last + 1) * critic.OVERS_BLOCK + critic.OVERS_EDGE)
        lo = max(0, i - 64)
        up = signal.resample_poly(x[lo:end + 64], 4, 1, axis=0, window=critic._oversampler(x.dtype.str))
        peak = critic._peak_per_frame(up[4 * (i - lo): 4 * (end - lo)])
        over += int((peak > ceiling).sum())
        top = max(top, float(peak.max()))
    return over, top


def edged(x: np.ndarray) -> np.ndarray:
    """`x` with overs in its first and last blocks too: the spans that meet the signal's ends."""
    x = x.copy()
    x[3] = 1.25
    x[-2] = -1.3
    return x


@pytest.mark.parametrize("mix", [hot_mix(), edged(hot_mix()), edged(hot_mix())[:-5, 0], hot_mix()[:, :1] * 0.5,
                                 np.zeros((9000, 2), np.float32)], ids=["bursts", "ends", "mono", "quiet", "silence"])
def test_the_true_peak_in_one_call_is_the_span_by_span_one_to_the_last_bit(mix: np.ndarray) -> None:
    """Every near span oversampled in one joined call: the same frames over the ceiling and the same top
    peak, bit for bit, as each span in a call of its own (spans at the signal's ends included)."""
    ctx = critic.Context(samplerate=SR, tempo=120.0, start=1.0, end=5.0)
    over, top = overs_span_by_span(mix, ctx)
    m = critic.overs(mix, ctx)
    assert m.value == float(over / (4 * SR) * 1000)
    assert m.detail["true_peak_dbtp"] == (20 * np.log10(top) if top > 0 else -np.inf)
    assert (over > 0) == (mix.max() > 1.0)


def test_the_true_peak_of_each_span_alone_is_its_share_of_the_joined_call() -> None:
    """Each span's count and peak from the joined call, against its own call: the bits of every frame."""
    x = edged(hot_mix())
    spans = critic._near_spans(critic._peak_per_frame(x), 10 ** (-7 / 20))
    assert spans[0][0] == 0 and spans[-1][1] == len(x) and len(spans) >= 5
    peak, bounds = critic._true_peaks(x, spans)
    for k, (i, end) in enumerate(spans):
        lo = max(0, i - 64)
        up = signal.resample_poly(x[lo:end + 64], 4, 1, axis=0, window=critic._oversampler(x.dtype.str))
        alone = critic._peak_per_frame(up[4 * (i - lo): 4 * (end - lo)])
        assert np.array_equal(peak[bounds[2 * k]: bounds[2 * k + 1]], alone)


def test_the_spectra_alone_from_each_decks_mono_are_the_decks_own_to_the_last_bit() -> None:
    """`judge` takes each deck's mono once and hands its slices to the spectral balance: the same metric,
    bit for bit, as the decks' float32 slices handed in (each made mono there)."""
    out_deck, in_deck = (noise(6.0, seed=s).astype(np.float32) for s in (11, 12))
    mix = (out_deck + in_deck) * np.float32(0.5)
    ctx = critic.Context(samplerate=SR, tempo=120.0, start=1.5, end=4.5)
    judged = critic.judge(mix, ctx, out_deck, in_deck).metrics["spectral"]
    alone = critic.spectral_balance(mix, ctx, out_deck[: round(1.5 * SR)], in_deck[round(4.5 * SR):])
    assert judged.value is not None and judged == alone


def test_the_low_bands_squared_once_give_both_metrics_their_own_bits() -> None:
    """`judge` squares each deck's low band once for the kicks and the basslines: the same metrics, bit for
    bit, as each squaring the band itself."""
    t = np.arange(6 * SR) / SR
    kick = (np.sin(2 * np.pi * 55 * t) * (np.mod(t, 0.5) < 0.08))[:, None]
    out_deck = (np.repeat(kick, 2, axis=1) + noise(6.0, seed=21) * 0.01).astype(np.float32)
    in_deck = (np.roll(out_deck, 1200, axis=0) * 0.8).astype(np.float32)
    ctx = critic.Context(samplerate=SR, tempo=120.0, start=1.5, end=4.5)
    lows = (critic.low_band(out_deck, SR), critic.low_band(in_deck, SR))
    judged = critic.judge(out_deck + in_deck, ctx, out_deck, in_deck).metrics
    assert judged["on_grid"] == critic.on_grid(out_deck, in_deck, out_deck + in_deck, ctx, lows)
    assert judged["bass_clash"] == critic.bass_clash(out_deck, in_deck, ctx, lows)[0]
    assert judged["on_grid"].detail["kicks"] > 0 and judged["bass_clash"].value
