"""Integrated loudness (ITU-R BS.1770-4, LUFS), vectorised for whole tracks.

The K-weighting is the standard's two stages (a +4 dB high shelf at 1.5 kHz and a 38 Hz high-pass,
as biquads designed for the file's own rate, the way pyloudnorm designs them); the gating is the
standard's 400 ms blocks every 100 ms, absolute gate −70 LUFS, relative gate −10 LU. The result
matches pyloudnorm (checked in the tests) at a fraction of its time, which matters at 30× real time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal


def _biquad(kind: str, fc: float, q: float, gain_db: float, sr: int) -> np.ndarray:
    a_ = 10 ** (gain_db / 40.0)
    w0 = 2 * math.pi * fc / sr
    cos, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "high_shelf":
        r = 2 * math.sqrt(a_) * alpha
        b = [a_ * ((a_ + 1) + (a_ - 1) * cos + r), -2 * a_ * ((a_ - 1) + (a_ + 1) * cos),
             a_ * ((a_ + 1) + (a_ - 1) * cos - r)]
        a = [(a_ + 1) - (a_ - 1) * cos + r, 2 * ((a_ - 1) - (a_ + 1) * cos), (a_ + 1) - (a_ - 1) * cos - r]
    else:  # high_pass
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
        a = [1 + alpha, -2 * cos, 1 - alpha]
    return np.array([[*(np.array(b) / a[0]), 1.0, a[1] / a[0], a[2] / a[0]]])


def k_weighting(sr: int) -> np.ndarray:
    """The K-weighting filter for rate `sr` as second-order sections (scipy's sos rows)."""
    return np.vstack([_biquad("high_shelf", 1500.0, 1 / math.sqrt(2), 4.0, sr),
                      _biquad("high_pass", 38.0, 0.5, 0.0, sr)])


def integrated_lufs(data: np.ndarray, sr: int) -> float:
    """Loudness of frames × channels audio (channel weights 1: mono, stereo); −inf for silence."""
    x = np.asarray(data, np.float32)
    x = np.ascontiguousarray(x[None, :] if x.ndim == 1 else x.T)  # channels × frames: filter runs along memory
    step = round(0.1 * sr)  # blocks are 400 ms = four 100 ms steps, one block per step
    steps = x.shape[1] // step
    if steps < 4:
        return -math.inf
    sos = k_weighting(sr).astype(np.float32)
    filtered = signal.sosfilt(sos, x[:, : steps * step], axis=-1).reshape(x.shape[0], steps, step)
    per_step = np.einsum("cns,cns->n", filtered, filtered).astype(np.float64)  # Σ channels (weights 1)
    z = (per_step[:-3] + per_step[1:-2] + per_step[2:-1] + per_step[3:]) / (4 * step)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(z)
    gated = z[loud > -70.0]
    if len(gated) == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(gated.mean()) - 10.0
    final = z[(loud > -70.0) & (loud > relative)]
    return -0.691 + 10 * math.log10(final.mean()) if len(final) else -math.inf
