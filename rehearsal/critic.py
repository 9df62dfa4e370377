"""The critic: how good a rendered transition sounds, from the audio and the plan, metric by metric.

Each metric has a unit a DJ can read and a penalty from 0 (nothing wrong) to 1 (as bad as it gets);
the overall score is 100 × (1 − the weighted mean penalty). What it hears:

- `on_grid` (ms): kick onsets (< 150 Hz) of each deck alone during the overlap, against the grid and
  against each other; full penalty at 30 ms.
- `loudness` (LU): short-term loudness (EBU R128: K-weighted, 3 s window) of the mix, the worst dip or
  bump against a straight line from the level before to the level after; 6 LU.
- `bass_clash` (beats): time both decks carry strong low-band (< 150 Hz) energy at once (each within
  10 dB of its own loudest); 16 beats.
- `key` (Camelot steps): the two keys as they sound (after any key shift); 6 steps.
- `stretch` (%): the larger tempo change either track needs to play at the clock's tempo; 8 %.
- `overs` (ms): time the mix's true peak (4× oversampled) is over the ceiling, clipped samples
  counted beside it; 50 ms.
- `phrase` (beats): the worst of start and end against both tracks' nearest section boundary; 8 beats.
- `spectral` (dB): mean octave-band difference (40 Hz–16 kHz) between the mix during the transition and
  the louder of the two tracks alone, band by band; 6 dB.

Weights (WEIGHTS): timing and bass carry the most (a flam or two basslines fighting is what a crowd
hears first), then loudness, key and overs, then phrase and spectrum; the stretch is nearly free on the
built-in engine (key-lock), so it weighs least. Bump CRITIC_VERSION whenever a number here changes:
scored candidates are kept by a key that includes it.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from copilot.phrase_db.keys import Key, camelot_distance
from copilot.phrase_db.loudness import k_weighting

from . import iir

CRITIC_VERSION = 1
LOW_HZ = 150.0  # the kick and bass band
STRONG_DB = -10.0  # a deck's low band is "strong" within this of its own loudest frame
FLOOR_DB = -45.0  # … and above this absolute level (dBFS RMS)
SHORT_TERM = 3.0  # seconds: EBU R128 short-term window
TRUE_PEAK_BOUND_DB = 6.0  # a block whose samples stay this far under the ceiling has no true-peak overs
OVERS_BLOCK = 480  # samples: the true peak is oversampled only in 10 ms blocks that come near the ceiling
OVERS_EDGE = 32  # … and this many samples either side (an over just past a loud sample is still counted)
WEIGHTS: Mapping[str, float] = {"on_grid": 2.0, "bass_clash": 2.0, "loudness": 1.5, "key": 1.5, "overs": 1.5,
                                "phrase": 1.0, "spectral": 1.0, "stretch": 0.5}
FULL: Mapping[str, float] = {"on_grid": 30.0, "loudness": 6.0, "bass_clash": 16.0, "key": 6.0, "stretch": 8.0,
                             "overs": 50.0, "phrase": 8.0, "spectral": 6.0}
UNITS: Mapping[str, str] = {"on_grid": "ms", "loudness": "LU", "bass_clash": "beats", "key": "steps",
                            "stretch": "%", "overs": "ms", "phrase": "beats", "spectral": "dB"}


@dataclass(frozen=True)
class Context:
    """What the critic knows of the plan, in the rendered audio's own seconds."""

    samplerate: int
    tempo: float  # the clock's BPM
    start: float  # seconds: the transition's first beat
    end: float  # seconds: its last
    grid: float = 0.0  # seconds of any beat line (beats every 60/tempo s from it)
    out_key: str | None = None  # Camelot or key name, as it sounds (after any key shift)
    in_key: str | None = None
    out_bpm: float | None = None  # the tracks' own tempi
    in_bpm: float | None = None
    out_bounds: Sequence[float] = ()  # seconds of the outgoing track's section boundaries
    in_bounds: Sequence[float] = ()
    ceiling_dbtp: float = -1.0

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | None  # None: not measurable here (no keys known, no kicks heard …)
    unit: str
    penalty: float
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"value": None if self.value is None else round(self.value, 3), "unit": self.unit,
                "penalty": round(self.penalty, 4), **{k: _round(v) for k, v in self.detail.items()}}


