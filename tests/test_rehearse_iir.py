"""The critic's fused filters (rehearsal/iir.py) are `scipy.signal.sosfilt` to the last bit: a stereo
deck's low band made from its mono on the fly, and the K-weighted power summed over the channels frame
by frame, against scipy's filter over the float64 mono or channels — for the float32 render and float64
input, stereo, mono and three channels, with a loud burst after silence (the state carried through)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from copilot.phrase_db.loudness import k_weighting
from copilot.rehearsal import critic, iir

SR = 48000


def deck(channels: int, dtype: type, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SR, channels)) * 0.2
    x[: SR // 4] = 0.0  # silence, then a burst: zeros through the state, then everything at once
    x[SR // 2: SR // 2 + 480] *= 5.0
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_stereo_decks_low_band_is_sosfilt_of_its_mono_to_the_last_bit(dtype: type) -> None:
    x = deck(2, dtype)
    sos = signal.butter(4, critic.LOW_HZ, "low", fs=SR, output="sos")
    want = signal.sosfilt(sos, critic.mono(x))
    assert np.array_equal(iir.low_of_stereo(x, sos), want)
    assert np.array_equal(critic.low_band(x, SR), want)
    assert np.array_equal(critic.low_band(x[:, :1], SR), critic.lowpass(critic.mono(x[:, :1]), SR))  # not stereo


@pytest.mark.parametrize(("channels", "dtype"), [(2, np.float32), (2, np.float64), (1, np.float32), (3, np.float64)])
def test_the_k_weighted_power_is_sosfilt_squared_and_summed_to_the_last_bit(channels: int, dtype: type) -> None:
    x = deck(channels, dtype, seed=channels)
    filtered = signal.sosfilt(k_weighting(SR), np.ascontiguousarray(x.T, np.float64), axis=-1)
    filtered *= filtered
    assert np.array_equal(iir.filtered_power(x, k_weighting(SR)), filtered.sum(axis=0))


def test_short_term_loudness_of_int16_is_its_float64_s() -> None:
    x = (deck(2, np.float64, seed=8) * 8000).astype(np.int16)
    assert np.array_equal(critic.short_term_loudness(x, SR)[1], critic.short_term_loudness(x.astype(np.float64), SR)[1])
