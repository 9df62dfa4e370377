"""Synthetic performers: takes of a phone (or a mocopi body) moving to the beat, with known truth.

Tests, benches and `copilot motion replay --demo` use these instead of a person: the movement's
pulse peaks at a chosen phase of the beat, its strength follows a chosen envelope, and every sender's
wire format and units are produced exactly as the apps send them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from . import mocopi
from .record import Datagram, Take
from .units import STANDARD_GRAVITY

FORMATS = ("zigsim", "zigsim-android", "gyrosc", "sensors2osc", "touchosc", "copilot")


def message(address: str, *args: float | str) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*messages: tuple[str, tuple[float, ...]]) -> bytes:
    b = OscBundleBuilder(IMMEDIATELY)
    for address, args in messages:
        mb = OscMessageBuilder(address)
        for a in args:
            mb.add_arg(a)
        b.add_content(mb.build())
    return b.build().dgram


def phone_datagrams(fmt: str, device: str, accel_g: tuple[float, float, float],
                    gravity_g: tuple[float, float, float], gyro: tuple[float, float, float],
                    limb: str = "right_hand") -> list[bytes]:
    """One sensor tick of one phone in `fmt`'s wire format and units (accel_g includes gravity)."""
    user = tuple(a - g for a, g in zip(accel_g, gravity_g, strict=True))
    if fmt in ("zigsim", "zigsim-android"):
        root = f"/ZIGSIM/{device}" if fmt == "zigsim" else f"/{device}"
        return [bundle((f"{root}/accel", user), (f"{root}/gravity", gravity_g), (f"{root}/gyro", gyro))]
    if fmt == "gyrosc":
        return [message("/gyrosc/accel", *accel_g), message("/gyrosc/rrate", *gyro)]
    if fmt == "sensors2osc":
        return [message("/accelerometer", *(a * STANDARD_GRAVITY for a in accel_g)), message("/gyroscope", *gyro)]
    if fmt == "touchosc":
        return [message("/accxyz", *accel_g)]
    if fmt == "copilot":
        return [message(f"/copilot/motion/{device}/{limb}" if device else f"/copilot/motion/{limb}",
                        *accel_g, *gyro)]
    raise ValueError(f"unknown phone format {fmt!r}; choose from {', '.join(FORMATS)}")


def wave(tempo: float = 120.0, seconds: float = 16.0, rate: float = 100.0, fmt: str = "zigsim",
         device: str = "A1B2C3", limb: str = "right_hand", strength: Callable[[float], float] | float = 1.0,
         offset: float = 0.0, noise: float = 0.01, seed: int = 0, start_beat: float = 0.0,
         sender: tuple[str, int] = ("127.0.0.1", 50000), t0: float = 0.0) -> list[Datagram]:
    """A phone bobbing up and down once per beat: upward acceleration peaks at beat phase `offset`.

    `strength(beat)` is the peak dynamic acceleration in g (a constant or an envelope over beats).
    The phone lies flat (gravity on +z) and tilts a little with each bob (the gyro sees it).
    """
    rng = np.random.default_rng(seed)
    out: list[Datagram] = []
    n = int(seconds * rate)
    for i in range(n):
        t = t0 + i / rate
        beat = start_beat + (t - t0) * tempo / 60.0
        amp = strength(beat) if callable(strength) else float(strength)
        phase = 2.0 * math.pi * (beat - offset)
        bob = amp * math.cos(phase)
        accel = (noise * rng.standard_normal(), 0.3 * amp * math.sin(phase) + noise * rng.standard_normal(),
                 1.0 + bob + noise * rng.standard_normal())
        gyro = (2.0 * amp * math.sin(phase), 0.0, 0.0)
        for data in phone_datagrams(fmt, device, accel, (0.0, 0.0, 1.0), gyro, limb):
            out.append(Datagram(t, "osc", data, sender, beat))
    return out


def wave_take(**kw: Any) -> Take:
    return Take(tempo=float(kw.get("tempo", 120.0)), note="synthetic wave", datagrams=wave(**kw))


def merge(*takes: list[Datagram]) -> list[Datagram]:
    """Several performers' or phones' datagrams as one stream, in time order."""
    return sorted((d for take in takes for d in take), key=lambda d: d.t)


# -- mocopi --------------------------------------------------------------------------------------------
# A rough T-pose (metres, relative to the parent, Y up): enough for hands and feet to move like a body's.
T_POSE: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.93, 0.0), (0.0, 0.05, 0.0), (0.0, 0.05, 0.0), (0.0, 0.06, 0.0), (0.0, 0.06, 0.0),
    (0.0, 0.07, 0.0), (0.0, 0.09, 0.0), (0.0, 0.1, 0.0), (0.0, 0.05, 0.0), (0.0, 0.05, 0.0), (0.0, 0.05, 0.0),
    (0.01, -0.07, 0.07), (0.13, 0.03, -0.03), (0.29, 0.0, 0.0), (0.24, 0.0, 0.0),
    (-0.01, -0.07, 0.07), (-0.13, 0.03, -0.03), (-0.29, 0.0, 0.0), (-0.24, 0.0, 0.0),
    (0.09, -0.04, 0.02), (-0.01, -0.39, -0.01), (-0.02, -0.4, -0.06), (0.01, -0.1, 0.12),
    (-0.09, -0.04, 0.02), (0.01, -0.39, -0.01), (0.02, -0.4, -0.06), (-0.01, -0.1, 0.12),
)


def _zrot(angle: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(angle / 2.0), math.cos(angle / 2.0))


def body_bones(beat: float, strength: float = 1.0, offset: float = 0.0, bounce: float = 0.03
               ) -> list[mocopi.Bone]:
    """Both arms flap around the shoulders once per beat; the hips bob."""
    phase = 2.0 * math.pi * (beat - offset)
    arm = 0.6 * strength * math.sin(phase)
    bones = []
    for i, pos in enumerate(T_POSE):
        rot = (0.0, 0.0, 0.0, 1.0)
        if i == 12:  # left upper arm
            rot = _zrot(arm)
        elif i == 16:  # right upper arm: mirrored
            rot = _zrot(-arm)
        if i == 0:
            pos = (pos[0], pos[1] + bounce * strength * math.cos(phase), pos[2])
        bones.append(mocopi.Bone(i, rot, pos, mocopi.PARENTS[i]))
    return bones


def mocopi_wave(tempo: float = 120.0, seconds: float = 8.0, rate: float = 50.0,
                strength: Callable[[float], float] | float = 1.0, offset: float = 0.0,
                sender: tuple[str, int] = ("127.0.0.1", 50001), t0: float = 0.0, unix0: float = 1.7e9
                ) -> list[Datagram]:
    out = [Datagram(t0, "mocopi", mocopi.encode_skeleton(body_bones(0.0, 0.0)), sender, 0.0)]
    for i in range(int(seconds * rate)):
        t = t0 + i / rate
        beat = (t - t0) * tempo / 60.0
        amp = strength(beat) if callable(strength) else float(strength)
        out.append(Datagram(t, "mocopi", mocopi.encode_frame(i, body_bones(beat, amp, offset), time=i,
                                                            unix_time=unix0 + (t - t0)), sender, beat))
    return out
