"""What each phone/app sends over OSC, as one declarative table, and the decoder that reads it.

| source | addresses | units on the wire |
|---|---|---|
| ZIG SIM (iOS) | /ZIGSIM/<uuid>/accel gyro gravity quaternion compass | g, rad/s, g, x y z w, degrees |
| ZIG SIM (Android) | /<uuid>/accel … (same, without /ZIGSIM) | same |
| GyrOSC (iOS) | /gyrosc/accel rrate gyro comp quat | g, rad/s, rad, degrees, quaternion |
| Sensors2OSC (Android) | /accelerometer /gyroscope /gravity /linearacceleration /rotationvector | m/s², rad/s |
| TouchOSC (legacy) | /accxyz | ≈ g |
| copilot generic | /copilot/motion/[<performer>/]<limb>[/<channel>] | g, rad/s (see docs/motion.md) |

Fixed addresses are looked up directly; patterned ones (ZIG SIM's uuid) are tried in table order. Unit factors live in
the table, so a reading leaves this module in g, rad/s and radians whatever sent it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .guard import Rejected, check, numbers
from .limbs import SLOT, limb_name
from .readings import Channel, Reading
from .units import DEG_TO_RAD, MS2_TO_G


def _rotation_vector(v: tuple[float, ...]) -> tuple[float, ...]:
    """Android's rotation vector (x, y, z[, w[, accuracy]]) → a unit quaternion x y z w."""
    x, y, z = v[:3]
    w = v[3] if len(v) >= 4 else math.sqrt(max(0.0, 1.0 - x * x - y * y - z * z))
    return (x, y, z, w)


def _first(v: tuple[float, ...]) -> tuple[float, ...]:
    return v[:1]


@dataclass(frozen=True)
class Route:
    source: str  # sender family, also the prefix of the device name
    address: str  # regular expression on the whole address; (?P<device>…) names the device
    channel: Channel
    scale: float = 1.0  # wire unit → our unit
    arity: tuple[int, int] | None = None  # when the wire differs from the channel's own arity
    convert: Callable[[tuple[float, ...]], tuple[float, ...]] | None = None
    nominal_hz: float = 60.0  # the fastest this sender normally goes (flood = 10 × this)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.address))

    def match(self, address: str) -> re.Match[str] | None:
        return self.pattern.fullmatch(address)


_ZIG = r"/(?:ZIGSIM/)?(?P<device>[^/]+)"

ROUTES: tuple[Route, ...] = (
    Route("gyrosc", "/gyrosc/accel", Channel.ACCEL, nominal_hz=100),
    Route("gyrosc", "/gyrosc/rrate", Channel.GYRO, nominal_hz=100),
    Route("gyrosc", "/gyrosc/gyro", Channel.ORIENTATION, nominal_hz=100),
    Route("gyrosc", "/gyrosc/comp", Channel.HEADING, DEG_TO_RAD, nominal_hz=100),
    Route("gyrosc", "/gyrosc/quat", Channel.QUAT, nominal_hz=100),
    Route("sensors2osc", "/accelerometer", Channel.ACCEL, MS2_TO_G, nominal_hz=100),
    Route("sensors2osc", "/gyroscope", Channel.GYRO, nominal_hz=100),
    Route("sensors2osc", "/gravity", Channel.GRAVITY, MS2_TO_G, nominal_hz=100),
    Route("sensors2osc", "/linearacceleration", Channel.LINEAR_ACCEL, MS2_TO_G, nominal_hz=100),
    Route("sensors2osc", "/rotationvector", Channel.QUAT, arity=(3, 5), convert=_rotation_vector,
          nominal_hz=100),
    Route("touchosc", "/accxyz", Channel.ACCEL, nominal_hz=100),
    Route("zigsim", _ZIG + "/accel", Channel.ACCEL),
    Route("zigsim", _ZIG + "/gyro", Channel.GYRO),
    Route("zigsim", _ZIG + "/gravity", Channel.GRAVITY),
    Route("zigsim", _ZIG + "/quaternion", Channel.QUAT),
    Route("zigsim", _ZIG + "/compass", Channel.HEADING, DEG_TO_RAD, arity=(1, 2), convert=_first),
)

