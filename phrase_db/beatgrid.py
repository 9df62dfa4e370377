"""The beatgrid: tempo to a few thousandths of a BPM, beat phase to a few milliseconds, and the bar.

Dance music keeps one tempo, so the grid is one straight line, beat k at `first_beat + k·period`.
Three passes, coarse to fine:
1. the tempo from the autocorrelation of an onset envelope, with a prior around 120 BPM;
2. period and phase from the circular mean of kick onsets (the Rayleigh resultant of their phases
   is largest at the true period, and its angle is the phase);
3. a weighted least-squares line through the onset nearest each predicted beat, repeated with
   narrowing windows, so the period comes from hundreds of beats rather than a tempogram bin
   (0.05 BPM over 30 s is 1/32 beat of drift: the BPM must come from the beats).
The downbeat is the beat phase (of four) where the harmony changes most.

Beatless audio (a pure tone, a square wave, noise, a pad) still has an autocorrelation peak and
onset-ish wiggles, so every pass above finds *a* grid. What it lacks is contrast: onsets on the grid
no stronger than onsets between its lines. The confidence is scaled by that contrast, so such audio
gets a confidence near 0 and the analysis says "no beat" (`NO_BEAT`) instead of a confident BPM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

NO_BEAT = 0.2  # a grid confidence below this is no beat at all
CONTRAST_NONE, CONTRAST_FULL = 1.5, 4.0  # on-grid/off-grid onset strength: no beat … an unmistakable one


class AnalysisError(ValueError):
    """The audio cannot be analysed (silent, too short): a readable reason, never a traceback."""


@dataclass(frozen=True)
class BeatGrid:
    bpm: float
    first_beat: float  # seconds: beat 0, the first beat of the music
    count: int  # beats from first_beat to the end of the music
    downbeat: int  # index (0..beats_per_bar-1) of the first beat that starts a bar
    confidence: float  # share of predicted beats that found an onset where the grid said
    beats_per_bar: int = 4

    @property
    def period(self) -> float:
        return 60.0 / self.bpm

    def beat_times(self) -> np.ndarray:
        return self.first_beat + self.period * np.arange(self.count)

    def downbeat_times(self) -> np.ndarray:
        return self.beat_times()[self.downbeat :: self.beats_per_bar]


def onset_rise(y: np.ndarray, sr: int, hop: int = 32, win: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Half-wave-rectified slope of log energy, every `hop` samples; time stamps are window ends.

    The floor (60 dB under the loud parts) keeps near-silence from producing huge relative jumps.
    """
    c = np.concatenate(([0.0], np.cumsum(y.astype(np.float64) ** 2)))
    ends = np.arange(win, len(y) + 1, hop)
    e = (c[ends] - c[ends - win]) / win
    floor = 1e-6 * max(float(np.percentile(e, 95)), 1e-12)
    le = np.log(e + floor)
    d = np.diff(le, prepend=le[0])
    np.maximum(d, 0.0, out=d)
    return ends / sr, d


