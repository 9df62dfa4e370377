"""Calibration: fit a performer's ranges (and a few learned weights) from a "wave to the beat" take.

The take starts with one still bar (the count-in) and then the performer moves to the beat. Played
offline through the real pipeline with the default profile, it gives per frame the raw heads, the
latent x* and the clock's beat. From those:

* rest and full-scale ranges of the overall energy (the clamp radius) and of every limb seen;
* the performer's groove: the phase of their pulse against the beat (ψ's offset prior);
* a learned pulse head: ridge regression of the beat's cosine (at that groove) on x*, kept only if
  it locks to the beat better than the default head does on the same take;
* a learned step-field scale: the one (within the certified bound) whose K-step residual over the
  take's own evidence is smallest.

Everything is numpy/numba on the recorded frames; no network, no other data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import MotionEngine
from .limbs import LIMBS, SLOTS
from .offline import rig
from .phase import BeatLock
from .profile import Profile
from .record import Take
from .solver import HEAD_ENERGY, HEAD_PULSE, FastSolver
from .weights import FastWeights, default_weights

STEP_SCALES = (0.85, 0.9, 0.95, 1.0, 1.04, 1.08)
RIDGE = 1e-2
MIN_FRAMES = 200


class CalibrationError(ValueError):
    """The take cannot calibrate anything; the message says what to do differently."""


@dataclass
class Recorded:
    beats: np.ndarray  # (N,)
    heads: np.ndarray  # (N, HEADS)
    x: np.ndarray  # (N, D)
    e: np.ndarray  # (N, EVIDENCE)
    mask: np.ndarray  # (N, SLOTS)
    level: np.ndarray  # (N,)


@dataclass
class FitReport:
    frames: int
    still_frames: int
    lock: float
    groove_offset: float
    pulse_learned: bool
    lock_learned: float
    step_scale: float
    residual: dict[str, float]
    limbs: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def record_frames(take: Take, performer: str, weights: FastWeights) -> Recorded:
    """Run the take offline and keep what every frame of `performer` computed."""
    r = rig(take, performer=performer, weights=weights, mappings=())
    rows: dict[str, list[Any]] = {k: [] for k in ("beats", "heads", "x", "e", "mask", "level")}
    engine: MotionEngine = r.engine

    def keep(states: list[Any]) -> None:
        perf = engine.performers.get(performer)
        if perf is None or not any(s.performer == performer for s in states):
            return
        rows["beats"].append(perf.beat)
        rows["heads"].append(perf.solver.heads.copy())
        rows["x"].append(perf.solver.x.copy())
        rows["e"].append(perf.features.e.copy())
        rows["mask"].append(perf.features.mask.copy())
        rows["level"].append(perf.features.level)

    r.run(take.datagrams, on_frame=keep)
    if not rows["beats"]:
        raise CalibrationError(f"the take has no movement from performer {performer!r}")
    return Recorded(*(np.asarray(rows[k], dtype=np.float64) for k in ("beats", "heads", "x", "e", "mask", "level")))


def _lock(pulse: np.ndarray, beats: np.ndarray, offset: float = 0.0) -> BeatLock:
    lk = BeatLock(offset=offset)
    for p, b in zip(pulse, beats, strict=True):
        lk.update(float(p), float(b))
    return lk


def _mean_residual(rec: Recorded, weights: FastWeights, K: int) -> float:
    solver = FastSolver(weights, K)
    total = 0.0
    for i in range(len(rec.beats)):
        solver.step(rec.e[i], rec.mask[i], float(rec.level[i]))
        total += solver.report[1]
    return total / max(1, len(rec.beats))


def fit(take: Take, performer: str = "default", base: FastWeights | None = None, iterations: int = 4
        ) -> tuple[Profile, FitReport]:
    base = base or default_weights()
    rec = record_frames(take, performer, base)
    n = len(rec.beats)
    if n < MIN_FRAMES:
        raise CalibrationError(f"only {n} frames of movement: record at least {MIN_FRAMES} (a few bars)")
    warnings: list[str] = []
    first = rec.beats[0]
    quantum = take.quantum
    still = rec.beats < first + 0.75 * quantum
    moving = rec.beats >= first + quantum
    if moving.sum() < MIN_FRAMES // 2:
        raise CalibrationError("the take is too short: one still bar, then at least two bars of movement")

    energy = rec.heads[:, HEAD_ENERGY]
    defaults = Profile(performer=performer)
    rest = float(np.median(energy[still])) if still.any() else defaults.energy_rest
    full = float(np.percentile(energy[moving], 95))
    if still.any() and rest > 0.5 * full:
        warnings.append("the first bar was not still: the rest level is a guess")
        rest = min(rest, 0.2 * full)
    if full < rest + 0.05:
        raise CalibrationError("hardly any movement in the take: wave to the beat, bigger")

    limb_rest, limb_full = list(defaults.limb_rest), list(defaults.limb_full)
    seen = []
    for s in range(SLOTS):
        live = moving & (rec.mask[:, s] > 0)
        if live.sum() < 0.2 * moving.sum():
            continue
        seen.append(LIMBS[s])
        lo = float(np.median(rec.heads[still & (rec.mask[:, s] > 0), s])) if (still & (rec.mask[:, s] > 0)).any() \
            else defaults.limb_rest[s]
        hi = float(np.percentile(rec.heads[live, s], 95))
        if hi > lo + 0.02:
            limb_rest[s], limb_full[s] = max(0.0, lo), hi

    # the groove, from the default pulse head; then a learned head: the ridge regression of the beat's
    # cosine and sine on x* gives every beat-periodic head; take the one at the groove's phase
    lk = _lock(rec.heads[moving, HEAD_PULSE], rec.beats[moving])
    groove, lock = lk.offset, lk.lock
    theta = groove if lock >= 0.3 else 0.0
    X = rec.x[moving]
    Xc = X - X.mean(axis=0)
    phase = 2.0 * math.pi * rec.beats[moving]
    A = Xc.T @ Xc + RIDGE * len(Xc) * np.eye(X.shape[1])
    w_cos, w_sin = np.linalg.solve(A, Xc.T @ np.column_stack([np.cos(phase), np.sin(phase)])).T
    w = math.cos(2.0 * math.pi * theta) * w_cos + math.sin(2.0 * math.pi * theta) * w_sin  # ≈ cos(2π(b − θ))
    learned = _lock(X @ w, rec.beats[moving], theta)
    pulse_head = None
    lock_learned = lock
    if np.linalg.norm(w) > 0 and learned.lock > lock + 0.05:
        pulse_head = (w * float(np.linalg.norm(base.pulse_head) / np.linalg.norm(w))).tolist()
        lock_learned = learned.lock
        groove = learned.offset
    if max(lock, lock_learned) < 0.3:
        warnings.append(f"the movement hardly follows the beat (lock {max(lock, lock_learned):.2f}): "
                        "wave in time with the click")

    # the step field: the certified scale with the smallest residual on this take's own evidence
    residual = {}
    best = (math.inf, 1.0)
    for scale in STEP_SCALES:
        trial = Profile(performer=performer, step_scale=scale).weights(base)
        res = _mean_residual(rec, trial, iterations)
        residual[f"{scale:g}"] = float(res)
        best = min(best, (res, scale))
    step_scale = best[1]

    profile = Profile(
        performer=performer, energy_rest=max(0.0, rest), energy_radius=full, limb_rest=limb_rest,
        limb_full=limb_full, groove_offset=float(groove), pulse_head=pulse_head,
        step_scale=None if step_scale == 1.0 else step_scale,
    )
    report = FitReport(n, int(still.sum()), float(lock), float(groove), pulse_head is not None, float(lock_learned),
                       step_scale, residual, seen, warnings)
    profile.fit = {"tempo": take.tempo, "seconds": round(take.duration, 2), **report.to_dict()}
    profile.weights(base)  # refuse to return a profile whose weights would not certify
    return profile, report
