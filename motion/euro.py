"""The 1€ filter (Casiez, Roussel & Vogel, CHI 2012): smooth when slow, quick when fast.

A first-order low-pass whose cutoff rises with the signal's speed: cutoff = min_cutoff + β·|ẋ|.
Jitter on a held pose is removed (low cutoff); a sudden sweep passes with little lag (high cutoff).
"""

from __future__ import annotations

import math


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    __slots__ = ("_dx", "_t", "_x", "beta", "d_cutoff", "min_cutoff")

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.5, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("1€ filter needs min_cutoff > 0, d_cutoff > 0, beta ≥ 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: float | None = None
        self._dx = 0.0
        self._t = 0.0

    def __call__(self, x: float, t: float) -> float:
        if self._x is None:
            self._x, self._t = x, t
            return x
        dt = t - self._t
        if dt <= 0.0:
            return self._x
        self._t = t
        dx = (x - self._x) / dt
        self._dx += _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += _alpha(cutoff, dt) * (x - self._x)
        return self._x

    @property
    def value(self) -> float | None:
        return self._x

    def reset(self, x: float | None = None, t: float = 0.0) -> None:
        self._x, self._dx, self._t = x, 0.0, t
