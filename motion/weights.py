"""The fast state's parameters, their default (untrained) construction, and the contraction certificate.

The fast map (seed 004, LIM-RPS) for evidence e, bar memory y and latent z is

    Φ(z) = W₂ tanh(W₁ z + B e + b₁) + V e + c                     (a ρ-Lipschitz network, ρ = ‖W₂‖‖W₁‖)
    v    = z − S[(z − Φ(z)) + κ (z − C y)]                          (forward step, S = diag(s) the step field)
    T(z) = clip(soft(v, S λ₁) / (1 + S λ₂), −R, R)                 (backward step: a firmly nonexpansive prox)

so ‖T(z) − T(z′)‖ ≤ L ‖z − z′‖ with  L = maxᵢ |1 − sᵢ(1 + κ)| + ρ · maxᵢ sᵢ.  The step field
sᵢ = s_loᵢ + (s_hiᵢ − s_loᵢ)·σ(Gᵢ·ctx + g₀ᵢ) moves with the context (which limbs are present, how much
they move) but never leaves [s_lo, s_hi], so the worst case over that box is a certificate valid for
every frame. `check()` refuses weights whose certificate is not below 1 − margin; `make_safe()` pulls
them back inside (rescaling W₂ and the step box) rather than ever running an expansive map.

The slow state y (bar rate) minimises κ/2‖x̄ − C y‖² + μ/2‖y − y_prev‖² + λ_y/2‖y‖² over a box, with C
having orthonormal columns. Its bar-to-bar map has gain (κ·κ s_max/(1 − L) + μ)/(κ + μ + λ_y), which is
below 1 exactly when κ s_max < 1 − L: the coupled fast/slow pair then contracts too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .limbs import LEFT, RIGHT, SLOT, SLOTS

FEATURES = ("motion", "spin", "bounce", "sway", "accel", "rate")  # per slot, see features.py
F = len(FEATURES)
EVIDENCE = SLOTS * F + 2  # + onset strength, heart rate
CONTEXT = SLOTS + 1  # step-field context: which slots are present, and the overall motion level
D = 32  # latent size
H = 32  # hidden units of Φ
DS = 8  # slow state size
PER_SLOT = 4  # latent dims per slot: motion, spin, bounce, sway
GLOBAL = SLOTS * PER_SLOT  # first global latent dim (24)
# Global latent dims (the slow state lives on these).
G_ONSET, G_HEART, G_MOTION, G_SPIN, G_UPPER, G_LOWER, G_SIDE, G_TOGETHER = range(GLOBAL, GLOBAL + 8)
UPPER = (SLOT["left_hand"], SLOT["right_hand"], SLOT["head"])
LOWER = (SLOT["torso"], SLOT["left_foot"], SLOT["right_foot"])
MARGIN = 0.05  # certificates must stay this far below 1


def spectral_norm(m: np.ndarray) -> float:
    return float(np.linalg.norm(m, 2)) if m.size else 0.0


@dataclass
class FastWeights:
    W1: np.ndarray  # (H, D)
    B: np.ndarray  # (H, E)
    b1: np.ndarray  # (H,)
    W2: np.ndarray  # (D, H)
    V: np.ndarray  # (D, E)
    c: np.ndarray  # (D,)
    G: np.ndarray  # (D, CONTEXT) step-field gains
    g0: np.ndarray  # (D,)
    s_lo: np.ndarray  # (D,) step field, low edge
    s_hi: np.ndarray  # (D,) step field, high edge
    limb_head: np.ndarray  # (SLOTS, D)
    energy_weights: np.ndarray  # (D,) ≥ 0: the weighted norm whose radius is "energy"
    pulse_head: np.ndarray  # (D,)
    C: np.ndarray  # (D, DS) orthonormal columns: where the slow state sits in the latent
    lam1: float = 0.01  # soft threshold
    lam2: float = 0.05  # L2 shrink
    box: float = 4.0  # |x_i| ≤ box
    kappa: float = 0.08  # spring between fast and slow
    mu: float = 0.06  # slow state's inertia from bar to bar (≈ 0.4 of the old y stays each bar)
    lam_y: float = 0.002  # slow state's own shrink
    box_y: float = 4.0
    meta: dict[str, Any] = field(default_factory=dict)

    # -- certificates ------------------------------------------------------------------------------
    @property
    def rho(self) -> float:
        """Lipschitz constant of Φ in z (tanh is 1-Lipschitz)."""
        return spectral_norm(self.W2) * spectral_norm(self.W1)

    def lipschitz(self, s_lo: np.ndarray | None = None, s_hi: np.ndarray | None = None) -> float:
        """Worst-case contraction factor of T over the whole step-field box."""
        lo = self.s_lo if s_lo is None else s_lo
        hi = self.s_hi if s_hi is None else s_hi
        k = 1.0 + self.kappa
        lin = float(np.max(np.maximum(np.abs(1.0 - lo * k), np.abs(1.0 - hi * k))))
        return lin + self.rho * float(np.max(hi))

    def coupling_gain(self) -> float:
        """Bar-to-bar Lipschitz constant of the slow state through the fast equilibrium."""
        L = self.lipschitz()
        if L >= 1.0:
            return math.inf
        through_fast = self.kappa * float(np.max(self.s_hi)) / (1.0 - L)
        return (self.kappa * through_fast + self.mu) / (self.kappa + self.mu + self.lam_y)

    def certificate(self) -> dict[str, float]:
        L = self.lipschitz()
        return {"rho": self.rho, "lipschitz": L, "headroom": 1.0 - L, "coupling_gain": self.coupling_gain(),
                "s_min": float(self.s_lo.min()), "s_max": float(self.s_hi.max())}

    def check(self) -> None:
        """ValueError unless the fast map and the coupled pair are certified contractions."""
        shapes = {"W1": (H, D), "B": (H, EVIDENCE), "b1": (H,), "W2": (D, H), "V": (D, EVIDENCE), "c": (D,),
                  "G": (D, CONTEXT), "g0": (D,), "s_lo": (D,), "s_hi": (D,), "limb_head": (SLOTS, D),
                  "energy_weights": (D,), "pulse_head": (D,), "C": (D, DS)}
        for name, shape in shapes.items():
            arr = getattr(self, name)
            if arr.shape != shape:
                raise ValueError(f"weights: {name} has shape {arr.shape}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"weights: {name} is not finite")
        if np.any(self.s_lo <= 0) or np.any(self.s_hi < self.s_lo):
            raise ValueError("weights: the step field needs 0 < s_lo ≤ s_hi")
        if not np.allclose(self.C.T @ self.C, np.eye(DS), atol=1e-6):
            raise ValueError("weights: C must have orthonormal columns")
        if min(self.lam1, self.lam2, self.kappa, self.mu, self.lam_y) < 0 or self.box <= 0:
            raise ValueError("weights: prox and spring constants must be non-negative")
        cert = self.certificate()
        if cert["lipschitz"] > 1.0 - MARGIN:
            raise ValueError(f"weights: fast map not contracting (L = {cert['lipschitz']:.3f})")
        if cert["coupling_gain"] > 1.0 - MARGIN:
            raise ValueError(f"weights: coupled fast/slow map not contracting (gain {cert['coupling_gain']:.3f})")

    def make_safe(self, target: float = 0.6) -> FastWeights:
        """A copy pulled inside the bound with contraction factor ≤ `target` (< 1 − MARGIN).

        Steps go into the safe interval (0, 1/(1 + κ)], the low edge of the step box rises until the
        linear part uses at most half the budget, the output layer is spectrally rescaled to fit the
        rest, and the spring is weakened if the coupled pair would not contract.
        """
        if not 0.0 < target <= 1.0 - MARGIN:
            raise ValueError(f"target contraction must be in (0, {1.0 - MARGIN}]")
        kappa = self.kappa
        while True:
            w = self.copy()
            w.kappa = kappa
            k = 1.0 + kappa
            w.s_hi = np.clip(w.s_hi, 1e-3, 1.0 / k)
            w.s_lo = np.clip(w.s_lo, (1.0 - target / 2.0) / k, None)
            w.s_lo = np.minimum(w.s_lo, w.s_hi)
            w.s_hi = np.maximum(w.s_hi, w.s_lo)
            lin = float(np.max(np.abs(1.0 - w.s_lo * k)))
            rho_max = (target - lin) / float(np.max(w.s_hi))
            n1, n2 = spectral_norm(w.W1), spectral_norm(w.W2)
            if n1 * n2 > rho_max:
                w.W2 = w.W2 * (rho_max / (n1 * n2))  # spectral normalisation of the output layer
            w.C, _ = np.linalg.qr(w.C)
            if w.coupling_gain() <= 1.0 - MARGIN or kappa < 1e-4:
                return w
            kappa *= 0.7  # weaken the spring until the coupled pair contracts too

    # -- persistence -------------------------------------------------------------------------------
    def copy(self) -> FastWeights:
        return replace(self, **{f.name: getattr(self, f.name).copy() for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)}, meta=dict(self.meta))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastWeights:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            kw[f.name] = np.asarray(v, dtype=np.float64) if isinstance(v, list) else v
        w = cls(**kw)
        w.check()
        return w

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> FastWeights:
        return cls.from_dict(json.loads(path.read_text()))


def _feature(slot: int, name: str) -> int:
    return slot * F + FEATURES.index(name)


def default_weights(seed: int = 7, rho: float = 0.4) -> FastWeights:
    """Untrained but meaningful weights: each latent dim has a job the heads and the mapper rely on.

    Slot dims copy that limb's motion/spin/bounce/sway evidence; the network Φ adds whole-body
    aggregates (total motion, spin, upper vs lower body, left vs right, moving together) on the
    global dims, plus a small seeded recurrent mixing so the fixed point is a genuine equilibrium.
    """
    rng = np.random.default_rng(seed)
    V = np.zeros((D, EVIDENCE))
    for s in range(SLOTS):
        for j, name in enumerate(("motion", "spin", "bounce", "sway")):
            V[s * PER_SLOT + j, _feature(s, name)] = 1.0
    V[G_ONSET, SLOTS * F] = 1.0
    V[G_HEART, SLOTS * F + 1] = 1.0

    B = np.zeros((H, EVIDENCE))
    aggregates = (
        (G_MOTION, [(s, "motion", 1.0 / SLOTS) for s in range(SLOTS)]),
        (G_SPIN, [(s, "spin", 1.0 / SLOTS) for s in range(SLOTS)]),
        (G_UPPER, [(s, "motion", 1.0 / len(UPPER)) for s in UPPER]),
        (G_LOWER, [(s, "motion", 1.0 / len(LOWER)) for s in LOWER]),
        (G_SIDE, [(s, "motion", 0.5) for s in RIGHT] + [(s, "motion", -0.5) for s in LEFT]),
        (G_TOGETHER, [(s, "bounce", 1.0 / SLOTS) for s in range(SLOTS)]),
    )
    W2 = np.zeros((D, H))
    for j, (dim, terms) in enumerate(aggregates):
        for s, name, weight in terms:
            B[j, _feature(s, name)] = weight
        W2[dim, j] = 1.0
    # the remaining hidden units mix the latent with itself (small, seeded)
    free = H - len(aggregates)
    W2[:, len(aggregates):] += 0.15 * rng.standard_normal((D, free)) / math.sqrt(free)
    W1 = rng.standard_normal((H, D)) / math.sqrt(D)
    W1 *= rho / (spectral_norm(W1) * spectral_norm(W2))

    limb_head = np.zeros((SLOTS, D))
    for s in range(SLOTS):
        limb_head[s, s * PER_SLOT] = 0.8  # motion
        limb_head[s, s * PER_SLOT + 1] = 0.2  # spin
    energy_weights = np.zeros(D)
    for s in range(SLOTS):
        energy_weights[s * PER_SLOT] = 1.0
        energy_weights[s * PER_SLOT + 1] = 0.5
    energy_weights[[G_MOTION, G_SPIN]] = 1.0
    pulse_head = np.zeros(D)
    for s in range(SLOTS):
        pulse_head[s * PER_SLOT + 2] = 1.0 / SLOTS
    pulse_head[G_TOGETHER] = 0.5

    # The slow state follows envelopes only (never the beat-rate pulse itself): whole-body motion and
    # spin, upper/lower body, left/right, heart rate, and the hands' and feet's own motion.
    C = np.zeros((D, DS))
    for k, dim in enumerate((G_MOTION, G_SPIN, G_UPPER, G_LOWER, G_SIDE, G_HEART)):
        C[dim, k] = 1.0
    for k, pair in ((6, ("left_hand", "right_hand")), (7, ("left_foot", "right_foot"))):
        for limb in pair:
            C[SLOT[limb] * PER_SLOT, k] = 1.0 / math.sqrt(2.0)

    w = FastWeights(
        W1=W1, B=B, b1=np.zeros(H), W2=W2, V=V, c=np.zeros(D),
        G=0.3 * rng.standard_normal((D, CONTEXT)), g0=np.zeros(D),
        s_lo=np.full(D, 0.78), s_hi=np.full(D, 0.9),
        limb_head=limb_head, energy_weights=energy_weights, pulse_head=pulse_head, C=C,
        meta={"kind": "default", "seed": seed},
    )
    w.check()
    return w
