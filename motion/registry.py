"""Who is sending: devices by name, their limb and performer, rates, clocks, staleness and counters.

Listener threads `ingest` readings; the motion worker copies the latest values per performer with
`snapshot` into arrays it owns. One short lock guards both sides; nothing here blocks for long.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .guard import Rejected, Tally, TokenBucket, flood_bucket
from .limbs import AUTO_ORDER, SLOT, SLOTS, limb_name
from .readings import Channel, Reading

DEFAULT_PERFORMER = "default"
MAX_DEVICES = 64  # a bound on what a sender inventing names can make us remember
MAX_NAME = 64
MIN_STALE = 0.25  # seconds: a sensor silent for longer than max(this, 4 periods) is "stale"
FORGET_AFTER = 10.0  # seconds: a device silent this long gives its limb (and its place) to a newcomer


@dataclass(frozen=True)
class DeviceRule:
    """From copilot.toml [motion.devices."<pattern>"] or --motion-limb: pin devices to limbs/performers."""

    pattern: str  # fnmatch pattern on the device name ("zigsim:*", "gyrosc@192.168.1.20")
    limb: str | None = None
    performer: str | None = None
    nominal_hz: float | None = None

    def matches(self, device: str) -> bool:
        return fnmatch.fnmatchcase(device, self.pattern)

    @classmethod
    def parse(cls, text: str) -> DeviceRule:
        """'DEVICE=LIMB' or 'DEVICE=PERFORMER/LIMB' (the --motion-limb flag)."""
        name, sep, rhs = text.partition("=")
        if not sep or not name.strip() or not rhs.strip():
            raise ValueError(f"expected DEVICE=LIMB or DEVICE=PERFORMER/LIMB, got {text!r}")
        performer, _, limb = rhs.strip().rpartition("/")
        return cls(name.strip(), limb_name(limb), performer or None)


@dataclass
class Device:
    name: str
    source: str
    performer: str
    limb: str | None
    nominal_hz: float
    sender: str
    first_seen: float
    last_seen: float = 0.0
    tally: Tally = field(default_factory=Tally)
    buckets: dict[tuple[Channel, str | None], TokenBucket] = field(default_factory=dict)
    interval: float = 0.0  # smoothed seconds between readings of its busiest channel
    jitter: float = 0.0  # smoothed |interval − mean|
    clock_offset: float | None = None  # device time − host time, when the device sends a clock
    last_accel: float = -1e18  # host time of its last accelerometer (with gravity) reading
    _last_main: float = 0.0

    @property
    def stale_after(self) -> float:
        return max(MIN_STALE, 4.0 / self.nominal_hz)

    def stale(self, now: float) -> bool:
        return now - self.last_seen > self.stale_after

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "performer": self.performer, "limb": self.limb,
            "sender": self.sender, "rate_hz": round(1.0 / self.interval, 1) if self.interval > 0 else None,
            "jitter_ms": round(self.jitter * 1000, 2), "stale": self.stale(now),
            "age_s": round(now - self.last_seen, 3), **self.tally.to_dict(),
        }


class PerformerFrame:
    """The newest value of every slot for one performer, in preallocated arrays."""

    # One buffer, named views into it: the worker's snapshot is a single copy.
    LAYOUT = (("accel", (SLOTS, 3), 0.0), ("gyro", (SLOTS, 3), 0.0), ("t_accel", (SLOTS,), -np.inf),
              ("t_gyro", (SLOTS,), -np.inf), ("n_accel", (SLOTS,), 0.0), ("stale_after", (SLOTS,), MIN_STALE),
              ("scalars", (2,), 0.0), ("t_scalars", (2,), -np.inf))

    def __init__(self) -> None:
        size = sum(int(np.prod(shape)) for _, shape, _ in self.LAYOUT)
        self.buffer = np.empty(size)
        at = 0
        for name, shape, fill in self.LAYOUT:
            n = int(np.prod(shape))
            view = self.buffer[at:at + n].reshape(shape)
            view[...] = fill
            setattr(self, name, view)
            at += n
        self.version = 0

    # (declared for readers; set as views above) accel gyro: (6, 3); t_accel t_gyro n_accel (count of
    # accel readings, for freshness) stale_after: (6,); scalars (onset 0..1, heart bpm) t_scalars: (2,)
    accel: np.ndarray
    gyro: np.ndarray
    t_accel: np.ndarray
    t_gyro: np.ndarray
    n_accel: np.ndarray
    stale_after: np.ndarray
    scalars: np.ndarray
    t_scalars: np.ndarray

    def copy_into(self, other: PerformerFrame) -> None:
        np.copyto(other.buffer, self.buffer)
        other.version = self.version


class Registry:
    def __init__(self, rules: Iterable[DeviceRule] = (), default_performer: str = DEFAULT_PERFORMER,
                 forget_after: float = FORGET_AFTER) -> None:
        self.rules = list(rules)
        self.default_performer = default_performer
        self.forget_after = forget_after
        self.forgotten = 0  # devices forgotten after falling silent
        self.devices: dict[str, Device] = {}
        self.performers: dict[str, PerformerFrame] = {}
        self.tally = Tally()  # refusals before any device is known (malformed, not_allowed …)
        self.changed = threading.Event()
        self.after_ingest: Callable[[], None] | None = None  # the engine's kick (runs on the listener's thread)
        self._lock = threading.Lock()
        self._slots_taken: dict[str, dict[str, str]] = {}  # performer → limb → device

    # -- listener side ---------------------------------------------------------------------------
    def reject(self, reason: str, detail: str = "", device: str | None = None) -> None:
        dev = self.devices.get(device) if device else None
        (dev.tally if dev else self.tally).reject(reason, detail)

    def ingest(self, readings: Iterable[Reading], nominal_hz: float) -> int:
        """Store readings; returns how many were accepted. Floods and unassigned devices are counted."""
        accepted = 0
        with self._lock:
            for r in readings:
                try:
                    dev = self._device(r, nominal_hz)
                    self._store(dev, r)
                    accepted += 1
                except Rejected as exc:
                    dev = self.devices.get(r.device)
                    (dev.tally if dev else self.tally).reject(exc.reason, exc.detail)
        if accepted:
            self.changed.set()
            if self.after_ingest is not None:
                self.after_ingest()
        return accepted

    def _device(self, r: Reading, nominal_hz: float) -> Device:
        dev = self.devices.get(r.device)
        if dev is not None:
            return dev
        self._forget_silent(r.t)  # a newcomer: first free what senders long gone still hold
        if len(self.devices) >= MAX_DEVICES or len(r.device) > MAX_NAME:
            raise Rejected("unassigned", f"device {r.device[:MAX_NAME]!r}: too many devices or too long a name")
        rule = next((x for x in self.rules if x.matches(r.device)), None)
        performer = (rule.performer if rule and rule.performer else None) or r.performer or self.default_performer
        limb = (rule.limb if rule and rule.limb else None) or r.limb
        hz = rule.nominal_hz if rule and rule.nominal_hz else nominal_hz
        taken = self._slots_taken.setdefault(performer, {})
        if limb is None and r.channel not in (Channel.ONSET, Channel.HEART):
            limb = next((x for x in AUTO_ORDER if x not in taken), None)
            if limb is None:
                raise Rejected("unassigned", f"{r.device}: all {SLOTS} limbs of {performer} are taken")
        if limb is not None and r.source != "mocopi":  # a mocopi body fills every slot itself
            taken.setdefault(limb, r.device)
        dev = Device(r.device, r.source, performer, limb if r.source != "mocopi" else "body", hz, r.sender, r.t)
        self.devices[r.device] = dev
        self.performers.setdefault(performer, PerformerFrame())
        return dev

    def _forget_silent(self, now: float) -> None:
        """Devices silent for `forget_after` seconds leave: their limb slot and their place in the table
        are free again (a phone that sent once, a stray name, a performer who went home)."""
        gone = [d for d in self.devices.values() if now - max(d.last_seen, d.first_seen) > self.forget_after]
        for dev in gone:
            del self.devices[dev.name]
            taken = self._slots_taken.get(dev.performer, {})
            for limb in [limb for limb, holder in taken.items() if holder == dev.name]:
                del taken[limb]
            self.tally.merge(dev.tally)  # its counts stay in the totals
            self.forgotten += 1

    def forget_silent(self, now: float) -> int:
        """Forget every device silent for `forget_after` seconds now; how many went."""
        with self._lock:
            before = self.forgotten
            self._forget_silent(now)
            return self.forgotten - before

    def _store(self, dev: Device, r: Reading) -> None:
        key = (r.channel, r.limb)
        bucket = dev.buckets.get(key)
        if bucket is None:
            bucket = dev.buckets[key] = flood_bucket(dev.nominal_hz)
        if not bucket.allow(r.t):
            raise Rejected("flood", f"{dev.name} {r.channel} faster than 10 × {dev.nominal_hz:g} Hz")
        dev.tally.accept()
        self._timing(dev, r)
        frame = self.performers[dev.performer]
        limb = r.limb or dev.limb
        if r.channel is Channel.ONSET or r.channel is Channel.HEART:
            i = 0 if r.channel is Channel.ONSET else 1
            frame.scalars[i] = r.values[0]
            frame.t_scalars[i] = r.t
        elif limb is not None and limb in SLOT:
            s = SLOT[limb]
            # the accelerometer (gravity included) wins; linear acceleration stands in when it is absent
            if r.channel is Channel.ACCEL or (r.channel is Channel.LINEAR_ACCEL
                                              and r.t - dev.last_accel > dev.stale_after):
                if r.channel is Channel.ACCEL:
                    dev.last_accel = r.t
                frame.accel[s] = r.values
                frame.t_accel[s] = r.t
                frame.n_accel[s] += 1
                frame.stale_after[s] = dev.stale_after
            elif r.channel is Channel.GYRO:
                frame.gyro[s] = r.values
                frame.t_gyro[s] = r.t
        frame.version += 1

    @staticmethod
    def _timing(dev: Device, r: Reading) -> None:
        if r.channel in (Channel.ACCEL, Channel.LINEAR_ACCEL, Channel.ONSET, Channel.HEART) or dev.last_seen == 0:
            if dev._last_main > 0:
                gap = r.t - dev._last_main
                if gap > 0:
                    dev.interval = gap if dev.interval == 0 else dev.interval + 0.05 * (gap - dev.interval)
                    dev.jitter += 0.05 * (abs(gap - dev.interval) - dev.jitter)
            dev._last_main = r.t
        dev.last_seen = r.t
        if r.device_time is not None:
            offset = r.device_time - r.t
            dev.clock_offset = offset if dev.clock_offset is None else dev.clock_offset + 0.05 * (
                offset - dev.clock_offset)

    # -- worker side -----------------------------------------------------------------------------
    def snapshot(self, performer: str, into: PerformerFrame) -> bool:
        """Copy one performer's latest values; False when nothing changed since `into` was filled."""
        with self._lock:
            frame = self.performers.get(performer)
            if frame is None or frame.version == into.version:
                return False
            frame.copy_into(into)
            return True

    def performer_names(self) -> list[str]:
        with self._lock:
            return list(self.performers)

    def status(self, now: float) -> dict[str, Any]:
        with self._lock:
            devices = [d.to_dict(now) for d in self.devices.values()]
        return {"devices": devices, "listener": self.tally.to_dict()}

    def counts(self) -> dict[str, int]:
        """Total accepted and rejected (by reason) over every device and the listeners."""
        with self._lock:
            tallies = [d.tally for d in self.devices.values()] + [self.tally]
        out: dict[str, int] = {"accepted": 0}
        for t in tallies:
            accepted, rejected = t.totals()
            out["accepted"] += accepted
            for k, v in rejected.items():
                out[k] = out.get(k, 0) + v
        return out
