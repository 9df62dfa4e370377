"""The fast state: LIM-RPS, a warm-started forward–backward fixed-point loop, per frame, in numba.

Each frame starts from the previous x* (warm start) and applies the certified contraction T of
`weights.py` at most K times (3–4), stopping early once the residual ‖T(z) − z‖ is below `tol`: easy
frames cost fewer steps. Optional Halpern anchoring (z ← β·anchor + (1 − β)·T(z), β = 1/(k + 2))
pulls the iterates toward the warm start for extra calm. Every frame reports its residual, the
contraction factor L of this frame's step field (headroom = 1 − L) and an a-posteriori error bound
L·r/(1 − L) on the distance to the true equilibrium.

The heads read x*: per-limb energies, the overall energy (a weighted norm: its radius is calibrated
and clamped to 1 by the caller) and the pulse the beat lock follows. Every array is allocated once in
`FastSolver.__init__`; `step()` allocates nothing inside numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .limbs import SLOTS
from .weights import CONTEXT, DS, FastWeights, default_weights

# Layout of the per-frame report array.
R_ITERS, R_RESIDUAL, R_PREV, R_LIPSCHITZ, R_SMIN, R_SMAX, R_RESET, R_BOUND = range(8)
REPORT = 8
# Layout of the heads array: limb energies, then energy norm and pulse.
HEAD_ENERGY = SLOTS
HEAD_PULSE = SLOTS + 1
HEADS = SLOTS + 2


@njit(cache=True, nogil=True, inline="always")
def _evidence_terms(e, B, b1, V, c, u, w):  # pragma: no cover - numba
    """The constants of this frame's Φ: u = B e + b1 (inside the tanh), w = V e + c (beside it)."""
    E = e.shape[0]
    for j in range(u.shape[0]):
        acc = b1[j]
        for k in range(E):
            acc += B[j, k] * e[k]
        u[j] = acc
    for i in range(w.shape[0]):
        acc = c[i]
        for k in range(E):
            acc += V[i, k] * e[k]
        w[i] = acc


@njit(cache=True, nogil=True, inline="always")
def _operator(x, cy, W1, W2, u, w, s, lam1, lam2, box, kappa, hid, tz):  # pragma: no cover - numba
    """T(x) once into `tz`, the one forward–backward step the solver iterates; returns ‖T(x) − x‖²."""
    D = x.shape[0]
    H = W1.shape[0]
    for j in range(H):
        acc = u[j]
        for i in range(D):
            acc += W1[j, i] * x[i]
        hid[j] = math.tanh(acc)
    r2 = 0.0
    for i in range(D):
        phi = w[i]
        for j in range(H):
            phi += W2[i, j] * hid[j]
        si = s[i]
        v = x[i] - si * ((x[i] - phi) + kappa * (x[i] - cy[i]))  # forward step
        t = si * lam1  # backward step: soft threshold, L2 shrink, box
        if v > t:
            v -= t
        elif v < -t:
            v += t
        else:
            v = 0.0
        v /= 1.0 + si * lam2
        if v > box:
            v = box
        elif v < -box:
            v = -box
        tz[i] = v
        d = v - x[i]
        r2 += d * d
    return r2


@njit(cache=True, nogil=True)
def _solve(e, mask, level, x, cy, W1, B, b1, W2, V, c, G, g0, s_lo, s_hi, lam1, lam2, box, kappa, rho,
           K, tol, halpern, u, w, s, hid, tz, anchor, report):  # pragma: no cover - numba
    D = x.shape[0]
    NC = G.shape[1]
    _evidence_terms(e, B, b1, V, c, u, w)
    # the step field for this context, and this frame's contraction factor
    smin = 1e300
    smax = 0.0
    lin = 0.0
    for i in range(D):
        a = g0[i] + G[i, NC - 1] * level
        for k in range(NC - 1):
            a += G[i, k] * mask[k]
        si = s_lo[i] + (s_hi[i] - s_lo[i]) / (1.0 + math.exp(-a))
        s[i] = si
        smin = min(smin, si)
        smax = max(smax, si)
        lin = max(lin, abs(1.0 - si * (1.0 + kappa)))
    L = lin + rho * smax
    for i in range(D):
        anchor[i] = x[i]
    r = 0.0
    r_prev = 0.0
    iters = 0
    for k in range(K):
        r2 = _operator(x, cy, W1, W2, u, w, s, lam1, lam2, box, kappa, hid, tz)
        r_prev = r
        r = math.sqrt(r2)
        iters = k + 1
        if halpern:
            beta = 1.0 / (k + 2.0)
            for i in range(D):
                x[i] = beta * anchor[i] + (1.0 - beta) * tz[i]
        else:
            for i in range(D):
                x[i] = tz[i]
        if r < tol:
            break
    reset = 0.0
    if not math.isfinite(r):  # cannot happen with checked inputs; if it ever does, start again from rest
        for i in range(D):
            x[i] = 0.0
        reset = 1.0
        r = 0.0
    report[R_ITERS] = iters
    report[R_RESIDUAL] = r
    report[R_PREV] = r_prev
    report[R_LIPSCHITZ] = L
    report[R_SMIN] = smin
    report[R_SMAX] = smax
    report[R_RESET] = reset
    report[R_BOUND] = L * r / (1.0 - L) if L < 1.0 else math.inf


