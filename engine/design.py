"""Filter design, done once in numpy before the stream opens (the kernel only runs the filters).

EQ: Linkwitz-Riley 8th-order (48 dB/octave) crossovers at 250 Hz and 2.5 kHz, as in Mixxx's LR8 EQ.
Measured on the engine's own topology, LR4 leaves a mid kill at only −34 dB at the band centre (the
low and high bands leak −40 dB each, in phase); LR8 gives −74 dB and still sums flat.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import ALLPASSES, COMBS, STEREO_SPREAD

LOW_SPLIT = 250.0
HIGH_SPLIT = 2500.0
BW4_Q = (0.5411961001461971, 1.3065629648763766)  # the two sections of a 4th-order Butterworth


def biquad(kind: str, freq: float, q: float, sr: float) -> tuple[float, float, float, float, float]:
    """RBJ cookbook biquad, normalised: (b0, b1, b2, a1, a2)."""
    w0 = 2.0 * math.pi * freq / sr
    alpha = math.sin(w0) / (2.0 * q)
    c = math.cos(w0)
    if kind == "lp":
        b = ((1 - c) / 2, 1 - c, (1 - c) / 2)
    elif kind == "hp":
        b = ((1 + c) / 2, -(1 + c), (1 + c) / 2)
    elif kind == "ap":
        b = (1 - alpha, -2 * c, 1 + alpha)
    else:
        raise ValueError(kind)
    a0 = 1 + alpha
    return (b[0] / a0, b[1] / a0, b[2] / a0, -2 * c / a0, (1 - alpha) / a0)


def crossover_coefficients(sr: float) -> np.ndarray:
    """Eight sections, five coefficients each: LP(low split) x2, HP(high split) x2, AP(low) x2, AP(high) x2.

    LR8 = a Butterworth-4 run twice; LR8 low-pass + high-pass = the Butterworth-4 all-pass, which is
    how the kernel gets the mid band by subtraction; with the band gains applied ahead of a single
    high all-pass, 12 biquads per channel (dsp.eq_pair).
    """
    sections = []
    for kind, freq in (("lp", LOW_SPLIT), ("hp", HIGH_SPLIT), ("ap", LOW_SPLIT), ("ap", HIGH_SPLIT)):
        for q in BW4_Q:
            sections.append(biquad(kind, freq, q, sr))
    return np.array(sections, np.float64).ravel()


def true_peak_fir(taps: int = 12) -> np.ndarray:
    """Polyphase 4x interpolator (phases 1/4, 2/4, 3/4) for inter-sample peak detection.

    Row k interpolates at position taps/2 − 1 + (k+1)/4 of a `taps`-long history (oldest first).
    """
    n = np.arange(taps, dtype=np.float64)
    window = np.kaiser(taps + 2, 6.0)[1:-1]
    rows = []
    for k in (1, 2, 3):
        x = n - (taps / 2 - 1) - k / 4.0
        h = np.sinc(x) * window
        rows.append(h / h.sum())
    return np.array(rows)


def tilt(db: float, pivot: float, sr: float) -> tuple[float, float, float, float, float]:
    """A first-order tilt EQ as a biquad: −db far below the pivot, +db far above, unity at the pivot.

    H(s) = (A·s + w0) / (s + A·w0) with A = 10^(db/20), by the bilinear transform warped at the pivot.
    """
    a = 10.0 ** (db / 20.0)
    k = math.tan(math.pi * min(pivot, 0.45 * sr) / sr)
    norm = 1.0 + a * k
    return ((a + k) / norm, (k - a) / norm, 0.0, (a * k - 1.0) / norm, 0.0)


def reverb_lengths(sr: float) -> np.ndarray:
    """Per-line lengths (left then right, right a little longer for width)."""
    scale = sr / 44100.0
    left = [max(8, round(x * scale)) for x in COMBS + ALLPASSES]
    right = [n + max(1, round(STEREO_SPREAD * scale)) for n in left]
    return np.array(left + right, np.int64)