@dataclass(frozen=True)
class Verdict:
    score: float  # 0..100, higher is better
    metrics: Mapping[str, Metric]
    curves: Mapping[str, Any] = field(default_factory=dict)  # for the report's plots (not stored)

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 2), "weights": dict(WEIGHTS), "critic_version": CRITIC_VERSION,
                "metrics": {k: m.to_dict() for k, m in self.metrics.items()}}

    def worst(self) -> str:
        return max(self.metrics.values(), key=lambda m: m.penalty * WEIGHTS[m.name]).name


def _round(v: Any) -> Any:
    return round(v, 3) if isinstance(v, float) else v


def _metric(name: str, value: float | None, **detail: Any) -> Metric:
    penalty = 0.0 if value is None or not math.isfinite(value) else min(1.0, max(0.0, value / FULL[name]))
    return Metric(name, value, UNITS[name], penalty, detail)


def mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        return np.asarray(x, np.float64)
    if x.shape[1] == 2:  # stereo: (L + R) / 2 in float64, the same numbers as the mean, without a copy first
        m = np.add(x[:, 0], x[:, 1], dtype=np.float64)
        m *= 0.5  # in place: one array per call, not two
        return m
    x = np.asarray(x, np.float64)
    return x @ np.full(x.shape[1], 1.0 / x.shape[1])  # the channels' mean, faster than a strided .mean(axis=1)


@functools.cache
def _low_sos(sr: int, hz: float) -> np.ndarray:
    """The low band's filter, designed once per rate (a design cost a millisecond per call). Writable:
    sosfilt takes no read-only coefficients; nothing here writes to them."""
    return signal.butter(4, hz, "low", fs=sr, output="sos")


def lowpass(x: np.ndarray, sr: int, hz: float = LOW_HZ) -> np.ndarray:
    return signal.sosfilt(_low_sos(sr, hz), x)


def low_band(deck: np.ndarray, sr: int) -> np.ndarray:
    """`lowpass(mono(deck), sr)`: a stereo deck's mono is made sample by sample inside the filter (the
    same bits, without the float64 mono and sosfilt's float64 copy of it)."""
    x = np.asarray(deck)
    if x.ndim == 2 and x.shape[1] == 2 and x.dtype in (np.float32, np.float64):
        return iir.low_of_stereo(x, _low_sos(sr, LOW_HZ))
    return lowpass(mono(x), sr)