@njit(cache=True, nogil=True)
def _heads(x, mask, limb_head, energy_weights, pulse_head, heads):  # pragma: no cover - numba
    D = x.shape[0]
    for s in range(limb_head.shape[0]):
        acc = 0.0
        for i in range(D):
            acc += limb_head[s, i] * x[i]
        heads[s] = max(0.0, acc) * mask[s]
    n2 = 0.0
    p = 0.0
    for i in range(D):
        n2 += energy_weights[i] * x[i] * x[i]
        p += pulse_head[i] * x[i]
    heads[HEAD_ENERGY] = math.sqrt(n2)
    heads[HEAD_PULSE] = p


@njit(cache=True, nogil=True)
def solver_kernel(e, mask, level, x, cy, W1, B, b1, W2, V, c, G, g0, s_lo, s_hi, lam1, lam2, box, kappa, rho,
                  K, tol, halpern, u, w, s, hid, tz, anchor, report, limb_head, energy_weights, pulse_head,
                  heads):  # pragma: no cover - numba
    """One frame, compiled: settle x* (warm-started), then the heads. What `FastSolver.step` runs."""
    _solve(e, mask, level, x, cy, W1, B, b1, W2, V, c, G, g0, s_lo, s_hi, lam1, lam2, box, kappa, rho,
           K, tol, halpern, u, w, s, hid, tz, anchor, report)
    _heads(x, mask, limb_head, energy_weights, pulse_head, heads)


@njit(cache=True, nogil=True)
def _apply(x, cy, W1, B, b1, W2, V, c, s, lam1, lam2, box, kappa, e, out, hid, u, w):  # pragma: no cover - numba
    """T(x) once with a given step vector s: the solver's own operator, for tests of the operator itself."""
    _evidence_terms(e, B, b1, V, c, u, w)
    _operator(x, cy, W1, W2, u, w, s, lam1, lam2, box, kappa, hid, out)


@dataclass
class FastReport:
    iterations: int
    residual: float
    previous_residual: float
    lipschitz: float
    headroom: float
    error_bound: float
    reset: bool


class FastSolver:
    """One performer's fast state: weights, warm start, scratch, and the last report."""

    def __init__(self, weights: FastWeights | None = None, iterations: int = 4, tol: float = 1e-6,
                 halpern: bool = False) -> None:
        if not 1 <= iterations <= 16:
            raise ValueError(f"iterations must be 1..16, got {iterations}")
        self.weights = weights if weights is not None else default_weights()
        self.weights.check()
        self.K = int(iterations)
        self.tol = float(tol)
        self.halpern = bool(halpern)
        w = self.weights
        self.rho = w.rho
        D = w.W1.shape[1]
        H = w.W1.shape[0]
        self.x = np.zeros(D)
        self.cy = np.zeros(D)  # C y*: where the spring pulls (the slow state, in latent coordinates)
        self._u = np.zeros(H)
        self._w = np.zeros(D)
        self.step_field = np.zeros(D)  # s of the last frame: the context's step per coordinate
        self._hid = np.zeros(H)
        self._tz = np.zeros(D)
        self._anchor = np.zeros(D)
        self.report = np.zeros(REPORT)
        self.heads = np.zeros(HEADS)
        self._ctx = np.zeros(CONTEXT)
        assert w.C.shape[1] == DS

    def step(self, e: np.ndarray, mask: np.ndarray, level: float) -> None:
        """One frame: settle x* for evidence e (warm-started), then the heads. Results in place."""
        w = self.weights
        solver_kernel(e, mask, level, self.x, self.cy, w.W1, w.B, w.b1, w.W2, w.V, w.c, w.G, w.g0, w.s_lo, w.s_hi,
              w.lam1, w.lam2, w.box, w.kappa, self.rho, self.K, self.tol, self.halpern, self._u, self._w,
              self.step_field, self._hid, self._tz, self._anchor, self.report, w.limb_head, w.energy_weights,
              w.pulse_head, self.heads)

    def set_slow(self, y: np.ndarray) -> None:
        np.dot(self.weights.C, y, out=self.cy)

    def apply(self, x: np.ndarray, e: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
        """T(x) for evidence e with step vector s (default: the high edge of the step field)."""
        w = self.weights
        out = np.zeros_like(x)
        H, D = w.W1.shape
        _apply(np.ascontiguousarray(x, dtype=np.float64), self.cy, w.W1, w.B, w.b1, w.W2, w.V, w.c,
               w.s_hi if s is None else s, w.lam1, w.lam2, w.box, w.kappa, e, out, np.zeros(H), np.zeros(H),
               np.zeros(D))
        return out

    def last(self) -> FastReport:
        r = self.report
        return FastReport(int(r[R_ITERS]), float(r[R_RESIDUAL]), float(r[R_PREV]), float(r[R_LIPSCHITZ]),
                          1.0 - float(r[R_LIPSCHITZ]), float(r[R_BOUND]), bool(r[R_RESET]))

    def reset(self) -> None:
        self.x[:] = 0.0
