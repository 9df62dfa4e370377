"""The critic's full-rate IIR filters, each fused with what goes into it or comes out of it, with the
arithmetic of `scipy.signal.sosfilt` (second-order sections, transposed direct form II, zero initial
state, float64): the same products and sums in the same order, so the same bits.

What scipy cannot do in one pass: a deck's mono made on the fly into its low band (rather than a float64
mono, sosfilt's own float64 copy of it, then the filter), and the mix's K-weighted power summed over
the channels sample by sample (rather than a channels × frames float64 copy of the float32 render, the
filter over it, its square, then the sum). The copies were as costly as the filtering itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _section(sos: np.ndarray, zi: np.ndarray, s: int, cur: float) -> float:
    """One sample through section `s` (sosfilt's order of operations: a0 is 1, sos[s, 3] unused)."""
    new = sos[s, 0] * cur + zi[s, 0]
    zi[s, 0] = sos[s, 1] * cur - sos[s, 4] * new + zi[s, 1]
    zi[s, 1] = sos[s, 2] * cur - sos[s, 5] * new
    return new


@njit(cache=True)
def _low_of_stereo(x: np.ndarray, sos: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    zi = np.zeros((sos.shape[0], 2))
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        cur = (np.float64(x[i, 0]) + np.float64(x[i, 1])) * 0.5  # `critic.mono`'s (L + R) / 2 in float64
        for s in range(sos.shape[0]):
            cur = _section(sos, zi, s, cur)
        out[i] = cur
    return out


@njit(cache=True)
def _power(x: np.ndarray, sos: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    channels = x.shape[1]
    zi = np.zeros((channels, sos.shape[0], 2))
    power = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        total = 0.0
        for c in range(channels):  # channel by channel, as numpy sums the filtered rows
            cur = np.float64(x[i, c])
            for s in range(sos.shape[0]):
                cur = _section(sos, zi[c], s, cur)
            total = total + cur * cur if c else cur * cur
        power[i] = total
    return power


def low_of_stereo(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """`sosfilt(sos, mono(x))` for stereo frames × 2 `x` (float32 or float64), without the mono's copy."""
    return _low_of_stereo(x, np.ascontiguousarray(sos, np.float64))


def filtered_power(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Per frame, the sum over the channels of `x` (frames × channels) of the square of `sosfilt(sos, x,
    axis=0)` (float64), without the filtered copy."""
    return _power(x, np.ascontiguousarray(sos, np.float64))
