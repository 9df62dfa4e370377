"""The mapper: the body's states → continuous parameters, smooth, slew-limited and capped.

One declarative table says which state drives which parameter and over what range; the code
around it is the same for every row: pick the source value, shape it, map it into [lo, hi], smooth
it with a 1€ filter, limit its slope (per beat, never above the parameter's own limit), cap it to
the row's range and the parameter's hard caps, and only then hand it to the scheduler — and only
when the wire would change. At rest every row sits at its parameter's neutral value, so a performer
who stops moving (or whose phone dies) leaves the music as it was.

Sources (all in [0, 1] except balance in [−1, 1]):
  energy   overall movement energy (the clamped radius of x*)        tension  φ, the fast/slow spring
  groove   energy × beat lock: moving *with* the beat                 balance  right − left limbs
  upper    hands and head energy          lower  torso and feet        lock     how beat-locked
  psi      beat phase of the movement     limb:<name>  one limb's energy
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, replace
from typing import Any

from copilot.bridge.params import PARAMS

from .euro import OneEuro
from .limbs import LIMBS

SOURCES = ("energy", "tension", "groove", "balance", "upper", "lower", "lock", "psi",
           *(f"limb:{name}" for name in LIMBS))
SIGNED = {"balance"}
SNAP = 1e-4


@dataclass(frozen=True)
class Mapping:
    param: str
    source: str
    lo: float  # parameter value when the source is at rest (0; balance −1 → `lo`, +1 → `hi`)
    hi: float  # parameter value at full source
    threshold: float = 0.0  # source below this counts as rest (re-scaled above it)
    curve: float = 1.0  # exponent on the (unsigned) source: > 1 = gentle start
    min_cutoff: float = 1.5  # 1€ filter (Hz)
    beta: float = 2.0
    slope: float = 2.0  # largest change per beat (also capped by the parameter's own max_slope)
    only_if_target_can: bool = False  # EQ: only where a target takes it
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.param not in PARAMS:
            raise ValueError(f"mapping: unknown parameter {self.param!r}")
        if self.source not in SOURCES:
            raise ValueError(f"mapping: unknown source {self.source!r}; choose from {', '.join(SOURCES)}")
        spec = PARAMS[self.param]
        for v in (self.lo, self.hi):
            if not spec.lo <= v <= spec.hi:
                raise ValueError(f"mapping {self.param}: {v} is outside its caps [{spec.lo}, {spec.hi}]")
        if not 0.0 <= self.threshold < 1.0 or self.curve <= 0 or self.slope <= 0:
            raise ValueError(f"mapping {self.param}: threshold in [0, 1), curve > 0 and slope > 0")

    @property
    def floor(self) -> float:
        return min(self.lo, self.hi)

    @property
    def ceiling(self) -> float:
        return max(self.lo, self.hi)

    def target(self, source: float) -> float:
        """Where the row wants the parameter for a source value (before smoothing and slew)."""
        if self.source in SIGNED:
            s = max(-1.0, min(1.0, source))
            mag = max(0.0, abs(s) - self.threshold) / (1.0 - self.threshold)
            s = math.copysign(mag ** self.curve, s)
            mid = PARAMS[self.param].neutral
            return mid + s * ((self.hi - mid) if s > 0 else (mid - self.lo))
        s = max(0.0, min(1.0, source))
        s = max(0.0, s - self.threshold) / (1.0 - self.threshold)
        return self.lo + (self.hi - self.lo) * s ** self.curve


# The default table: what moves what before any calibration or copilot.toml says otherwise.
DEFAULT_MAPPINGS: tuple[Mapping, ...] = (
    Mapping("fx_depth", "energy", 0.0, 0.8),  # wave a wrist to sweep the FX depth
    Mapping("filter", "upper", 0.5, 0.8, threshold=0.15, curve=1.5),  # reach up: high-pass opens in
    Mapping("fx_send", "tension", 0.0, 0.6, threshold=0.1),  # surging past the bar's arc feeds the send
    Mapping("pan", "balance", 0.15, 0.85, threshold=0.2),  # lean into one side
    Mapping("tremolo", "groove", 0.0, 0.7, threshold=0.2),  # moving with the beat: phase-locked tremolo
    Mapping("roll", "groove", 0.0, 0.5, threshold=0.6, curve=2.0),  # only a hard, locked groove rolls
    Mapping("eq_low", "tension", 0.5, 0.3, threshold=0.3, only_if_target_can=True),  # tension thins the bass
    Mapping("energy", "energy", 0.0, 1.0),  # macros for Strudel/Live to read
    Mapping("tension", "tension", 0.0, 1.0),
    Mapping("phase", "psi", 0.0, 1.0, min_cutoff=50.0, beta=0.0, slope=1e9, enabled=False),
)


def mappings_from_config(section: MappingType[str, Any], base: Iterable[Mapping] = DEFAULT_MAPPINGS
                         ) -> tuple[Mapping, ...]:
    """Apply [motion.map.<param>] tables from copilot.toml: change a row's fields or switch it off."""
    rows = {m.param: m for m in base}
    for param, fields in section.items():
        if not isinstance(fields, MappingType):
            raise ValueError(f"[motion.map.{param}] must be a table")
        if param in rows:
            rows[param] = replace(rows[param], **dict(fields))
        else:
            rows[param] = Mapping(param=param, **dict(fields))
    return tuple(rows.values())


