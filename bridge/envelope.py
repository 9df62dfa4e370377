"""Envelopes: breakpoints in beats for one parameter, and their renderings.

An envelope is pure data (JSON round-trip). Rendering is one pipeline for every wire:
curve → clamp to the parameter's caps → slew limit → samples (quantised to 7/14-bit CC by
`bridge.midi`, sent as OSC floats) or linear segments for the engine's per-sample ramps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .params import Param, param


class Curve(StrEnum):
    """How a segment travels from one breakpoint to the next (t runs 0 → 1)."""

    LINEAR = "linear"
    HOLD = "hold"  # stay, then jump at the next breakpoint
    EASE_IN = "ease_in"  # slow start
    EASE_OUT = "ease_out"  # slow end
    SMOOTH = "smooth"  # slow start and end
    EXP = "exp"  # perceptual sweep for frequency-like parameters

    def shape(self, t: float) -> float:
        if self is Curve.LINEAR:
            return t
        if self is Curve.HOLD:
            return 0.0 if t < 1.0 else 1.0
        if self is Curve.EASE_IN:
            return t * t
        if self is Curve.EASE_OUT:
            return 1.0 - (1.0 - t) * (1.0 - t)
        if self is Curve.SMOOTH:
            return t * t * (3.0 - 2.0 * t)
        return (2.0 ** (4.0 * t) - 1.0) / 15.0  # EXP


@dataclass(frozen=True, slots=True)
class Breakpoint:
    beat: float
    value: float
    curve: Curve = Curve.LINEAR  # shape of the segment that starts here


@dataclass(frozen=True)
class Envelope:
    """Breakpoints for one parameter (optionally one deck), in absolute or relative beats."""

    param: str
    points: tuple[Breakpoint, ...]
    deck: str | None = None
    caps: dict[str, float] | None = None  # tighter lo/hi/max_slope than the parameter's defaults
    spec: Param = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = param(self.param)
        if self.caps:
            unknown = set(self.caps) - {"lo", "hi", "max_slope"}
            if unknown:
                raise ValueError(f"unknown envelope caps {sorted(unknown)}")
            spec = replace(spec, **{k: float(v) for k, v in self.caps.items()})
        object.__setattr__(self, "spec", spec)
        if not self.points:
            raise ValueError("an envelope needs at least one breakpoint")
        pts = tuple(
            Breakpoint(float(p.beat), float(p.value), Curve(p.curve)) for p in self.points
        )
        if any(not math.isfinite(p.beat) for p in pts):
            raise ValueError("breakpoint beats must be finite")
        if any(b.beat < a.beat for a, b in itertools.pairwise(pts)):
            raise ValueError("breakpoints must be in beat order")
        object.__setattr__(self, "points", pts)

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def ramp(
        cls,
        param_name: str,
        start_beat: float,
        beats: float,
        start: float,
        end: float,
        curve: Curve = Curve.LINEAR,
        deck: str | None = None,
    ) -> Envelope:
        return cls(
            param_name,
            (Breakpoint(start_beat, start, curve), Breakpoint(start_beat + beats, end)),
            deck,
        )

    def shifted(self, beats: float) -> Envelope:
        """The same shape moved along the grid (templates are written from beat 0)."""
        return replace(self, points=tuple(Breakpoint(p.beat + beats, p.value, p.curve) for p in self.points))

    def with_caps(self, spec: Param) -> Envelope:
        """The same envelope held to another parameter table's caps (from copilot.toml)."""
        return replace(self, caps={"lo": spec.lo, "hi": spec.hi, "max_slope": spec.max_slope})

    @property
    def start(self) -> float:
        return self.points[0].beat

    @property
    def end(self) -> float:
        return self.points[-1].beat

    # -- evaluation ------------------------------------------------------------------------------
    def raw_value_at(self, beat: float) -> float:
        """The curve itself, before caps and slew."""
        pts = self.points
        if beat <= pts[0].beat:
            return pts[0].value
        if beat >= pts[-1].beat:
            return pts[-1].value
        lo, hi = 0, len(pts) - 1
        while hi - lo > 1:  # bisect: envelopes from templates can have many points
            mid = (lo + hi) // 2
            if pts[mid].beat <= beat:
                lo = mid
            else:
                hi = mid
        a, b = pts[lo], pts[hi]
        span = b.beat - a.beat
        t = 1.0 if span <= 0 else (beat - a.beat) / span
        return a.value + (b.value - a.value) * a.curve.shape(t)

    def value_at(self, beat: float) -> float:
        return self.spec.clamp(self.raw_value_at(beat))

    def render(self, step: float, start_value: float | None = None) -> list[tuple[float, float]]:
        """(beat, value) every `step` beats from start to end, capped and slew-limited.

        `start_value` is where the parameter is now; the slew limit then also governs the jump
        from there onto the envelope, so an envelope can never snap a fader.
        """
        return list(self.samples(step, start_value))

    def samples(self, step: float, start_value: float | None = None) -> Iterator[tuple[float, float]]:
        """`render`, one sample at a time: a long envelope costs nothing until it is played."""
        if step <= 0:
            raise ValueError("step must be positive")
        span = self.end - self.start
        n = max(1, math.ceil(span / step - 1e-9))
        max_slope = self.spec.max_slope
        limited = math.isfinite(max_slope)
        prev_b = self.start
        prev_v = start_value
        beat = self.start
        for i in range(n + 1):
            beat = self.start + min(i * step, span)
            v = self.value_at(beat)
            if prev_v is not None and limited:
                room = max_slope * max(0.0, beat - prev_b)
                v = min(prev_v + room, max(prev_v - room, v))
            yield beat, v
            prev_b, prev_v = beat, v
        # A final step steeper than the slew limit arrives late, but it arrives: keep going.
        target = self.value_at(self.end)
        while limited and abs(prev_v - target) > 1e-12:
            beat += step
            room = max_slope * step
            prev_v = min(prev_v + room, max(prev_v - room, target))
            yield beat, prev_v

    def segments(self, max_error: float = 1.0 / 512, start_value: float | None = None) -> list[tuple[float, float]]:
        """Linear pieces for the engine: (beat, value) corners to interpolate per sample.

        Straight segments stay two points; curved ones are subdivided until the chord error is below
        `max_error` (normalised units), then the slew limit is applied to the corners.
        """
        clamp = self.spec.clamp
        out_b: list[float] = [self.points[0].beat]
        out_v: list[float] = [clamp(self.points[0].value)]
        for a, b in itertools.pairwise(self.points):
            span = b.beat - a.beat
            if span <= 0:  # a jump: both values at the same beat
                out_b.append(b.beat)
                out_v.append(clamp(b.value))
                continue
            if a.curve is Curve.HOLD:
                out_b += [b.beat, b.beat]
                out_v += [clamp(a.value), clamp(b.value)]
                continue
            # Corners come from this segment itself: value_at() at a shared beat would already give
            # the value after a jump that starts there.
            pieces = 1 if a.curve is Curve.LINEAR else _pieces_for(a, b, max_error)
            for i in range(1, pieces + 1):
                t = i / pieces
                out_b.append(a.beat + span * t)
                out_v.append(clamp(a.value + (b.value - a.value) * a.curve.shape(t)))
        limited = slew_limit(out_b, out_v, self.spec.max_slope, start_value)
        if math.isfinite(self.spec.max_slope) and abs(limited[-1] - out_v[-1]) > 1e-12:
            out_b.append(out_b[-1] + abs(out_v[-1] - limited[-1]) / self.spec.max_slope)  # arrives late
            limited.append(out_v[-1])
        return list(zip(out_b, limited, strict=True))

    # -- JSON --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "param": self.param,
            "deck": self.deck,
            "points": [[p.beat, p.value, p.curve.value] for p in self.points],
        }
        if self.caps:
            data["caps"] = dict(self.caps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        points = tuple(
            Breakpoint(float(p[0]), float(p[1]), Curve(p[2] if len(p) > 2 else "linear")) for p in data["points"]
        )
        return cls(str(data["param"]), points, data.get("deck"), data.get("caps"))


def _pieces_for(a: Breakpoint, b: Breakpoint, max_error: float) -> int:
    """Subdivisions of a curved segment so its straight-line approximation stays within max_error."""
    height = abs(b.value - a.value)
    if height == 0:
        return 1
    shape = a.curve.shape
    pieces = 1
    while pieces < 256:
        worst = 0.0
        for i in range(pieces):
            t0, t1 = i / pieces, (i + 1) / pieces
            s0, s1 = shape(t0), shape(t1)
            for k in range(1, 8):  # several probes: a symmetric S-curve fools a midpoint-only check
                u = k / 8
                chord = s0 + (s1 - s0) * u
                worst = max(worst, abs(shape(t0 + (t1 - t0) * u) - chord) * height)
        if worst <= 0.5 * max_error:  # the probes sample the error: keep a margin for what they miss
            break
        pieces *= 2
    return pieces


def slew_limit(
    beats: Sequence[float], values: Sequence[float], max_slope: float, start_value: float | None = None
) -> list[float]:
    """Limit how fast a value may move (per beat). The first point may move from `start_value`."""
    if not values:
        return []
    out: list[float] = []
    prev_b = beats[0]
    prev_v = values[0] if start_value is None else start_value
    for b, v in zip(beats, values, strict=True):
        if math.isfinite(max_slope) and (start_value is not None or out):
            room = max_slope * max(0.0, b - prev_b)
            v = min(prev_v + room, max(prev_v - room, v))
        out.append(v)
        prev_b, prev_v = b, v
    return out
