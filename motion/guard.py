"""The door: every value is checked before it may move anything, and every refusal is counted.

Malformed datagrams, wrong argument types or counts, NaN/Inf, physically impossible magnitudes and
floods (more than `FLOOD_FACTOR` × a device's nominal rate) are dropped here. Nothing raises past
this module: a refusal becomes a `Rejected` with a reason the performer can read, and a counter.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .readings import SPECS, Channel

FLOOD_FACTOR = 10.0  # a device sending faster than this × its nominal rate is flooding
FLOOD_BURST_SECONDS = 0.25  # how much of a burst the bucket absorbs before it starts dropping

# Why a packet or value was dropped (the keys of the counters `copilot motion listen` shows).
REASONS = (
    "malformed",  # not a valid OSC / mocopi packet
    "unknown_address",  # valid OSC, but no sender format knows this address
    "wrong_type",  # an argument is not a number (a string, a blob, True/False …)
    "wrong_arity",  # too few or too many numbers for the channel
    "non_finite",  # NaN or ±Inf
    "out_of_range",  # beyond what a body-worn sensor can report (a broken packet or a wrong unit)
    "flood",  # above FLOOD_FACTOR × the device's nominal rate
    "not_allowed",  # sender not on the allow-list of a LAN listener
    "unassigned",  # a device with no free limb slot
)


class Rejected(Exception):
    """A packet or value that must not reach the solver; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def numbers(args: Sequence[object], channel: Channel, scale: float = 1.0,
            arity: tuple[int, int] | None = None) -> tuple[float, ...]:
    """OSC arguments → floats scaled into our units (unchecked), or Rejected. Booleans are not numbers."""
    lo, hi = arity or SPECS[channel].arity
    if not lo <= len(args) <= hi:
        want = f"{lo}" if lo == hi else f"{lo}–{hi}"
        raise Rejected("wrong_arity", f"{channel} takes {want} numbers, got {len(args)}")
    out = []
    for a in args:
        if isinstance(a, bool) or not isinstance(a, int | float):
            raise Rejected("wrong_type", f"{channel} got {type(a).__name__} {a!r:.40}")
        out.append(float(a) * scale)
    return tuple(out)


def check(values: Sequence[float], channel: Channel) -> tuple[float, ...]:
    """Finite and physically possible, else Rejected."""
    spec = SPECS[channel]
    for v in values:
        if not math.isfinite(v):
            raise Rejected("non_finite", f"{channel} value {v}")
        if abs(v) > spec.limit or v < spec.low:
            raise Rejected("out_of_range", f"{channel} value {v:.6g} beyond ±{spec.limit:g}")
    if channel is Channel.QUAT:
        norm = math.sqrt(sum(v * v for v in values))
        if not 0.5 <= norm <= 1.5:
            raise Rejected("out_of_range", f"quaternion of length {norm:.3g}")
        values = [v / norm for v in values]
    return tuple(values)


class TokenBucket:
    """Allows `rate` events per second on average, absorbing bursts of `burst` events."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._tokens = self.burst
        self._last: float | None = None

    def allow(self, t: float) -> bool:
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (t - self._last) * self.rate)
        self._last = t
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def flood_bucket(nominal_hz: float) -> TokenBucket:
    rate = FLOOD_FACTOR * nominal_hz
    return TokenBucket(rate, rate * FLOOD_BURST_SECONDS)


@dataclass
class Tally:
    """Counts of accepted readings and of refusals by reason; safe to bump from several threads."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.last_reason = ""

    def accept(self, n: int = 1) -> None:
        with self._lock:
            self.accepted += n

    def reject(self, reason: str, detail: str = "") -> None:
        with self._lock:
            self.rejected[reason] += 1
            self.last_reason = f"{reason}: {detail}" if detail else reason

    def merge(self, other: Tally) -> None:
        """Take over another tally's counts (a device forgotten: its numbers stay in the totals)."""
        accepted, rejected = other.totals()
        with self._lock:
            self.accepted += accepted
            self.rejected.update(rejected)

    def totals(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.accepted, dict(self.rejected)

    def to_dict(self) -> dict[str, object]:
        with self._lock:
            return {"accepted": self.accepted, "rejected": dict(self.rejected), "last_reason": self.last_reason}