class _Row:
    __slots__ = ("ceiling", "deadband", "filter", "floor", "last_beat", "mapping", "max_slope", "neutral", "sent",
                 "value")

    def __init__(self, mapping: Mapping) -> None:
        spec = PARAMS[mapping.param]
        self.mapping = mapping
        self.floor = max(spec.lo, mapping.floor)  # the row's range inside the parameter's hard caps
        self.ceiling = min(spec.hi, mapping.ceiling)
        self.neutral = spec.neutral
        self.filter = OneEuro(mapping.min_cutoff, mapping.beta)
        self.max_slope = min(mapping.slope, spec.max_slope)
        self.value = spec.neutral  # what we last decided (after slew and caps)
        self.sent = spec.neutral  # what the wire holds as far as we know: nothing is sent at rest
        self.last_beat: float | None = None
        # only send when the wire would change: half a 7-bit step, or a 14-bit-sized step
        self.deadband = 1.0 / 2048 if spec.fourteen_bit else 0.5 / 127


Send = Callable[[str, float], Any]


class Mapper:
    """One performer's rows. `update()` returns the (param, value) pairs worth sending this frame."""

    def __init__(self, mappings: Iterable[Mapping] = DEFAULT_MAPPINGS, can: Callable[[str], bool] | None = None
                 ) -> None:
        rows = []
        for m in mappings:
            if not m.enabled:
                continue
            if can is not None and not can(m.param):
                continue
            if can is None and m.only_if_target_can:
                continue
            rows.append(_Row(m))
        self.rows = rows

    @property
    def params(self) -> list[str]:
        return [r.mapping.param for r in self.rows]

    def update(self, sources: MappingType[str, float], t: float, beat: float) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for row in self.rows:
            m = row.mapping
            src = sources.get(m.source, 0.0)
            if not math.isfinite(src):
                src = 0.0  # a state that is not a number is no movement (never reaches a parameter)
            goal = m.target(src)
            if row.last_beat is None:  # the first frame starts from where the wire is: no jump
                row.filter.reset(row.value, t)
                row.last_beat = beat
            want = row.filter(goal, t)
            if abs(want - goal) < SNAP:  # end the smoothing tail exactly on target (neutral is neutral)
                want = goal
            room = row.max_slope * max(0.0, beat - row.last_beat)
            want = min(row.value + room, max(row.value - room, want))
            row.last_beat = beat
            want = float(min(row.ceiling, max(row.floor, want)))
            row.value = want
            if abs(want - row.sent) >= row.deadband or (
                    want != row.sent and want in (row.floor, row.ceiling, row.neutral)):
                row.sent = want
                out.append((m.param, want))
        return out

    def at_rest(self) -> bool:
        """Every row back at its parameter's neutral value (the wire left as it was found)."""
        return all(r.value == r.neutral or r.mapping.param == "phase" for r in self.rows)

    def values(self) -> dict[str, float]:
        return {r.mapping.param: r.value for r in self.rows}
