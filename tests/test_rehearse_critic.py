"""The critic on constructed audio whose answer is known: kicks placed on (or 1/8 beat off) the grid,
basslines that overlap for 8 bars or swap on a bar line, keys 6 Camelot steps apart or neighbours, a
mix pushed 6 dB over the ceiling, a loudness dip of known depth."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from copilot.rehearsal import critic
from copilot.rehearsal.critic import Context, judge

SR = 48000
TEMPO = 120.0
BEAT = 60.0 / TEMPO
SECONDS = 40.0  # 80 beats: 4 bars alone, 12 bars of transition, 4 bars after
START, END = 8.0, 32.0


def kicks(offset_beats: float = 0.0, level: float = 0.5, until: float = SECONDS, since: float = 0.0) -> np.ndarray:
    """A kick (a decaying 55 Hz thump) on every beat, `offset_beats` late, between `since` and `until` s."""
    n = round(SECONDS * SR)
    x = np.zeros(n)
    k = np.arange(round(0.15 * SR)) / SR
    thump = level * np.sin(2 * np.pi * 55 * k) * np.exp(-k / 0.04)
    t = offset_beats * BEAT
    while t < SECONDS:
        if since <= t < until:
            i = round(t * SR)
            x[i:i + len(thump)] += thump[: n - i]
        t += BEAT
    return np.column_stack([x, x])


def bass(hz: float, since: float, until: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(round(SECONDS * SR)) / SR
    x = level * np.sin(2 * np.pi * hz * t) * ((t >= since) & (t < until))
    return np.column_stack([x, x])


def ctx(**kw) -> Context:
    return Context(SR, TEMPO, START, END, **kw)


def fade(x: np.ndarray, down: bool) -> np.ndarray:
    """A linear crossfader across the transition (out: full to silent; in: silent to full)."""
    t = np.arange(len(x)) / SR
    up = np.clip((t - START) / (END - START), 0.0, 1.0)
    return x * (1.0 - up if down else up)[:, None]


def test_kicks_an_eighth_of_a_beat_off_the_grid_score_worse_on_grid_error() -> None:
    out = fade(kicks(), True)
    into = fade(kicks(), False)
    aligned = judge(out + into, ctx(), out, into)
    late = fade(kicks(0.125), False)
    off = judge(out + late, ctx(), out, late)
    assert aligned.metrics["on_grid"].value < 5.0
    # 1/8 beat at 120 BPM is 62.5 ms: against the grid and against the other deck's kicks alike
    assert off.metrics["on_grid"].value == pytest.approx(62.5, abs=6.0)
    assert off.metrics["on_grid"].detail["kick_to_kick_ms"] == pytest.approx(62.5, abs=6.0)
    assert off.metrics["on_grid"].unit == "ms"
    assert off.score < aligned.score


def test_two_basslines_overlapping_for_8_bars_clash_a_bass_swap_does_not() -> None:
    swap_at = 20.0  # a bar line inside the transition
    overlap_out, overlap_in = bass(55, 0, 26.0), bass(82.4, 10.0, SECONDS)  # 16 s together = 8 bars
    swap_out, swap_in = bass(55, 0, swap_at), bass(82.4, swap_at, SECONDS)
    clash = judge(overlap_out + overlap_in, ctx(), overlap_out, overlap_in)
    swap = judge(swap_out + swap_in, ctx(), swap_out, swap_in)
    assert clash.metrics["bass_clash"].value == pytest.approx(32.0, abs=1.0)  # beats
    assert swap.metrics["bass_clash"].value <= 1.0
    assert clash.metrics["bass_clash"].penalty > swap.metrics["bass_clash"].penalty
    assert clash.score < swap.score


def test_keys_six_camelot_steps_apart_score_worse_than_neighbours() -> None:
    quiet = kicks(level=0.2)
    far = judge(quiet, ctx(out_key="8A", in_key="2A"))
    near = judge(quiet, ctx(out_key="8A", in_key="9A"))
    assert far.metrics["key"].value == 6 and near.metrics["key"].value == 1
    assert far.score < near.score
    assert judge(quiet, ctx()).metrics["key"].value is None  # no keys known: not judged


def test_a_mix_pushed_6_db_over_the_ceiling_reports_its_overs() -> None:
    t = np.arange(round(4.0 * SR)) / SR
    tone = np.sin(2 * np.pi * 997 * t)
    ceiling = 10 ** (-1.0 / 20)
    hot = np.column_stack([tone, tone]) * ceiling * 10 ** (6 / 20)
    safe = np.column_stack([tone, tone]) * 10 ** (-3 / 20)
    c = Context(SR, TEMPO, 1.0, 3.0)
    over, fine = critic.overs(hot, c), critic.overs(safe, c)
    assert over.detail["true_peak_dbtp"] == pytest.approx(5.0, abs=0.2)
    assert over.value > 1000.0 and over.detail["clipped_samples"] > 0  # ms over, and the samples at full scale
    assert fine.value == 0.0 and fine.detail["clipped_samples"] == 0
    assert over.penalty == 1.0 and fine.penalty == 0.0


def test_the_short_term_loudness_matches_pyloudnorm_and_a_dip_is_measured_in_lu() -> None:
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((round(SECONDS * SR), 2)) * 0.05
    _, lufs = critic.short_term_loudness(noise, SR)
    reference = pyloudnorm.Meter(SR).integrated_loudness(noise[: 3 * SR])  # stationary: gating changes nothing
    assert lufs[0] == pytest.approx(reference, abs=0.3)
    dipped = noise.copy()
    middle = (np.arange(len(noise)) / SR >= 16.0) & (np.arange(len(noise)) / SR < 24.0)
    dipped[middle] *= 10 ** (-6 / 20)
    flat, dip = critic.loudness(noise, ctx())[0], critic.loudness(dipped, ctx())[0]
    assert flat.value < 0.5
    assert dip.value == pytest.approx(6.0, abs=0.5) and dip.detail["dip_lu"] > dip.detail["bump_lu"]


def test_phrase_alignment_counts_beats_off_the_sections() -> None:
    on = critic.phrase_alignment(ctx(out_bounds=[0, START, END], in_bounds=[START, END]))
    off = critic.phrase_alignment(ctx(out_bounds=[0, START + 2 * BEAT, END], in_bounds=[START, END]))
    assert on.value == 0.0 and off.value == pytest.approx(2.0)


def test_spectral_balance_hears_a_band_that_is_boosted_during_the_blend() -> None:
    rng = np.random.default_rng(2)
    noise = rng.standard_normal((round(SECONDS * SR), 2)) * 0.05
    out, into = noise.copy(), noise.copy()
    out[round(END * SR):] = 0
    into[: round(START * SR)] = 0
    fine = critic.spectral_balance(noise, ctx(), out[: round(START * SR)], into[round(END * SR):])
    t = np.arange(len(noise)) / SR
    boosted = noise + 0.5 * np.sin(2 * np.pi * 1000 * t)[:, None]  # a loud 1 kHz tone in the blend
    worse = critic.spectral_balance(boosted, ctx(), out[: round(START * SR)], into[round(END * SR):])
    assert fine.value < 0.5
    assert worse.value > fine.value + 1.0 and worse.detail["worst_band_hz"] == 640.0


def test_the_overall_score_is_documented_weights_over_the_breakdown() -> None:
    out, into = fade(kicks(), True), fade(kicks(), False)
    v = judge(out + into, ctx(out_key="8A", in_key="2A"), out, into)
    expected = 100 * (1 - sum(critic.WEIGHTS[n] * m.penalty for n, m in v.metrics.items())
                      / sum(critic.WEIGHTS.values()))
    assert v.score == pytest.approx(expected)
    data = v.to_dict()
    assert set(data["metrics"]) == set(critic.WEIGHTS) and data["metrics"]["key"]["unit"] == "steps"
    assert v.worst() == "key"


def test_the_low_bands_heard_once_give_the_verdict_of_each_metric_on_its_own() -> None:
    """`judge` filters each deck's low band once for the kicks and the basslines both, and looks only at
    the overs blocks that come near the ceiling: each figure is what the metric says called by itself, and
    the overs are those a sample-by-sample look at every block finds."""
    out, into = fade(kicks() + bass(55, 0, 20.0), True), fade(kicks(0.05) + bass(82.4, 12.0, SECONDS), False)
    mix = (out + into) * 1.6  # hot: some blocks reach the ceiling, some do not
    c = ctx()
    verdict = judge(mix, c, out, into)
    assert verdict.metrics["on_grid"] == critic.on_grid(out, into, mix, c)
    assert verdict.metrics["bass_clash"] == critic.bass_clash(out, into, c)[0]
    from scipy import signal

    up = signal.resample_poly(mix, 4, 1, axis=0)  # every sample, no block skipped (edges aside)
    ceiling = 10 ** (c.ceiling_dbtp / 20)
    everywhere = float((np.abs(up[256:-256]).max(axis=1) > ceiling).sum() / (4 * SR) * 1000)
    assert verdict.metrics["overs"].value > 10.0
    assert verdict.metrics["overs"].value == pytest.approx(everywhere, rel=0.02)