def window_means(power: np.ndarray, w: int, h: int) -> np.ndarray:
    """The mean of `power` over windows of `w` samples every `h` (the first at 0, the last ending at or
    before the end). A window a whole number of hops long is summed hop by hop (one contiguous reduction,
    then a running sum over the hops: five times faster than a running sum over every sample, and no
    less exact)."""
    count = (len(power) - w) // h + 1
    if w % h == 0:
        hops = count - 1 + w // h
        c = np.concatenate([[0.0], np.cumsum(power[: hops * h].reshape(hops, h).sum(axis=1))])
        return (c[w // h:] - c[: len(c) - w // h]) / w
    c = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(count) * h
    return (c[starts + w] - c[starts]) / w


def band_rms_db(x: np.ndarray, sr: int, hop: float = 0.01, window: float = 0.05,
                power: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (centres) and RMS level in dBFS of `x` (mono; `power`: its square `x * x`, when the
    caller has it already)."""
    h, w = max(1, round(hop * sr)), max(1, round(window * sr))
    if len(x) < w:
        return np.zeros(0), np.zeros(0)
    ms = window_means(x * x if power is None else power, w, h)
    return (np.arange(len(ms)) * h + w / 2) / sr, 10 * np.log10(ms + 1e-12)


# -- on the grid ---------------------------------------------------------------------------------------------
def kick_onsets(x: np.ndarray, sr: int, min_gap: float = 0.1, low: np.ndarray | None = None,
                low_power: np.ndarray | None = None) -> np.ndarray:
    """Seconds of kick onsets: rises of the low band's level (5 ms frames) that reach near its peaks
    (`low`: the low band of `x`'s mono, `low_power` its square, when the caller has them already)."""
    times, level = band_rms_db(low_band(x, sr) if low is None else low, sr, hop=0.0025, window=0.005,
                               power=low_power if low is not None else None)
    if len(level) < 3:
        return np.zeros(0)
    rise = np.diff(level, prepend=level[0])
    loud = level > max(level.max() - 20.0, FLOOR_DB)
    peaks, _ = signal.find_peaks(np.where(loud, rise, 0.0), height=6.0, distance=max(1, round(min_gap / 0.0025)))
    return times[peaks] - 0.0025  # the frame's start: where the rise began


def grid_errors(onsets: np.ndarray, grid: float, beat: float) -> np.ndarray:
    """Each onset's distance to the nearest beat line (seconds, signed)."""
    phase = (onsets - grid) / beat
    return (phase - np.round(phase)) * beat


def on_grid(out_deck: np.ndarray | None, in_deck: np.ndarray | None, mix: np.ndarray, ctx: Context,
            lows: tuple[np.ndarray, np.ndarray] | None = None,
            powers: tuple[np.ndarray, np.ndarray] | None = None) -> Metric:
    """The incoming deck's kicks against the grid and against the outgoing deck's, while both play
    (`lows`: both decks' low bands, `powers` their squares, when the caller has them)."""
    sr = ctx.samplerate
    lo, hi = ctx.start, ctx.end
    if in_deck is None:
        onsets = kick_onsets(mix, sr)
        errs = grid_errors(onsets[(onsets >= lo) & (onsets <= hi)], ctx.grid, ctx.beat)
        value = float(np.median(np.abs(errs)) * 1000) if len(errs) else None
        return _metric("on_grid", value, kicks=len(errs))
    ins = kick_onsets(in_deck, sr, low=lows[1] if lows else None, low_power=powers[1] if powers else None)
    ins = ins[(ins >= lo) & (ins <= hi)]
    outs = (kick_onsets(out_deck, sr, low=lows[0] if lows else None, low_power=powers[0] if powers else None)
            if out_deck is not None else np.zeros(0))
    to_grid = np.abs(grid_errors(ins, ctx.grid, ctx.beat))
    grid_ms = float(np.median(to_grid) * 1000) if len(to_grid) else None
    pair_ms = None
    if len(outs) and len(ins):  # each incoming kick against the nearest outgoing one (both playing)
        near = np.abs(ins[:, None] - outs[None, :]).min(axis=1)
        both = near < ctx.beat / 2
        if both.any():
            pair_ms = float(np.median(near[both]) * 1000)
    value = max([v for v in (grid_ms, pair_ms) if v is not None], default=None)
    return _metric("on_grid", value, grid_ms=grid_ms, kick_to_kick_ms=pair_ms, kicks=len(ins))


# -- loudness --------------------------------------------------------------------------------------------
def short_term_loudness(x: np.ndarray, sr: int, hop: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Times (window centres) and EBU R128 short-term loudness (LUFS, 3 s window) every `hop` s."""
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x
    # filtered and squared frame by frame, summed over the channels as it goes (channel weights 1, stereo):
    # sosfilt's float64 copy of the render and the filtered channels are never made (the same bits)
    power = iir.filtered_power(x if x.dtype in (np.float32, np.float64) else x.astype(np.float64), k_weighting(sr))
    w, h = round(SHORT_TERM * sr), round(hop * sr)
    if len(power) < w:
        return np.zeros(0), np.zeros(0)
    ms = window_means(power, w, h)
    return (np.arange(len(ms)) * h + w / 2) / sr, -0.691 + 10 * np.log10(ms + 1e-12)


def loudness(mix: np.ndarray, ctx: Context) -> tuple[Metric, dict[str, np.ndarray]]:
    """The worst dip or bump of the short-term loudness across the transition, against a straight line
    from the level before it to the level after it."""
    times, lufs = short_term_loudness(mix, ctx.samplerate)
    curves = {"loudness_t": times, "loudness": lufs}
    if len(times) == 0:
        return _metric("loudness", None), curves
    half = SHORT_TERM / 2
    before = lufs[times <= ctx.start - half + 1e-9]
    after = lufs[times >= ctx.end + half - 1e-9]
    a = float(np.median(before)) if len(before) else float(lufs[0])
    b = float(np.median(after)) if len(after) else float(lufs[-1])
    inside = (times >= ctx.start) & (times <= ctx.end)
    if not inside.any():
        return _metric("loudness", None), curves
    frac = (times[inside] - ctx.start) / max(ctx.end - ctx.start, 1e-9)
    dev = lufs[inside] - (a + (b - a) * frac)
    dip, bump = max(0.0, -float(dev.min())), max(0.0, float(dev.max()))
    return _metric("loudness", max(dip, bump), dip_lu=dip, bump_lu=bump, before_lufs=a, after_lufs=b), curves


# -- bass ------------------------------------------------------------------------------------------------
def bass_clash(out_deck: np.ndarray, in_deck: np.ndarray, ctx: Context,
               lows: tuple[np.ndarray, np.ndarray] | None = None,
               powers: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Metric, dict[str, np.ndarray]]:
    """Beats during which both decks carry strong low-band energy at once (`lows`: both decks' low bands,
    `powers` their squares, when the caller has them)."""
    sr = ctx.samplerate
    low_out, low_in = lows if lows else (low_band(out_deck, sr), low_band(in_deck, sr))
    pow_out, pow_in = powers if lows and powers else (None, None)
    t, a = band_rms_db(low_out, sr, power=pow_out)
    _, b = band_rms_db(low_in, sr, power=pow_in)
    n = min(len(a), len(b))
    t, a, b = t[:n], a[:n], b[:n]
    if n == 0:
        return _metric("bass_clash", None), {}
    strong_a = (a > a.max() + STRONG_DB) & (a > FLOOR_DB)
    strong_b = (b > b.max() + STRONG_DB) & (b > FLOOR_DB)
    hop = t[1] - t[0] if n > 1 else 0.01
    beats = float((strong_a & strong_b).sum() * hop / ctx.beat)
    return _metric("bass_clash", beats), {"low_t": t, "low_out": a, "low_in": b}


# -- keys and tempo ----------------------------------------------------------------------------------
def key_distance(ctx: Context) -> Metric:
    try:
        a, b = Key.parse(str(ctx.out_key)), Key.parse(str(ctx.in_key))
    except (ValueError, TypeError):
        return _metric("key", None, out=ctx.out_key, into=ctx.in_key)
    return _metric("key", float(camelot_distance(a, b)), out=a.camelot, into=b.camelot)


def stretch(ctx: Context) -> Metric:
    changes = [abs(ctx.tempo / bpm - 1.0) * 100 for bpm in (ctx.out_bpm, ctx.in_bpm) if bpm]
    return _metric("stretch", max(changes) if changes else None)


# -- peaks -----------------------------------------------------------------------------------------------
def _peak_per_frame(x: np.ndarray) -> np.ndarray:
    """max |x| across the channels of each frame (channel by channel: a reduction over a short inner axis is
    slow in numpy)."""
    peak = np.abs(x[:, 0])
    for ch in range(1, x.shape[1]):
        np.maximum(peak, np.abs(x[:, ch]), out=peak)
    return peak


@functools.cache
def _oversampler(dtype: str) -> np.ndarray:
    """The 4× interpolation filter `resample_poly` designs at every call (its default: 81 taps, Kaiser
    β 5), designed once."""
    return signal.firwin(81, 1 / 4, window=("kaiser", 5.0)).astype(dtype)


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Sorted block indices as runs of neighbours: (first, last) each."""
    if not len(indices):
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(indices) - 1]])
    return [(int(indices[a]), int(indices[b])) for a, b in zip(starts, ends, strict=True)]


OVERS_CONTEXT = 64  # samples of context each run is oversampled with (the filter reaches 10 either side)


def _near_spans(sample_peak: np.ndarray, near: float) -> list[tuple[int, int]]:
    """The spans (first, end) whose true peak is measured: runs of neighbouring blocks whose sample peak
    comes above `near`, with OVERS_EDGE samples either side (an over just past a loud sample is still
    counted). Runs are a block apart at least, so no sample is in two spans."""
    n = len(sample_peak)
    blocks = np.maximum.reduceat(sample_peak, np.arange(0, n, OVERS_BLOCK)) if n else np.zeros(0)
    return [(max(0, first * OVERS_BLOCK - OVERS_EDGE), min(n, (last + 1) * OVERS_BLOCK + OVERS_EDGE))
            for first, last in _runs(np.flatnonzero(blocks > near))]


def _true_peaks(x: np.ndarray, spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The 4× oversampled peak per frame over every span, in one filter call, and where each span's
    oversampled frames start and end in it (its first frame, and one past its last, in order).

    Every span goes in with OVERS_CONTEXT samples of its own audio either side, all joined end to end: the
    filter reaches 10 samples, so each measured frame sees only its own span's audio, exactly as when each
    span was oversampled alone (the same products summed in the same order: the same bits). A span at
    the signal's start or end is the first or last joined, so it meets the same zeros there as before.
    One call rather than one per span (~80 per candidate): resample_poly's set-up each call cost as much
    as the filtering."""
    pieces, bounds, at = [], [], 0
    for i, end in spans:
        lo, hi = max(0, i - OVERS_CONTEXT), min(len(x), end + OVERS_CONTEXT)
        pieces.append(x[lo:hi])
        bounds += [4 * (at + i - lo), 4 * (at + end - lo)]
        at += hi - lo
    up = signal.resample_poly(np.concatenate(pieces), 4, 1, axis=0, window=_oversampler(x.dtype.str))
    return _peak_per_frame(up), np.asarray(bounds)


def _within(values: np.ndarray, bounds: np.ndarray, reduce: np.ufunc, dtype: Any = None) -> np.ndarray:
    """`reduce` over each span of `values` (`bounds`: first, end, first, end … in order), one value each."""
    last = bounds[-1] == len(values)  # reduceat cannot take an end at the array's end: the last span runs there
    return reduce.reduceat(values, bounds[:-1] if last else bounds, dtype=dtype)[::2]


def overs(mix: np.ndarray, ctx: Context) -> Metric:
    """Time the true peak (4× oversampled, BS.1770 style) is over the ceiling, plus clipped samples."""
    x = np.asarray(mix, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    ceiling = 10 ** (ctx.ceiling_dbtp / 20)
    sample_peak = _peak_per_frame(x)
    # oversampled only where the sample peak comes near the ceiling: between samples a band-limited signal
    # rises at most a few dB above them (the engine's limiter uses the same bound)
    over, top = 0, float(sample_peak.max()) if len(x) else 0.0
    spans = _near_spans(sample_peak, ceiling * 10 ** (-TRUE_PEAK_BOUND_DB / 20))
    if spans:
        peak, bounds = _true_peaks(x, spans)
        over = int(_within(peak > ceiling, bounds, np.add, np.int64).sum())
        top = max(top, float(_within(peak, bounds, np.maximum).max()))
    over_ms = float(over / (4 * ctx.samplerate) * 1000)
    clipped = int((sample_peak >= 0.999).sum())  # frames with any channel at full scale
    return _metric("overs", over_ms, true_peak_dbtp=20 * math.log10(top) if top > 0 else -math.inf,
                   clipped_samples=clipped)


# -- phrases ---------------------------------------------------------------------------------------------
def phrase_alignment(ctx: Context) -> Metric:
    """The worst of start and end against each track's nearest section boundary (beats)."""
    offs = {}
    for name, bounds in (("out", ctx.out_bounds), ("in", ctx.in_bounds)):
        if not len(bounds):
            continue
        b = np.asarray(bounds, float)
        for edge, at in (("start", ctx.start), ("end", ctx.end)):
            offs[f"{name}_{edge}"] = float(np.abs(b - at).min() / ctx.beat)
    value = max(offs.values()) if offs else None
    return _metric("phrase", value, **offs)


# -- spectrum --------------------------------------------------------------------------------------------
OCTAVES = 40.0 * 2.0 ** np.arange(0, 9)  # 40 Hz … 10 kHz band edges (to 16 kHz+)


def welch(x: np.ndarray, sr: int, nperseg: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and the average power spectral density of `x` (mono): `scipy.signal.welch` with its
    defaults (periodic Hann, half overlap, each segment's mean removed, one-sided density), every
    segment in one FFT call (scipy's own loops segment by segment: four times slower)."""
    n = min(nperseg, len(x))
    step = n - n // 2
    segments = np.lib.stride_tricks.sliding_window_view(x, n)[::step]
    window = signal.get_window("hann", n)
    spectra = np.fft.rfft((segments - segments.mean(axis=1, keepdims=True)) * window, axis=1)
    p = (spectra.real**2 + spectra.imag**2).mean(axis=0) / (sr * (window * window).sum())
    p[1: len(p) - (n % 2 == 0)] *= 2  # one-sided: every bin but DC (and Nyquist) counts twice
    return np.fft.rfftfreq(n, 1 / sr), p


def band_levels(x: np.ndarray, sr: int) -> np.ndarray:
    """Octave-band levels (dB) of `x`'s average power spectrum."""
    if len(x) < 256:
        return np.full(len(OCTAVES), -120.0)
    f, p = welch(mono(x), sr)
    edges = [*OCTAVES, 16000.0]
    return np.array([10 * np.log10(p[(f >= lo) & (f < hi)].mean() + 1e-20) for lo, hi in itertools.pairwise(edges)])


def spectral_balance(mix: np.ndarray, ctx: Context, alone_out: np.ndarray, alone_in: np.ndarray) -> Metric:
    """Mean octave-band difference between the mix during the transition and the louder of the two
    tracks alone (each band: the louder track's level is what a blend should keep, no more, no less)."""
    sr = ctx.samplerate
    during = mix[round(ctx.start * sr): round(ctx.end * sr)]
    ref = np.maximum(band_levels(alone_out, sr), band_levels(alone_in, sr))
    got = band_levels(during, sr)
    keep = ref > ref.max() - 50.0  # bands neither track has are not judged
    if not keep.any() or len(during) < 256:
        return _metric("spectral", None)
    diff = got[keep] - ref[keep]
    return _metric("spectral", float(np.abs(diff).mean()), worst_band_hz=float(OCTAVES[keep][np.argmax(np.abs(diff))]))


# -- all of it -------------------------------------------------------------------------------------------
def score(metrics: Mapping[str, Metric]) -> float:
    total = sum(WEIGHTS.values())
    return 100.0 * (1.0 - sum(WEIGHTS[n] * m.penalty for n, m in metrics.items()) / total)


def judge(mix: np.ndarray, ctx: Context, out_deck: np.ndarray | None = None,
          in_deck: np.ndarray | None = None) -> Verdict:
    """Every metric for one rendered transition: `mix` is what the master put out (frames × channels),
    `out_deck`/`in_deck` the same render with only that deck playing (None: judged from the mix alone
    where possible)."""
    sr = ctx.samplerate
    metrics: dict[str, Metric] = {}
    curves: dict[str, Any] = {}
    # each deck's low band once: the kicks (on_grid) and the basslines (bass_clash) both listen to it
    lows = ((low_band(out_deck, sr), low_band(in_deck, sr))
            if out_deck is not None and in_deck is not None else None)
    # … and its square once: both metrics take the level of the same band, in frames of their own
    powers = (lows[0] * lows[0], lows[1] * lows[1]) if lows else None
    metrics["on_grid"] = on_grid(out_deck, in_deck, mix, ctx, lows, powers)
    metrics["loudness"], c = loudness(mix, ctx)
    curves.update(c)
    if out_deck is not None and in_deck is not None:
        metrics["bass_clash"], c = bass_clash(out_deck, in_deck, ctx, lows, powers)
        curves.update(c)
        alone_out, alone_in = out_deck[: round(ctx.start * sr)], in_deck[round(ctx.end * sr):]
    else:
        metrics["bass_clash"] = _metric("bass_clash", None)
        alone_out, alone_in = mix[: round(ctx.start * sr)], mix[round(ctx.end * sr):]
    metrics["key"] = key_distance(ctx)
    metrics["stretch"] = stretch(ctx)
    metrics["overs"] = overs(mix, ctx)
    metrics["phrase"] = phrase_alignment(ctx)
    metrics["spectral"] = spectral_balance(mix, ctx, alone_out, alone_in)
    return Verdict(score(metrics), metrics, curves)