GENERIC_PREFIX = "/copilot/motion/"
GENERIC_HZ = 100.0
# Channels the generic format accepts by name, and global (limb-less) ones.
GENERIC_CHANNELS = {c.value: c for c in (Channel.ACCEL, Channel.GYRO, Channel.GRAVITY, Channel.LINEAR_ACCEL,
                                          Channel.QUAT, Channel.ORIENTATION, Channel.HEADING)}
GLOBAL_CHANNELS = {"onset": Channel.ONSET, "heart": Channel.HEART}


# Lookups built from the table: exact addresses in a dict, patterned ones (ZIG SIM's uuid) tried in order.
_EXACT: dict[str, Route] = {r.address: r for r in ROUTES if re.escape(r.address) == r.address}
_PATTERNED: tuple[Route, ...] = tuple(r for r in ROUTES if r.address not in _EXACT)


def nominal_hz(source: str) -> float:
    if source == "copilot":
        return GENERIC_HZ
    return next((r.nominal_hz for r in ROUTES if r.source == source), 60.0)


def decode(address: str, args: Sequence[object], t: float, sender: tuple[str, int],
           device_time: float | None = None) -> list[Reading]:
    """One OSC message → readings in our units. Raises Rejected (never anything else)."""
    ip, port = sender
    where = f"{ip}:{port}"
    if address.startswith(GENERIC_PREFIX):
        return _generic(address, args, t, ip, where, device_time)
    route = _EXACT.get(address)
    m = None
    if route is None:
        for candidate in _PATTERNED:
            m = candidate.match(address)
            if m is not None:
                route = candidate
                break
    if route is not None:
        values = numbers(args, route.channel, route.scale, route.arity)
        if route.convert is not None:
            values = route.convert(values)
        values = check(values, route.channel)
        named = m.group("device") if m is not None else None
        device = f"{route.source}:{named}" if named else f"{route.source}@{ip}"
        return [Reading(device, route.channel, values, t, device_time=device_time, sender=where,
                        source=route.source)]
    raise Rejected("unknown_address", address[:80])


def _generic(address: str, args: Sequence[object], t: float, ip: str, where: str,
             device_time: float | None) -> list[Reading]:
    """/copilot/motion/[<performer>/]<limb>[/<channel>], or /copilot/motion/[<performer>/]onset|heart."""
    parts = [p for p in address[len(GENERIC_PREFIX):].split("/") if p]
    if not parts:
        raise Rejected("unknown_address", address[:80])
    if parts[-1] in GLOBAL_CHANNELS:
        channel = GLOBAL_CHANNELS[parts[-1]]
        performer = "/".join(parts[:-1]) or None
        values = check(numbers(args, channel), channel)
        device = f"{performer or 'copilot'}/{parts[-1]}@{ip}"
        return [Reading(device, channel, values, t, performer=performer, device_time=device_time,
                        sender=where, source="copilot")]
    channel: Channel | None = GENERIC_CHANNELS.get(parts[-1])
    if channel is not None:
        parts = parts[:-1]
    if not parts:
        raise Rejected("unknown_address", f"{address[:80]} names no limb")
    try:
        limb = limb_name(parts[-1])
    except ValueError:
        raise Rejected("unknown_address", f"{address[:80]}: unknown limb {parts[-1][:20]!r}") from None
    performer = "/".join(parts[:-1]) or None
    device = f"{performer}/{limb}" if performer else f"{limb}@{ip}"
    assert limb in SLOT

    def reading(ch: Channel, values: tuple[float, ...]) -> Reading:
        return Reading(device, ch, check(values, ch), t, limb=limb, performer=performer,
                       device_time=device_time, sender=where, source="copilot")

    if channel is not None:
        values = numbers(args, channel, arity=(1, 2) if channel is Channel.HEADING else None)
        return [reading(channel, values[:1] if channel is Channel.HEADING else values)]
    # a bare limb address: accel (g) and, optionally, gyro (rad/s) in one message
    values = numbers(args, Channel.ACCEL, arity=(3, 6))
    if len(values) not in (3, 6):
        raise Rejected("wrong_arity", f"{address[:60]} takes 3 (accel) or 6 (accel + gyro) numbers")
    out = [reading(Channel.ACCEL, values[:3])]
    if len(values) == 6:
        out.append(reading(Channel.GYRO, values[3:]))
    return out
