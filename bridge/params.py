"""The continuous parameters copilot may move, in normalised units (0..1), with their safety limits.

Every target maps these names to its own wire (a Serato CC, a Mixxx control, a Live device
parameter, a Strudel `cc(n)`, an engine ramp). Values are normalised so that one envelope can be
rendered anywhere; `neutral` is where PANIC puts the parameter back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Param:
    name: str
    neutral: float
    lo: float = 0.0  # hard cap, low
    hi: float = 1.0  # hard cap, high
    max_slope: float = math.inf  # largest change per beat (normalised units); inf = no limit
    fourteen_bit: bool = False  # deserves 14-bit CC where the target can take it
    per_deck: bool = True
    reset_on_panic: bool = False
    doc: str = ""

    def clamp(self, value: float) -> float:
        """Cap a value; NaN (a dead sensor, a bad envelope) becomes the neutral value, never noise."""
        if value != value:  # NaN
            return self.neutral
        return min(self.hi, max(self.lo, value))


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("crossfader", 0.5, max_slope=2.0, fourteen_bit=True, per_deck=False,
              doc="0 = deck A only, 1 = deck B only; equal-power in the engine"),
        Param("volume", 1.0, hi=1.0, max_slope=2.0, fourteen_bit=True, doc="channel fader"),
        Param("trim", 0.5, hi=0.75, max_slope=0.5, doc="gain; 0.5 = unity, capped below full boost"),
        Param("eq_low", 0.5, max_slope=4.0, doc="0 = kill, 0.5 = unity"),
        Param("eq_mid", 0.5, max_slope=4.0, doc="0 = kill, 0.5 = unity"),
        Param("eq_high", 0.5, max_slope=4.0, doc="0 = kill, 0.5 = unity"),
        Param("filter", 0.5, max_slope=4.0, fourteen_bit=True, reset_on_panic=True,
              doc="one-knob filter: below 0.5 low-pass, above high-pass, 0.5 = open"),
        Param("fx_depth", 0.0, max_slope=4.0, reset_on_panic=True, doc="FX unit dry/wet or depth"),
        Param("fx_send", 0.0, max_slope=4.0, reset_on_panic=True, doc="send into the FX bus"),
        Param("pan", 0.5, max_slope=4.0, reset_on_panic=True, doc="0 = left, 1 = right"),
        Param("tremolo", 0.0, max_slope=8.0, reset_on_panic=True, doc="phase-locked tremolo depth"),
        Param("roll", 0.0, max_slope=8.0, reset_on_panic=True, doc="beat-roll depth"),
        Param("energy", 0.0, max_slope=8.0, per_deck=False, doc="motion energy macro"),
        Param("tension", 0.0, max_slope=8.0, per_deck=False, doc="motion tension macro"),
        Param("room", 0.0, max_slope=4.0, per_deck=False, reset_on_panic=True, doc="reverb amount"),
        Param("phase", 0.0, per_deck=False, doc="beat phase of the movement, 0..1"),
        Param("master_gain", 0.5, hi=0.5, max_slope=0.5, per_deck=False,
              doc="master level; capped at unity"),
    )
}


def param(name: str) -> Param:
    try:
        return PARAMS[name]
    except KeyError:
        raise KeyError(f"unknown parameter {name!r}; known: {', '.join(sorted(PARAMS))}") from None


def with_caps(overrides: dict[str, dict[str, float]]) -> dict[str, Param]:
    """The parameter table with user caps from copilot.toml ([safety.params.<name>] lo/hi/max_slope).
    A user cap may only tighten: the built-in caps are hard, so anything looser (or NaN) is refused."""
    table = dict(PARAMS)
    for name, fields in overrides.items():
        base = param(name)
        allowed = {k: float(v) for k, v in fields.items() if k in ("lo", "hi", "max_slope")}
        lo, hi = allowed.get("lo", base.lo), allowed.get("hi", base.hi)
        slope = allowed.get("max_slope", base.max_slope)
        if not (base.lo <= lo <= hi <= base.hi and 0.0 < slope <= base.max_slope):
            raise ValueError(f"{name}: caps may only tighten {base.lo:g}..{base.hi:g} (max_slope "
                             f"{base.max_slope:g}); got lo {lo:g}, hi {hi:g}, max_slope {slope:g}")
        table[name] = replace(base, **allowed)
    return table
