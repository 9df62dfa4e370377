"""LIM-RPS: the operator is a certified contraction, the residual falls geometrically, the coupled
fast/slow map converges, and nothing the sensors do can push the states out of bounds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.motion.features import Features
from copilot.motion.limbs import SLOTS
from copilot.motion.slow import SlowState
from copilot.motion.solver import HEAD_ENERGY, R_BOUND, R_LIPSCHITZ, R_PREV, R_RESIDUAL, FastSolver
from copilot.motion.weights import CONTEXT, DS, EVIDENCE, FastWeights, default_weights
from copilot.tests.fixtures_motion import random_weights

D = 32
seeds = st.integers(0, 2**31 - 1)


def _vec(seed: int, n: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * scale


def test_default_weights_are_certified() -> None:
    w = default_weights()
    cert = w.certificate()
    assert cert["lipschitz"] < 0.6  # K = 4 steps shrink the residual at least 0.6⁴ ≈ 0.13×
    assert cert["coupling_gain"] < 0.95
    assert w.rho == pytest.approx(0.4, rel=1e-9)


def test_check_refuses_an_expansive_map_and_make_safe_repairs_it() -> None:
    w = default_weights().copy()
    w.W2 = w.W2 * 5.0  # ρ = 2
    with pytest.raises(ValueError, match="not contracting"):
        w.check()
    safe = w.make_safe()
    safe.check()
    assert safe.lipschitz() <= 0.6 + 1e-9
    w2 = default_weights().copy()
    w2.s_hi = np.full(D, 1.9)  # steps outside the safe interval
    with pytest.raises(ValueError):
        w2.check()
    assert w2.make_safe().s_hi.max() <= 1.0 / (1.0 + w2.kappa) + 1e-12


def test_weights_round_trip_through_json(tmp_path) -> None:
    w = random_weights(3)
    path = tmp_path / "w.json"
    w.save(path)
    back = FastWeights.load(path)
    assert np.array_equal(back.W1, w.W1) and back.kappa == w.kappa
    data = w.to_dict()
    data["W2"] = (np.asarray(data["W2"]) * 10).tolist()
    with pytest.raises(ValueError):
        FastWeights.from_dict(data)


@settings(max_examples=60, deadline=None)
@given(wseed=seeds, a=seeds, b=seeds, eseed=seeds, sseed=seeds, scale=st.floats(0.01, 50.0))
def test_operator_is_nonexpansive_for_random_pairs(wseed: int, a: int, b: int, eseed: int, sseed: int,
                                                    scale: float) -> None:
    """‖T(x) − T(y)‖ ≤ L‖x − y‖ ≤ ‖x − y‖ for any step field inside the box, any evidence, any spring."""
    w = random_weights(wseed % 50)
    solver = FastSolver(w)
    solver.set_slow(_vec(sseed, DS))
    e = _vec(eseed, EVIDENCE, 3.0)
    rng = np.random.default_rng(sseed)
    s = w.s_lo + (w.s_hi - w.s_lo) * rng.uniform(0, 1, D)  # any step field the context can produce
    x, y = _vec(a, D, scale), _vec(b, D, scale)
    tx, ty = solver.apply(x, e, s), solver.apply(y, e, s)
    L = w.lipschitz()
    assert L < 1.0
    assert np.linalg.norm(tx - ty) <= L * np.linalg.norm(x - y) + 1e-12


@settings(max_examples=30, deadline=None)
@given(wseed=seeds, eseed=seeds, xseed=seeds, sseed=seeds, level=st.floats(0.0, 1.0))
def test_the_operator_judged_above_is_the_one_each_frame_iterates(wseed: int, eseed: int, xseed: int, sseed: int,
                                                                  level: float) -> None:
    """`apply` and `step` run one compiled operator: K plain iterations of a frame land exactly where K
    applications of `apply`, with the step field that frame used, do."""
    w = random_weights(wseed % 50)
    solver = FastSolver(w, iterations=3, tol=0.0)
    solver.set_slow(_vec(sseed, DS))
    e = _vec(eseed, EVIDENCE, 2.0)
    mask = (np.random.default_rng(sseed).uniform(0, 1, SLOTS) > 0.3).astype(np.float64)
    x0 = np.clip(_vec(xseed, D, 3.0), -w.box, w.box)
    solver.x[:] = x0
    solver.step(e, mask, level)
    z = x0
    for _ in range(3):
        z = solver.apply(z, e, solver.step_field)
    assert np.array_equal(z, solver.x)


@settings(max_examples=40, deadline=None)
@given(wseed=seeds, eseed=seeds, xseed=seeds, halpern=st.booleans())
def test_residual_shrinks_geometrically(wseed: int, eseed: int, xseed: int, halpern: bool) -> None:
    """Each iteration's residual is at most L × the previous one (plain iteration), and the reported
    error bound really bounds the distance to the equilibrium."""
    w = random_weights(wseed % 50)
    e = _vec(eseed, EVIDENCE, 2.0)
    mask = np.ones(SLOTS)
    x0 = _vec(xseed, D, 3.0)
    x0 = np.clip(x0, -w.box, w.box)
    residuals = []
    for K in range(1, 9):
        solver = FastSolver(w, iterations=K, tol=0.0)
        solver.x[:] = x0
        solver.step(e, mask, 0.3)
        residuals.append(solver.report[R_RESIDUAL])
        L = solver.report[R_LIPSCHITZ]
        assert w.lipschitz() + 1e-12 >= L
        if K > 1 and not solver.halpern:
            assert solver.report[R_PREV] == pytest.approx(residuals[-2], rel=1e-12, abs=1e-15)
    for prev, nxt in itertools.pairwise(residuals):
        assert nxt <= L * prev + 1e-12
    # the a-posteriori bound: run to the equilibrium and compare
    solver = FastSolver(w, iterations=4, tol=0.0, halpern=halpern)
    solver.x[:] = x0
    solver.step(e, mask, 0.3)
    x4, bound = solver.x.copy(), solver.report[R_BOUND]
    star = FastSolver(w, iterations=16, tol=0.0)
    star.x[:] = x4
    for _ in range(6):
        star.step(e, mask, 0.3)
    assert star.report[R_RESIDUAL] < 1e-9
    if not halpern:
        assert np.linalg.norm(x4 - star.x) <= bound + 1e-9
    else:  # Halpern is anchored, not monotone, but it still converges to the same equilibrium
        h = FastSolver(w, iterations=16, tol=0.0, halpern=True)
        h.x[:] = x0
        for _ in range(40):
            h.step(e, mask, 0.3)
        assert np.linalg.norm(h.x - star.x) < 0.05 * (1 + np.linalg.norm(star.x))


def test_warm_start_keeps_the_residual_small_on_smooth_evidence() -> None:
    solver = FastSolver(default_weights(), iterations=4)
    mask = np.ones(SLOTS)
    worst = 0.0
    for i in range(400):
        e = np.zeros(EVIDENCE)
        e[:36] = 0.8 + 0.5 * np.sin(2 * np.pi * i / 50 + np.arange(36))
        solver.step(e, mask, 0.5)
        if i > 10:
            worst = max(worst, solver.report[R_RESIDUAL])
    assert worst < 5e-3  # changes of ~6 % of the range per frame settle to 0.1 % in four steps


def test_easy_frames_take_fewer_steps() -> None:
    solver = FastSolver(default_weights(), iterations=4, tol=1e-6)
    e = np.zeros(EVIDENCE)
    e[0] = 1.0
    mask = np.ones(SLOTS)
    for _ in range(20):
        solver.step(e, mask, 0.2)
    assert solver.last().iterations < 4  # settled: the loop stops early
    e[0] = 2.0
    solver.step(e, mask, 0.2)
    assert solver.last().iterations == 4


@settings(max_examples=25, deadline=None)
@given(wseed=seeds, eseed=seeds, a=seeds, b=seeds)
def test_coupled_fast_slow_map_converges(wseed: int, eseed: int, a: int, b: int) -> None:
    """Bar after bar with the same evidence, two different starting (x, y) pairs meet, at the rate the
    coupling certificate promises."""
    w = random_weights(wseed % 50, kappa=0.3)
    gain = w.coupling_gain()
    assert gain < 1.0
    e = _vec(eseed, EVIDENCE, 2.0)
    mask = np.ones(SLOTS)

    def start(seed: int) -> tuple[FastSolver, SlowState]:
        fast, slow = FastSolver(w, iterations=16, tol=1e-13), SlowState(w, steps=40)
        fast.x[:] = np.clip(_vec(seed, D, 2.0), -w.box, w.box)
        slow.y[:] = _vec(seed + 1, DS, 2.0)
        fast.set_slow(slow.y)
        return fast, slow

    pairs = [start(a), start(b)]
    gaps = []
    for bar in range(12):
        for fast, slow in pairs:
            for _ in range(4):  # the bar's frames: the fast state settles with this bar's y
                fast.step(e, mask, 0.4)
                slow.accumulate(fast.x)
            slow.at_beat(4.0 * bar, 4.0)
            fast.set_slow(slow.y)
        (_, s1), (_, s2) = pairs
        gaps.append(float(np.linalg.norm(s1.y - s2.y)))
    assert gaps[-1] < 1e-3 * max(1.0, gaps[1])
    for prev, nxt in itertools.pairwise(gaps[2:]):
        assert nxt <= gain * prev + 1e-6
    assert np.linalg.norm(pairs[0][0].x - pairs[1][0].x) < 1e-3


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
anything = st.one_of(finite, st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(-40, 40))


@settings(max_examples=40, deadline=None)
@given(frames=st.lists(st.tuples(st.lists(anything, min_size=18, max_size=18),
                                 st.lists(st.booleans(), min_size=SLOTS, max_size=SLOTS),
                                 st.floats(0.0, 0.3)), min_size=5, max_size=60))
def test_features_and_solver_stay_bounded_under_adversarial_input(frames) -> None:
    """NaN, ±Inf, huge spikes and sensors dropping in and out never make x* or the heads leave their box."""
    feats = Features()
    solver = FastSolver(default_weights())
    accel = np.zeros((SLOTS, 3))
    gyro = np.zeros((SLOTS, 3))
    scalars = np.array([math.nan, math.inf])
    t = 0.0
    for values, alive, dt in frames:
        t += dt
        v = np.asarray(values, dtype=np.float64).reshape(SLOTS, 3)
        accel[:] = v
        gyro[:] = v[::-1]
        feats.present[:] = alive
        feats.fresh[:] = alive
        feats.gyro_ok[:] = alive
        feats.dt[:] = dt
        feats.scalars_ok[:] = True
        level = feats.update(accel, gyro, scalars)
        assert np.all(np.isfinite(feats.e)) and np.all(np.abs(feats.e) <= 4.0)
        assert math.isfinite(level)
        solver.step(feats.e, feats.mask, level)
        assert np.all(np.isfinite(solver.x)) and np.all(np.abs(solver.x) <= default_weights().box)
        assert np.all(np.isfinite(solver.heads))
        assert solver.heads[HEAD_ENERGY] <= 20.0
        assert not solver.last().reset


def test_the_numba_frame_allocates_nothing() -> None:
    """No heap allocation inside the compiled frame: numba's runtime counts every allocation, and
    running the frame 500 times inside numba costs exactly what running it once does (the only
    allocations are numba's wrappers for the arrays handed in at the call boundary)."""
    from numba import njit
    from numba.core.runtime import _nrt_python, rtsys

    from copilot.motion.features import evidence_kernel
    from copilot.motion.solver import solver_kernel

    @njit
    def frames(n, feature_args, solve_args):  # type: ignore[no-untyped-def]
        for _ in range(n):
            evidence_kernel(*feature_args)
            solver_kernel(*solve_args)

    solver = FastSolver(default_weights())
    feats = Features()
    accel = np.random.default_rng(0).standard_normal((SLOTS, 3))
    gyro = np.random.default_rng(1).standard_normal((SLOTS, 3))
    feats.present[:] = feats.fresh[:] = feats.gyro_ok[:] = True
    feats.dt[:] = 0.01
    w = solver.weights
    fa = (accel, gyro, feats.fresh, feats.present, feats.gyro_ok, feats.dt, np.zeros(2), feats.scalars_ok,
          feats.gravity, feats.a_dyn, feats.env_a, feats.env_w, feats.seen, feats.e, feats.mask)
    sa = (feats.e, feats.mask, 0.3, solver.x, solver.cy, w.W1, w.B, w.b1, w.W2, w.V, w.c, w.G, w.g0, w.s_lo, w.s_hi,
          w.lam1, w.lam2, w.box, w.kappa, solver.rho, 4, 0.0, False, solver._u, solver._w, solver.step_field,
          solver._hid, solver._tz, solver._anchor, solver.report, w.limb_head, w.energy_weights, w.pulse_head,
          solver.heads)
    frames(1, fa, sa)  # compile
    was_on = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        a0 = rtsys.get_allocation_stats().alloc
        frames(1, fa, sa)
        once = rtsys.get_allocation_stats().alloc - a0
        a1 = rtsys.get_allocation_stats().alloc
        frames(500, fa, sa)
        many = rtsys.get_allocation_stats().alloc - a1

        @njit
        def allocates(n: int) -> float:  # the counter does count: a kernel that allocates moves it
            total = 0.0
            for _ in range(n):
                total += np.zeros(3).sum()
            return total

        allocates(1)
        a2 = rtsys.get_allocation_stats().alloc
        allocates(50)
        moved = rtsys.get_allocation_stats().alloc - a2
    finally:
        if not was_on:
            _nrt_python.memsys_disable_stats()
    assert many == once
    assert moved >= 50
    assert solver.report[R_RESIDUAL] < 1.0 and CONTEXT == SLOTS + 1
