"""Envelopes: curves, caps, slew limits, wire quantisation and JSON round trips."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.bridge.envelope import Breakpoint, Curve, Envelope, slew_limit
from copilot.bridge.midi import cc_stream, from_cc7, from_cc14, to_cc7, to_cc14
from copilot.bridge.params import PARAMS


def test_linear_ramp_values_and_ends():
    env = Envelope.ramp("crossfader", 8.0, 4.0, 0.0, 1.0)
    assert env.value_at(7.0) == 0.0 and env.value_at(13.0) == 1.0
    assert env.value_at(10.0) == pytest.approx(0.5)


@pytest.mark.parametrize("curve", list(Curve))
def test_every_curve_starts_and_ends_on_its_breakpoints_and_is_monotonic(curve):
    env = Envelope.ramp("fx_depth", 0.0, 1.0, 0.2, 0.8, curve)
    values = [env.raw_value_at(i / 100) for i in range(101)]
    assert values[0] == pytest.approx(0.2) and values[-1] == pytest.approx(0.8)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def test_caps_clamp_and_nan_becomes_neutral():
    env = Envelope("trim", (Breakpoint(0, 0.0), Breakpoint(1, 1.0)))
    assert env.value_at(1.0) == PARAMS["trim"].hi == 0.75
    assert PARAMS["filter"].clamp(float("nan")) == 0.5


def test_envelope_caps_override_is_kept_through_json():
    env = Envelope.ramp("volume", 0, 4, 0.0, 1.0).with_caps(PARAMS["volume"].__class__(
        "volume", 1.0, lo=0.0, hi=0.8, max_slope=0.1))
    back = Envelope.from_dict(json.loads(json.dumps(env.to_dict())))
    assert back == env and back.value_at(4.0) == 0.8
    rendered = dict(back.render(1.0))
    assert rendered[4.0] == pytest.approx(0.4)  # 0.1 per beat over 4 beats …
    assert rendered[8.0] == pytest.approx(0.8)  # … and it keeps going until it gets there


def test_render_respects_the_slope_limit_from_the_current_value():
    env = Envelope.ramp("trim", 0.0, 0.25, 0.5, 0.5)  # flat, but the fader is at 0 now
    points = env.render(0.125, start_value=0.0)
    assert points[0][1] == 0.0  # cannot jump at beat 0
    assert all(abs(b[1] - a[1]) <= 0.5 * 0.125 + 1e-12 for a, b in itertools.pairwise(points))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 64), st.floats(-0.5, 1.5), st.sampled_from(list(Curve))), min_size=1, max_size=8),
    st.sampled_from(sorted(PARAMS)),
)
def test_json_round_trip_and_bounds_for_any_envelope(raw, name):
    points = tuple(Breakpoint(b, v, c) for b, v, c in sorted(raw, key=lambda p: p[0]))
    env = Envelope(name, points, "A")
    assert Envelope.from_dict(json.loads(json.dumps(env.to_dict()))) == env
    spec = PARAMS[name]
    rendered = env.render(0.25)
    assert all(spec.lo <= v <= spec.hi for _, v in rendered)
    if math.isfinite(spec.max_slope):
        assert all(abs(b[1] - a[1]) <= spec.max_slope * (b[0] - a[0]) + 1e-9
                   for a, b in itertools.pairwise(rendered))


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from([Curve.EXP, Curve.SMOOTH, Curve.EASE_IN, Curve.EASE_OUT]))
def test_engine_segments_stay_within_their_error_bound(a, b, curve):
    env = Envelope("pan", (Breakpoint(0.0, a, curve), Breakpoint(2.0, b)))
    corners = env.segments(max_error=1 / 512)
    for i in range(201):
        beat = i / 100
        # linear interpolation between corners, the way the engine ramps per sample
        j = max(k for k in range(len(corners)) if corners[k][0] <= beat)
        if j == len(corners) - 1:
            approx = corners[j][1]
        else:
            (b0, v0), (b1, v1) = corners[j], corners[j + 1]
            approx = v0 if b1 == b0 else v0 + (v1 - v0) * (beat - b0) / (b1 - b0)
        assert abs(approx - env.value_at(beat)) <= 1 / 512 + 1e-9


def test_cc_quantisation_round_trips():
    assert to_cc7(0.0) == 0 and to_cc7(1.0) == 127 and to_cc7(2.0) == 127 and to_cc7(-1) == 0
    assert to_cc14(1.0) == (127, 127) and to_cc14(0.0) == (0, 0)
    for v in (0.0, 0.1234, 0.5, 0.999):
        assert abs(from_cc14(*to_cc14(v)) - v) <= 0.5 / 16383 + 1e-12
        assert abs(from_cc7(to_cc7(v)) - v) <= 0.5 / 127 + 1e-12


def test_cc_stream_sends_only_changes_and_14_bit_has_finer_steps():
    env = Envelope.ramp("filter", 0.0, 4.0, 0.5, 0.52)
    seven = list(cc_stream(env, 1 / 64, False))
    fourteen = list(cc_stream(env, 1 / 64, True))
    assert len(seven) < 5  # 0.02 of range is ~2.5 steps of 7-bit
    assert len(fourteen) > 100
    assert all(seven[i][1] != seven[i + 1][1] for i in range(len(seven) - 1))


def test_slew_limit_keeps_the_first_value_without_a_start():
    assert slew_limit([0, 1, 2], [1.0, 0.0, 0.0], 0.25) == [1.0, 0.75, 0.5]


def test_bad_envelopes_are_refused_clearly():
    with pytest.raises(ValueError, match="beat order"):
        Envelope("pan", (Breakpoint(2, 0), Breakpoint(1, 1)))
    with pytest.raises(KeyError, match="unknown parameter"):
        Envelope("wobble", (Breakpoint(0, 0),))
    with pytest.raises(ValueError, match="finite"):
        Envelope("pan", (Breakpoint(float("nan"), 0),))


def test_a_step_steeper_than_the_slew_limit_still_arrives_late():
    env = Envelope("trim", (Breakpoint(0, 0.5), Breakpoint(1, 0.5, Curve.LINEAR), Breakpoint(1.0, 0.0)))
    points = env.render(0.25)
    assert points[-1][1] == 0.0 and 1.5 < points[-1][0] <= 2.0  # 0.5 at 0.5 per beat: about one beat late
    corners = env.segments()
    assert corners[-1] == (pytest.approx(2.0), 0.0)
