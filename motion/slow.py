"""The slow state y*: one vector per bar that remembers the arc the fast state has been drawing.

At each bar line the bar's mean fast state x̄ pulls y through the same quadratic spring that pulls
x toward C y during the bar:  y = argmin κ/2‖x̄ − C y‖² + μ/2‖y − y_prev‖² + λ/2‖y‖²  (box ±R),
found by a few projected-gradient steps with a step inside the safe interval (0, 2/(κ + μ + λ)).
`weights.FastWeights.coupling_gain` certifies that the bar-to-bar map, through the fast
equilibrium, is a contraction; the tests iterate the coupled pair to check it numerically too.

Tension φ is the stretch of that spring right now: how far the moment has left the bar's arc.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .weights import FastWeights

SLOW_STEPS = 8
TENSION_SCALE = 0.35  # stretch (latent units) that reads as tension tanh(1) ≈ 0.76


@njit(cache=True, nogil=True)
def _update(xbar, y, y_prev, C, kappa, mu, lam, box, gamma, K, grad):  # pragma: no cover - numba
    D, DS = C.shape
    for k in range(DS):
        y_prev[k] = y[k]
    r = 0.0
    for _ in range(K):
        # grad = κ Cᵀ(C y − x̄) + μ (y − y_prev) + λ y
        for k in range(DS):
            acc = 0.0
            for i in range(D):
                cy = 0.0
                for m in range(DS):
                    cy += C[i, m] * y[m]
                acc += C[i, k] * (cy - xbar[i])
            grad[k] = kappa * acc + mu * (y[k] - y_prev[k]) + lam * y[k]
        r2 = 0.0
        for k in range(DS):
            v = y[k] - gamma * grad[k]
            v = min(box, max(-box, v))
            r2 += (v - y[k]) ** 2
            y[k] = v
        r = math.sqrt(r2)
    return r


@njit(cache=True, nogil=True)
def _frame(x, total, C, y):  # pragma: no cover - numba
    """Add x to the bar's sum and return the spring's stretch ‖Cᵀx − y‖, in one pass."""
    D, DS = C.shape
    for i in range(D):
        total[i] += x[i]
    s2 = 0.0
    for k in range(DS):
        acc = -y[k]
        for i in range(D):
            acc += C[i, k] * x[i]
        s2 += acc * acc
    return math.sqrt(s2)


class SlowState:
    def __init__(self, weights: FastWeights, steps: int = SLOW_STEPS) -> None:
        self.w = weights
        D, DS = weights.C.shape
        self.y = np.zeros(DS)
        self._y_prev = np.zeros(DS)
        self._grad = np.zeros(DS)
        self._sum = np.zeros(D)
        self.frames = 0
        self.bar: int | None = None
        self.residual = 0.0
        self.steps = steps
        self.gamma = 1.0 / (weights.kappa + weights.mu + weights.lam_y)  # safe: (0, 2/(κ + μ + λ))

    def accumulate(self, x: np.ndarray) -> float:
        """Count this frame's x* into the bar; returns the tension φ ∈ [0, 1) of this moment."""
        self.frames += 1
        return math.tanh(_frame(x, self._sum, self.w.C, self.y) / TENSION_SCALE)

    def at_beat(self, beat: float, quantum: float) -> bool:
        """Close the bar when `beat` has crossed a bar line; True when y* moved."""
        bar = math.floor(beat / quantum)
        if self.bar is None:
            self.bar = bar
            return False
        if bar == self.bar:
            return False
        self.bar = bar
        if self.frames == 0:
            return False
        xbar = self._sum / self.frames
        w = self.w
        self.residual = _update(xbar, self.y, self._y_prev, w.C, w.kappa, w.mu, w.lam_y, w.box_y, self.gamma,
                                self.steps, self._grad)
        self._sum[:] = 0.0
        self.frames = 0
        return True

    def reset(self) -> None:
        self.y[:] = 0.0
        self._sum[:] = 0.0
        self.frames = 0
        self.bar = None
