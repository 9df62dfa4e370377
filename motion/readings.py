"""What every source turns its wire format into: one `Reading` per sensor value, in our units."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from .units import HEART_RANGE, MAX_ACCEL_G, MAX_GYRO_RAD_S, MAX_POSITION_M


class Channel(StrEnum):
    ACCEL = "accel"  # g, x y z, gravity included when the sender includes it
    GYRO = "gyro"  # rad/s, x y z
    GRAVITY = "gravity"  # g, x y z
    LINEAR_ACCEL = "linear_accel"  # g, x y z, gravity removed by the sender
    QUAT = "quat"  # x y z w, unit length
    ORIENTATION = "orientation"  # rad: pitch roll yaw
    HEADING = "heading"  # rad, compass
    POSITION = "position"  # metres (mocopi, world frame, Y up)
    ONSET = "onset"  # 0..1 audio onset strength
    HEART = "heart"  # beats per minute


@dataclass(frozen=True)
class ChannelSpec:
    arity: tuple[int, int]  # accepted argument counts (min, max)
    limit: float  # largest sane magnitude of any component (after unit conversion)
    low: float = -math.inf  # optional lower bound for scalar channels


SPECS: dict[Channel, ChannelSpec] = {
    Channel.ACCEL: ChannelSpec((3, 3), MAX_ACCEL_G),
    Channel.GYRO: ChannelSpec((3, 3), MAX_GYRO_RAD_S),
    Channel.GRAVITY: ChannelSpec((3, 3), MAX_ACCEL_G),
    Channel.LINEAR_ACCEL: ChannelSpec((3, 3), MAX_ACCEL_G),
    Channel.QUAT: ChannelSpec((4, 4), 1.5),
    Channel.ORIENTATION: ChannelSpec((3, 3), 4 * math.pi),
    Channel.HEADING: ChannelSpec((1, 1), 4 * math.pi, -4 * math.pi),
    Channel.POSITION: ChannelSpec((3, 3), MAX_POSITION_M),
    Channel.ONSET: ChannelSpec((1, 1), 1.0, 0.0),
    Channel.HEART: ChannelSpec((1, 1), HEART_RANGE[1], HEART_RANGE[0]),
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor value set from one device, converted to copilot's units, stamped on host time."""

    device: str  # e.g. "zigsim:3F2A…", "gyrosc@192.168.1.20", "mocopi@127.0.0.1"
    channel: Channel
    values: tuple[float, ...]
    t: float  # host time of arrival (copilot.bridge.clock.host_time)
    limb: str | None = None  # when the wire names the limb (generic format, mocopi bones)
    performer: str | None = None  # when the wire names the performer
    device_time: float | None = None  # the sender's own timestamp, if it sends one
    sender: str = ""  # "ip:port" the datagram came from
    source: str = ""  # which format decoded it: zigsim, gyrosc, sensors2osc, touchosc, copilot, mocopi