def tempo_from_envelope(oenv: np.ndarray, fps: float, lo: float = 60.0, hi: float = 200.0,
                        center: float = 120.0) -> float:
    """The autocorrelation peak of an onset envelope, weighted by a log-normal prior round `center`."""
    o = oenv - oenv.mean()
    n = len(o)
    spec = np.fft.rfft(o, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    lags = np.arange(1, n)
    bpm = 60.0 * fps / lags
    sel = (bpm >= lo) & (bpm <= hi)
    if not sel.any():
        raise AnalysisError("too short to find a tempo")
    prior = np.exp(-0.5 * np.log2(bpm[sel] / center) ** 2)
    return float(bpm[sel][np.argmax(ac[1:][sel] * prior)])


def _peaks(times: np.ndarray, d: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    k = max(1, int(gap / (times[1] - times[0])))
    is_peak = (d == ndimage.maximum_filter1d(d, 2 * k + 1)) & (d > 0)
    t, w = times[is_peak], d[is_peak]
    if len(w) == 0:
        return t, w
    keep = w > 0.2 * np.percentile(w, 95)
    return t[keep], w[keep]


def _resultant(t: np.ndarray, w: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Σ w·exp(2πi t/T) for each candidate period T (complex)."""
    out = np.empty(len(periods), np.complex128)
    for i in range(0, len(periods), 256):  # bounded memory for long tracks
        block = periods[i : i + 256]
        out[i : i + 256] = np.exp(2j * np.pi * t[None, :] / block[:, None]) @ w
    return out


def fit_grid(y: np.ndarray, sr: int) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    """(period s, phase s, confidence, onset times, onset curve) for mono audio `y`."""
    if len(y) < 4 * sr:
        raise AnalysisError(f"only {len(y) / sr:.1f} s of audio; a beatgrid needs at least 4 s")
    if not np.any(np.abs(y) > 1e-4):
        raise AnalysisError("the audio is silent")
    low = signal.sosfilt(signal.butter(4, 150.0, "lowpass", fs=sr, output="sos"), y)
    t, d_low = onset_rise(low, sr)
    _, d_all = onset_rise(y, sr)
    d = d_low + 0.5 * d_all  # kicks first, clicks and snares to sharpen them
    fps = 1.0 / (t[1] - t[0])
    k = 8  # ~11.6 ms frames for the tempo search
    oenv = d[: len(d) // k * k].reshape(-1, k).sum(axis=1)
    period0 = 60.0 / tempo_from_envelope(oenv, fps / k)

    pt, pw = _peaks(t, d_low if d_low.any() else d, 0.05)
    if len(pt) < 8:
        raise AnalysisError("no steady beat found")
    periods = period0 * np.linspace(0.97, 1.03, 1201)
    period = periods[int(np.argmax(np.abs(_resultant(pt, pw, periods))))]
    periods = period * np.linspace(0.9995, 1.0005, 401)
    z = _resultant(pt, pw, periods)
    best = int(np.argmax(np.abs(z)))
    period = float(periods[best])
    phase = float(np.angle(z[best]) / (2 * np.pi) * period % period)

    duration = len(y) / sr
    ks = np.arange(int((duration - phase) / period) + 1)
    good = np.zeros(len(ks), bool)
    for window in (0.05, 0.025, 0.012):
        pred = phase + period * ks
        lo = np.searchsorted(t, pred - window)
        hi = np.searchsorted(t, pred + window)
        onset = np.zeros(len(ks))
        weight = np.zeros(len(ks))
        for j in np.nonzero(hi > lo)[0]:
            q = lo[j] + int(np.argmax(d[lo[j] : hi[j]]))
            onset[j], weight[j] = t[q], d[q]
        strong = weight > 0
        if strong.sum() < 8:
            break
        good = weight > 0.3 * np.median(weight[strong])
        root = np.sqrt(weight[good])
        a = np.column_stack([ks[good], np.ones(good.sum())]) * root[:, None]
        (period, phase), *_ = np.linalg.lstsq(a, onset[good] * root, rcond=None)
    share = float(good.mean()) if len(good) else 0.0
    contrast = grid_contrast(t, d, float(period), float(phase % period), duration)
    confidence = share * float(np.clip((contrast - CONTRAST_NONE) / (CONTRAST_FULL - CONTRAST_NONE), 0.0, 1.0))
    return float(period), float(phase % period), confidence, t, d


def grid_contrast(t: np.ndarray, d: np.ndarray, period: float, phase: float, duration: float,
                  window: float = 0.02) -> float:
    """How much stronger the onsets on the grid are than those on grids shifted by 1/8 … 7/8 of a beat
    (upper quartile of the strongest onset near each line; ≈1 for tones and noise, ≥5 for dance music)."""
    ks = np.arange(max(1, int((duration - phase) / period)))
    strength = []
    for frac in np.arange(8) / 8.0:
        pred = phase + period * (ks + frac)
        lo = np.searchsorted(t, pred - window)
        hi = np.searchsorted(t, pred + window)
        near = np.array([d[a:b].max() if b > a else 0.0 for a, b in zip(lo, hi, strict=True)])
        strength.append(float(np.percentile(near, 75)) if len(near) else 0.0)
    off = float(np.median(strength[1:]))
    on = strength[0]
    if off <= 1e-12:
        return CONTRAST_FULL if on > 1e-12 else 0.0
    return on / off


def music_span(y: np.ndarray, sr: int, threshold_db: float = -45.0) -> tuple[float, float]:
    """First and last moment the audio is within `threshold_db` of its loud parts (50 ms frames)."""
    hop = max(1, int(0.05 * sr))
    frames = len(y) // hop
    if frames == 0:
        return 0.0, len(y) / sr
    rms = np.sqrt(np.mean(y[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-20)
    loud = rms > np.percentile(rms, 95) * 10 ** (threshold_db / 20)
    idx = np.nonzero(loud)[0]
    if len(idx) == 0:
        return 0.0, len(y) / sr
    return idx[0] * hop / sr, (idx[-1] + 1) * hop / sr


def downbeat_phase(beats: np.ndarray, chroma: np.ndarray, chroma_times: np.ndarray,
                   accent: np.ndarray | None = None, beats_per_bar: int = 4) -> int:
    """Which beat (0..beats_per_bar-1) starts the bars: the one where the harmony changes most.

    `accent` (one value per beat, e.g. onset strength) breaks ties in harmony-free loops.
    """
    n = len(beats)
    if n < 2 * beats_per_bar:
        return 0
    period = float(np.median(np.diff(beats)))
    idx = np.searchsorted(chroma_times, np.append(beats, beats[-1] + period))
    per_beat = np.zeros((n, chroma.shape[0]))
    for j in range(n):
        if idx[j + 1] > idx[j]:
            per_beat[j] = chroma[:, idx[j] : idx[j + 1]].mean(axis=1)
    norm = np.linalg.norm(per_beat, axis=1) + 1e-9
    unit = per_beat / norm[:, None]
    change = np.zeros(n)
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    scores = np.array([change[p::beats_per_bar].mean() for p in range(beats_per_bar)])
    if accent is not None and len(accent) == n:
        a = np.array([accent[p::beats_per_bar].mean() for p in range(beats_per_bar)])
        spread = scores.max() - scores.min()
        scores = scores + 0.1 * (spread if spread > 0 else 1.0) * (a - a.min()) / (np.ptp(a) + 1e-9)
    return int(np.argmax(scores))
