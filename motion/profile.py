"""A performer's calibration: how their movement maps onto 0..1, saved per performer.

Defaults work before anyone calibrates; `copilot motion calibrate` replaces them with ranges (and a
few learned weights) fitted from a recorded "wave to the beat" take. Profiles are JSON files in the
user data folder (platformdirs), one per performer: `<data>/copilot/motion/<performer>.json`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .limbs import SLOTS
from .weights import D, FastWeights, default_weights

PROFILE_VERSION = 1
ENV_DIR = "COPILOT_MOTION_PROFILES"  # overrides the folder (tests, portable setups)


def profile_dir(override: str | Path | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    from copilot.bridge.config import data_dir  # the user data folder (platformdirs), like every area

    return data_dir() / "motion"


def safe_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise ValueError(f"a performer name is letters, digits, '.', '_' or '-' (up to 64), not {name!r}")
    return name


@dataclass
class Profile:
    performer: str = "default"
    energy_rest: float = 0.05  # raw energy norm of standing still
    energy_radius: float = 1.5  # raw energy norm that reads as full energy (the clamp radius)
    limb_rest: list[float] = field(default_factory=lambda: [0.03] * SLOTS)
    limb_full: list[float] = field(default_factory=lambda: [1.2] * SLOTS)
    groove_offset: float = 0.0  # the performer's usual phase against the beat (beats)
    pulse_head: list[float] | None = None  # learned; None = the default head
    step_scale: float | None = None  # learned step-field scale; None = default
    fit: dict[str, Any] = field(default_factory=dict)  # what calibration saw (frames, lock, residual …)
    version: int = PROFILE_VERSION

    def __post_init__(self) -> None:
        safe_name(self.performer)
        if len(self.limb_rest) != SLOTS or len(self.limb_full) != SLOTS:
            raise ValueError(f"a profile needs {SLOTS} limb ranges")
        if not self.energy_radius > self.energy_rest >= 0:
            raise ValueError("a profile needs 0 ≤ energy_rest < energy_radius")
        if any(not f > r >= 0 for r, f in zip(self.limb_rest, self.limb_full, strict=True)):
            raise ValueError("a profile needs 0 ≤ limb_rest < limb_full for every limb")
        if self.pulse_head is not None and len(self.pulse_head) != D:
            raise ValueError(f"a pulse head has {D} weights")

    # -- use ---------------------------------------------------------------------------------------
    def energy(self, raw: float) -> float:
        return min(1.0, max(0.0, (raw - self.energy_rest) / (self.energy_radius - self.energy_rest)))

    def limb(self, slot: int, raw: float) -> float:
        rest, full = self.limb_rest[slot], self.limb_full[slot]
        return min(1.0, max(0.0, (raw - rest) / (full - rest)))

    def weights(self, base: FastWeights | None = None) -> FastWeights:
        """The solver weights with this profile's learned parts, kept inside the certified bound."""
        w = (base or default_weights()).copy()
        if self.pulse_head is not None:
            w.pulse_head = np.asarray(self.pulse_head, dtype=np.float64)
        if self.step_scale is not None:
            w.s_lo = w.s_lo * self.step_scale
            w.s_hi = w.s_hi * self.step_scale
            w = w.make_safe()
        w.check()
        return w

    # -- files -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        if data.get("version", PROFILE_VERSION) > PROFILE_VERSION:
            raise ValueError(f"profile version {data['version']} is newer than this copilot ({PROFILE_VERSION})")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def path(self, folder: str | Path | None = None) -> Path:
        return profile_dir(folder) / f"{self.performer}.json"

    def save(self, folder: str | Path | None = None) -> Path:
        path = self.path(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)  # never leave a half-written profile behind
        return path

    @classmethod
    def load(cls, performer: str, folder: str | Path | None = None) -> Profile:
        """The saved profile, or the defaults when there is none. ValueError for a broken file."""
        path = profile_dir(folder) / f"{safe_name(performer)}.json"
        if not path.exists():
            return cls(performer=performer)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError(f"motion profile {path} is unreadable ({exc}); recalibrate or delete it") from None
