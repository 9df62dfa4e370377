"""The expression layer: 1€ smoothing, the beat lock ψ, and the mapper's smoothing, slew and caps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.bridge.params import PARAMS
from copilot.motion.euro import OneEuro
from copilot.motion.mapper import DEFAULT_MAPPINGS, SOURCES, Mapper, Mapping, mappings_from_config
from copilot.motion.phase import BeatLock


def test_one_euro_removes_jitter_but_follows_a_fast_move() -> None:
    rng = np.random.default_rng(0)
    f = OneEuro(min_cutoff=1.0, beta=2.0)
    t = np.arange(0, 4, 0.01)
    still = [f(0.5 + 0.02 * rng.standard_normal(), ti) for ti in t[:200]]
    assert np.std(still[50:]) < 0.3 * 0.02  # held pose: jitter cut to a fraction
    moved = [f(1.0, ti) for ti in t[200:]]  # a step
    first_crossing = next(i for i, v in enumerate(moved) if v > 0.9)
    assert first_crossing * 0.01 < 0.25  # speed raised the cutoff: the step passes within a quarter second
    slow = OneEuro(min_cutoff=1.0, beta=0.0)
    for ti in t[:200]:
        slow(0.5, ti)
    lag = [slow(1.0, ti) for ti in t[200:]]
    assert next(i for i, v in enumerate(lag) if v > 0.9) > first_crossing  # β is what makes it quick
    with pytest.raises(ValueError):
        OneEuro(min_cutoff=0.0)


@pytest.mark.parametrize("offset", [0.0, 0.125, 0.3, 0.75])
def test_beat_lock_finds_the_groove_and_locks_psi_to_the_clock(offset: float) -> None:
    lock = BeatLock(window_beats=2.0)
    tempo = 120.0
    rng = np.random.default_rng(1)
    psi = []
    for i in range(2000):  # 10 s at 200 frames/s
        beat = i / 200.0 * tempo / 60.0
        pulse = math.cos(2 * math.pi * (beat - offset)) + 0.2 * rng.standard_normal()
        psi.append((beat, lock.update(pulse, beat)))
    assert lock.lock > 0.85
    assert abs(((lock.offset - offset + 0.5) % 1.0) - 0.5) < 0.02
    # ψ runs with the clock: it advances by exactly the beat step, wrapping at 1
    for (b0, p0), (b1, p1) in zip(psi[-100:], psi[-99:], strict=False):
        assert ((p1 - p0 - (b1 - b0) + 0.5) % 1.0) - 0.5 == pytest.approx(0.0, abs=0.01)


def test_beat_lock_reads_no_lock_from_movement_off_the_beat() -> None:
    lock = BeatLock(window_beats=2.0, offset=0.2)
    rng = np.random.default_rng(2)
    for i in range(4000):
        beat = i / 200.0 * 2.0
        lock.update(math.cos(2 * math.pi * 0.37 * beat) + 0.3 * rng.standard_normal(), beat)  # not beat-rate
    assert lock.lock < 0.35
    assert abs(((lock.offset - 0.2 + 0.5) % 1.0) - 0.5) < 0.2  # mostly the calibrated groove


def test_mapping_rows_validate() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        Mapping("flanger", "energy", 0, 1)
    with pytest.raises(ValueError, match="unknown source"):
        Mapping("fx_depth", "joy", 0, 1)
    with pytest.raises(ValueError, match="caps"):
        Mapping("master_gain", "energy", 0, 0.9)  # master gain is capped at unity (0.5)
    rows = mappings_from_config({"fx_depth": {"hi": 0.5}, "roll": {"enabled": False},
                                 "room": {"source": "tension", "lo": 0.0, "hi": 0.4}})
    by = {m.param: m for m in rows}
    assert by["fx_depth"].hi == 0.5 and not by["roll"].enabled and by["room"].hi == 0.4
    with pytest.raises(ValueError):
        mappings_from_config({"fx_depth": 3})
    assert all(m.source in SOURCES for m in DEFAULT_MAPPINGS)


def test_every_default_row_rests_at_its_parameters_neutral() -> None:
    for m in DEFAULT_MAPPINGS:
        rest = m.target(0.0)
        assert rest == pytest.approx(PARAMS[m.param].neutral), m.param


def test_nothing_is_sent_at_rest_and_neutral_is_restored_after_movement() -> None:
    mapper = Mapper()
    sent = []
    beat = 0.0
    for i in range(400):
        beat = i * 0.02
        sent += mapper.update({"energy": 0.0, "tension": 0.0}, beat / 2, beat)
    assert sent == []  # a performer who has not moved yet touches nothing
    for _ in range(400):
        beat += 0.02
        sent += mapper.update({"energy": 0.9, "upper": 0.9, "tension": 0.6}, beat / 2, beat)
    assert {p for p, _ in sent} >= {"fx_depth", "filter", "fx_send", "energy", "tension"}
    for _ in range(1000):
        beat += 0.02
        out = mapper.update({}, beat / 2, beat)
    assert out == [] and mapper.at_rest()
    last = {}
    for p, v in sent + [x for x in out]:
        last[p] = v
    assert mapper.values()["fx_depth"] == PARAMS["fx_depth"].neutral


sources = st.dictionaries(st.sampled_from(SOURCES),
                          st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-5, 5)))


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(st.tuples(sources, st.floats(0.001, 0.2)), min_size=2, max_size=120))
def test_mapper_outputs_stay_in_caps_and_within_the_slew_limit(frames) -> None:
    """Whatever the states do (NaN, ±Inf, jumps), every value sent is finite, inside the row's range
    and the parameter's hard caps, and moves no faster per beat than both allow."""
    mapper = Mapper(can=lambda p: True)
    rows = {r.mapping.param: r for r in mapper.rows}
    beat = 0.0
    last: dict[str, tuple[float, float]] = {p: (PARAMS[p].neutral, 0.0) for p in rows}
    for src, step in frames:
        beat += step
        for param, value in mapper.update(src, beat * 0.5, beat):
            m = rows[param].mapping
            spec = PARAMS[param]
            assert math.isfinite(value)
            assert spec.lo <= value <= spec.hi
            assert min(m.lo, m.hi) - 1e-12 <= value <= max(m.lo, m.hi) + 1e-12
            v0, b0 = last[param]
            assert abs(value - v0) <= min(m.slope, spec.max_slope) * (beat - b0) + 1e-9
            last[param] = (value, beat)


def test_rows_that_need_a_capable_target_are_left_out_otherwise() -> None:
    assert "eq_low" not in Mapper().params  # no target information: EQ stays untouched
    assert "eq_low" in Mapper(can=lambda p: True).params
    assert Mapper(can=lambda p: p != "pan").params.count("pan") == 0


def test_balance_is_signed_around_the_centre() -> None:
    pan = next(m for m in DEFAULT_MAPPINGS if m.param == "pan")
    assert pan.target(0.0) == 0.5
    assert pan.target(1.0) == pytest.approx(pan.hi) and pan.target(-1.0) == pytest.approx(pan.lo)
    assert pan.target(0.6) > 0.5 > pan.target(-0.6)
