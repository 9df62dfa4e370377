"""Evidence e_t from raw limb readings: gravity removed, short energy envelopes, bounded.

Per limb slot (six features, all clipped to ±`CLIP` so no spike can push the solver anywhere):

    motion  √(smoothed |a_dyn|²)  in g      bounce  a_dyn · ĝ (up is +)      accel  |a_dyn| now
    spin    √(smoothed |ω|²) / π             sway    |a_dyn − bounce·ĝ|       rate   |ω| now / π

where a_dyn is the accelerometer minus a slow gravity estimate ĝ (so phones that send gravity and
phones that do not look alike). A slot that goes stale contributes zeros and drops out of the mask;
when it comes back its gravity estimate restarts from the first new sample, so a returning phone
is not mistaken for a jolt. Runs in numba over arrays the caller owns: no allocation per frame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .limbs import SLOTS
from .weights import EVIDENCE, F

CLIP = 4.0
TAU_GRAVITY = 0.6  # seconds: slow enough to keep a wave out of the gravity estimate
TAU_ENVELOPE = 0.15  # seconds: energy envelopes follow a gesture within a beat
HEART_REST, HEART_SPAN = 70.0, 50.0


@njit(cache=True, nogil=True)
def _clip(v: float) -> float:
    if v > CLIP:
        return CLIP
    if v < -CLIP:
        return -CLIP
    return v


@njit(cache=True, nogil=True)
def evidence_kernel(accel, gyro, fresh, present, gyro_ok, dt, scalars, scalars_ok,
                    gravity, a_dyn, env_a, env_w, seen, e, mask):  # pragma: no cover - numba
    """Update the per-slot filters with fresh samples and write evidence `e` and `mask`. Returns level."""
    level = 0.0
    n = 0
    for s in range(accel.shape[0]):
        base = s * 6
        ok = present[s]
        if ok:
            for k in range(3):
                if not math.isfinite(accel[s, k]) or not math.isfinite(gyro[s, k]):
                    ok = False
        if not ok:
            mask[s] = 0.0
            seen[s] = 0
            env_a[s] = 0.0
            env_w[s] = 0.0
            for k in range(6):
                e[base + k] = 0.0
            continue
        mask[s] = 1.0
        wx = gyro[s, 0] if gyro_ok[s] else 0.0
        wy = gyro[s, 1] if gyro_ok[s] else 0.0
        wz = gyro[s, 2] if gyro_ok[s] else 0.0
        w2 = wx * wx + wy * wy + wz * wz
        if fresh[s]:
            h = dt[s]
            if h < 1e-3:
                h = 1e-3
            elif h > 0.25:
                h = 0.25
            if seen[s] == 0:
                for k in range(3):
                    gravity[s, k] = accel[s, k]
                seen[s] = 1
            else:
                ag = 1.0 - math.exp(-h / TAU_GRAVITY)
                for k in range(3):
                    gravity[s, k] += ag * (accel[s, k] - gravity[s, k])
            a2 = 0.0
            for k in range(3):
                a_dyn[s, k] = accel[s, k] - gravity[s, k]
                a2 += a_dyn[s, k] * a_dyn[s, k]
            ae = 1.0 - math.exp(-h / TAU_ENVELOPE)
            env_a[s] += ae * (a2 - env_a[s])
            env_w[s] += ae * (w2 - env_w[s])
        gn = math.sqrt(gravity[s, 0] ** 2 + gravity[s, 1] ** 2 + gravity[s, 2] ** 2)
        if gn > 0.3:
            ux, uy, uz = gravity[s, 0] / gn, gravity[s, 1] / gn, gravity[s, 2] / gn
        else:  # a sender that already removed gravity: take the device's z axis as "up"
            ux, uy, uz = 0.0, 0.0, 1.0
        ax, ay, az = a_dyn[s, 0], a_dyn[s, 1], a_dyn[s, 2]
        bounce = ax * ux + ay * uy + az * uz
        sx, sy, sz = ax - bounce * ux, ay - bounce * uy, az - bounce * uz
        motion = math.sqrt(max(env_a[s], 0.0))
        e[base + 0] = _clip(motion)
        e[base + 1] = _clip(math.sqrt(max(env_w[s], 0.0)) / math.pi)
        e[base + 2] = _clip(bounce)
        e[base + 3] = _clip(math.sqrt(sx * sx + sy * sy + sz * sz))
        e[base + 4] = _clip(math.sqrt(ax * ax + ay * ay + az * az))
        e[base + 5] = _clip(math.sqrt(w2) / math.pi)
        level += e[base + 0]
        n += 1
    g = accel.shape[0] * 6
    onset = scalars[0] if scalars_ok[0] and math.isfinite(scalars[0]) else 0.0
    e[g] = min(1.0, max(0.0, onset))
    heart = scalars[1] if scalars_ok[1] and math.isfinite(scalars[1]) else HEART_REST
    e[g + 1] = min(2.0, max(-2.0, (heart - HEART_REST) / HEART_SPAN))
    return level / n if n > 0 else 0.0


@njit(cache=True, nogil=True)
def _presence(now, n_accel, t_accel, t_gyro, stale_after, t_scalars, scalar_stale,
              seen_n, last_t, fresh, present, gyro_ok, dt, scalars_ok):  # pragma: no cover - numba
    """Which slots have a new sample (and how long since the last), which are alive; returns how many are."""
    alive = 0
    for s in range(n_accel.shape[0]):
        fresh[s] = n_accel[s] != seen_n[s]
        if fresh[s]:
            dt[s] = t_accel[s] - last_t[s] if math.isfinite(last_t[s]) else 0.0
            last_t[s] = t_accel[s]
            seen_n[s] = n_accel[s]
        present[s] = now - t_accel[s] <= stale_after[s]
        gyro_ok[s] = now - t_gyro[s] <= stale_after[s]
        if present[s]:
            alive += 1
    for i in range(t_scalars.shape[0]):
        scalars_ok[i] = now - t_scalars[i] <= scalar_stale
    return alive


@njit(cache=True, nogil=True)
def _frame(now, accel, gyro, n_accel, t_accel, t_gyro, stale_after, scalars, t_scalars, scalar_stale, seen_n,
           last_t, fresh, present, gyro_ok, dt, scalars_ok, gravity, a_dyn, env_a, env_w, seen, e, mask,
           out):  # pragma: no cover - numba
    """Presence then evidence in one call (one trip into numba per frame); out = [alive, level]."""
    out[0] = _presence(now, n_accel, t_accel, t_gyro, stale_after, t_scalars, scalar_stale, seen_n, last_t,
                       fresh, present, gyro_ok, dt, scalars_ok)
    out[1] = evidence_kernel(accel, gyro, fresh, present, gyro_ok, dt, scalars, scalars_ok, gravity, a_dyn,
                             env_a, env_w, seen, e, mask)


class Features:
    """The filter state for one performer, and the evidence arrays it writes every frame."""

    def __init__(self) -> None:
        assert F == 6
        self.gravity = np.zeros((SLOTS, 3))
        self.a_dyn = np.zeros((SLOTS, 3))
        self.env_a = np.zeros(SLOTS)
        self.env_w = np.zeros(SLOTS)
        self.seen = np.zeros(SLOTS, dtype=np.int64)
        self.e = np.zeros(EVIDENCE)
        self.mask = np.zeros(SLOTS)
        self.level = 0.0
        self.seen_n = np.zeros(SLOTS)
        self.last_t = np.full(SLOTS, -np.inf)
        self.fresh = np.zeros(SLOTS, dtype=np.bool_)
        self.present = np.zeros(SLOTS, dtype=np.bool_)
        self.gyro_ok = np.zeros(SLOTS, dtype=np.bool_)
        self.dt = np.zeros(SLOTS)
        self.scalars_ok = np.zeros(2, dtype=np.bool_)
        self._out = np.zeros(2)

    def frame(self, now: float, f: Any, scalar_stale: float) -> int:
        """Presence and evidence for one frame from a registry snapshot `f`; returns how many slots are alive."""
        _frame(now, f.accel, f.gyro, f.n_accel, f.t_accel, f.t_gyro, f.stale_after, f.scalars, f.t_scalars,
               scalar_stale, self.seen_n, self.last_t, self.fresh, self.present, self.gyro_ok, self.dt,
               self.scalars_ok, self.gravity, self.a_dyn, self.env_a, self.env_w, self.seen, self.e, self.mask,
               self._out)
        self.level = float(self._out[1])
        return int(self._out[0])

    def presence(self, now: float, n_accel: np.ndarray, t_accel: np.ndarray, t_gyro: np.ndarray,
                 stale_after: np.ndarray, t_scalars: np.ndarray, scalar_stale: float) -> int:
        """Mark fresh and alive slots from the registry's timestamps; returns how many are alive."""
        return _presence(now, n_accel, t_accel, t_gyro, stale_after, t_scalars, scalar_stale, self.seen_n,
                         self.last_t, self.fresh, self.present, self.gyro_ok, self.dt, self.scalars_ok)

    def update(self, accel: np.ndarray, gyro: np.ndarray, scalars: np.ndarray) -> float:
        """Evidence for this frame (after `presence`); returns the overall motion level."""
        self.level = evidence_kernel(accel, gyro, self.fresh, self.present, self.gyro_ok, self.dt, scalars,
                                     self.scalars_ok, self.gravity, self.a_dyn, self.env_a, self.env_w, self.seen,
                                     self.e, self.mask)
        return self.level
