"""Sony mocopi's UDP stream (port 12351): parse it, build it, and turn bones into limb readings.

The wire (seagetch/mcp-receiver doc/Protocol.md, t-34400/mocopi_protocol_supplement): a packet is a
run of fields, each ``uint32 LE length · 4-char tag · value``; some values are themselves runs of
fields. Two packet kinds:

    head{ftyp "sony motion format", vrsn u8}  sndf{ipad 8 bytes, rcvp u16}
    skdf{bons{bndt{bnid u16, pbid u16, tran 7×f32}…}}          skeleton, sent now and then
    fram{fnum u32, time u32, [uttm f64], btrs{btdt{bnid u16, tran 7×f32}…}}    one frame

``tran`` is the bone's rotation (quaternion x y z w) then position (metres), both relative to the
parent bone, Y up, right-handed. ``uttm`` (Unix seconds, newer apps) is optional. 27 bones, ids 0–26.

We read what we know, skip tags we do not (well-formed ones), and refuse anything that runs past
its parent, is NaN, or names a bone that does not exist.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .guard import Rejected
from .readings import Channel, Reading
from .units import MAX_POSITION_M, STANDARD_GRAVITY

DEFAULT_PORT = 12351
FORMAT = b"sony motion format"
NOMINAL_HZ = 60.0  # the app sends 50–60 frames per second

BONES: tuple[str, ...] = (
    "root", "torso_1", "torso_2", "torso_3", "torso_4", "torso_5", "torso_6", "torso_7",
    "neck_1", "neck_2", "head",
    "l_shoulder", "l_up_arm", "l_low_arm", "l_hand",
    "r_shoulder", "r_up_arm", "r_low_arm", "r_hand",
    "l_up_leg", "l_low_leg", "l_foot", "l_toes",
    "r_up_leg", "r_low_leg", "r_foot", "r_toes",
)
BONE_COUNT = len(BONES)
# Parent of each bone (root has none): the hierarchy every skdf packet we have seen declares.
PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 5, 6,
    7, 8, 9,
    7, 11, 12, 13,
    7, 15, 16, 17,
    0, 19, 20, 21,
    0, 23, 24, 25,
)
# The bone that stands for each limb slot.
LIMB_BONES: dict[str, int] = {
    "left_hand": BONES.index("l_hand"),
    "right_hand": BONES.index("r_hand"),
    "head": BONES.index("head"),
    "torso": BONES.index("root"),
    "left_foot": BONES.index("l_foot"),
    "right_foot": BONES.index("r_foot"),
}
MAX_FIELDS = 4096  # no honest packet has more; a bound on work per datagram


@dataclass(frozen=True, slots=True)
class Bone:
    id: int
    rotation: tuple[float, float, float, float]  # x y z w, relative to the parent
    position: tuple[float, float, float]  # metres, relative to the parent
    parent: int = -1  # only skeleton packets carry it

    @property
    def name(self) -> str:
        return BONES[self.id]


@dataclass(frozen=True)
class Skeleton:
    version: int
    bones: tuple[Bone, ...]
    port: int | None = None


@dataclass(frozen=True)
class Frame:
    version: int
    number: int
    time: int  # the sender's frame clock (raw u32; meaning varies by app version)
    bones: tuple[Bone, ...]
    unix_time: float | None = None  # `uttm`, when the app sends it
    port: int | None = None


# -- parsing ------------------------------------------------------------------------------------------
def _fields(buf: bytes, start: int, end: int, budget: list[int]) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise Rejected("malformed", "too many fields")
        if end - pos < 8:
            raise Rejected("malformed", f"{end - pos} stray bytes at offset {pos}")
        (length,) = struct.unpack_from("<I", buf, pos)
        tag = buf[pos + 4:pos + 8]
        vstart = pos + 8
        vend = vstart + length
        if vend > end:
            raise Rejected("malformed", f"field {tag!r} at offset {pos} runs past its parent")
        yield tag, vstart, vend
        pos = vend


def _unpack(fmt: str, buf: bytes, start: int, end: int, tag: bytes) -> tuple[Any, ...]:
    if struct.calcsize(fmt) != end - start:
        raise Rejected("malformed", f"{tag.decode('ascii', 'replace')} has {end - start} bytes")
    return struct.unpack_from(fmt, buf, start)


def _bone(buf: bytes, start: int, end: int, budget: list[int], with_parent: bool) -> Bone:
    bone_id = parent = None
    tran: tuple[float, ...] | None = None
    for tag, a, b in _fields(buf, start, end, budget):
        if tag == b"bnid":
            (bone_id,) = _unpack("<H", buf, a, b, tag)
        elif tag == b"pbid":
            (parent,) = _unpack("<H", buf, a, b, tag)
        elif tag == b"tran":
            tran = _unpack("<7f", buf, a, b, tag)
    if bone_id is None or tran is None or (with_parent and parent is None):
        raise Rejected("malformed", "bone without bnid/tran" + ("/pbid" if with_parent else ""))
    assert isinstance(bone_id, int)
    if bone_id >= BONE_COUNT:
        raise Rejected("out_of_range", f"bone id {bone_id} (mocopi has {BONE_COUNT})")
    if not all(math.isfinite(v) for v in tran):
        raise Rejected("non_finite", f"bone {bone_id} transform {tran}")
    rot = tran[:4]
    norm = math.sqrt(sum(v * v for v in rot))
    if not 0.5 <= norm <= 1.5 or any(abs(v) > MAX_POSITION_M for v in tran[4:]):
        raise Rejected("out_of_range", f"bone {bone_id} transform {tran}")
    rot = tuple(v / norm for v in rot)
    p = -1 if parent is None or parent == 0xFFFF else int(parent)
    return Bone(bone_id, rot, tuple(tran[4:]), p)


def parse(data: bytes) -> Skeleton | Frame:
    """One mocopi datagram → Skeleton or Frame. Raises Rejected (only) on anything else."""
    budget = [MAX_FIELDS]
    version = 0
    port: int | None = None
    body: tuple[bytes, int, int] | None = None
    seen_head = False
    for tag, a, b in _fields(data, 0, len(data), budget):
        if tag == b"head":
            seen_head = True
            for t2, a2, b2 in _fields(data, a, b, budget):
                if t2 == b"ftyp" and data[a2:b2] != FORMAT:
                    raise Rejected("malformed", f"format {data[a2:b2][:32]!r}, not {FORMAT.decode()}")
                if t2 == b"vrsn":
                    if b2 - a2 != 1:
                        raise Rejected("malformed", "vrsn is not one byte")
                    version = data[a2]
        elif tag == b"sndf":
            for t2, a2, b2 in _fields(data, a, b, budget):
                if t2 == b"rcvp":
                    (port,) = _unpack("<H", data, a2, b2, t2)
        elif tag in (b"skdf", b"fram"):
            body = (tag, a, b)
    if not seen_head or body is None:
        raise Rejected("malformed", "not a mocopi packet (no head, or neither skdf nor fram)")
    tag, a, b = body
    if tag == b"skdf":
        bones: list[Bone] = []
        for t2, a2, b2 in _fields(data, a, b, budget):
            if t2 == b"bons":
                bones += [_bone(data, a3, b3, budget, True)
                          for t3, a3, b3 in _fields(data, a2, b2, budget) if t3 == b"bndt"]
        return Skeleton(version, tuple(bones), port)
    number = time = 0
    unix_time: float | None = None
    bones = []
    for t2, a2, b2 in _fields(data, a, b, budget):
        if t2 == b"fnum":
            (number,) = _unpack("<I", data, a2, b2, t2)
        elif t2 == b"time":
            (time,) = _unpack("<I", data, a2, b2, t2)
        elif t2 == b"uttm":
            (unix_time,) = _unpack("<d", data, a2, b2, t2)
            if not math.isfinite(unix_time):
                raise Rejected("non_finite", "uttm")
        elif t2 == b"btrs":
            bones += [_bone(data, a3, b3, budget, False)
                      for t3, a3, b3 in _fields(data, a2, b2, budget) if t3 == b"btdt"]
    if not bones:
        raise Rejected("malformed", "frame without bones")
    return Frame(version, number, time, tuple(bones), unix_time, port)


# -- building (tests, benches, `copilot motion replay` of synthetic takes) ------------------------------
def _field(tag: bytes, value: bytes) -> bytes:
    return struct.pack("<I", len(value)) + tag + value


def _head_sndf(port: int) -> bytes:
    head = _field(b"head", _field(b"ftyp", FORMAT) + _field(b"vrsn", b"\x01"))
    sndf = _field(b"sndf", _field(b"ipad", bytes(8)) + _field(b"rcvp", struct.pack("<H", port)))
    return head + sndf


def _tran(bone: Bone) -> bytes:
    return _field(b"tran", struct.pack("<7f", *bone.rotation, *bone.position))


def encode_skeleton(bones: Sequence[Bone], port: int = DEFAULT_PORT) -> bytes:
    bons = b"".join(
        _field(b"bndt", _field(b"bnid", struct.pack("<H", b.id))
               + _field(b"pbid", struct.pack("<H", b.parent & 0xFFFF)) + _tran(b))
        for b in bones
    )
    return _head_sndf(port) + _field(b"skdf", _field(b"bons", bons))


def encode_frame(number: int, bones: Sequence[Bone], time: int = 0, unix_time: float | None = None,
                 port: int = DEFAULT_PORT) -> bytes:
    btrs = b"".join(_field(b"btdt", _field(b"bnid", struct.pack("<H", b.id)) + _tran(b)) for b in bones)
    fram = _field(b"fnum", struct.pack("<I", number)) + _field(b"time", struct.pack("<I", time))
    if unix_time is not None:
        fram += _field(b"uttm", struct.pack("<d", unix_time))
    return _head_sndf(port) + _field(b"fram", fram + _field(b"btrs", btrs))


# -- kinematics: bones → limb accelerations and rotation rates -----------------------------------------
Quat = tuple[float, float, float, float]
Vec = tuple[float, float, float]


def qmul(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def qrotate(q: Quat, v: Vec) -> Vec:
    x, y, z, w = q
    # v' = v + 2w(u×v) + 2u×(u×v), u = (x, y, z)
    cx, cy, cz = y * v[2] - z * v[1], z * v[0] - x * v[2], x * v[1] - y * v[0]
    return (v[0] + 2 * (w * cx + y * cz - z * cy),
            v[1] + 2 * (w * cy + z * cx - x * cz),
            v[2] + 2 * (w * cz + x * cy - y * cx))


def world(bones: Sequence[Bone], parents: Sequence[int] = PARENTS) -> dict[int, tuple[Quat, Vec]]:
    """World rotation and position of every bone (parents before children, as mocopi numbers them)."""
    out: dict[int, tuple[Quat, Vec]] = {}
    for bone in sorted(bones, key=lambda b: b.id):
        p = parents[bone.id] if bone.id < len(parents) else -1
        if p < 0 or p not in out:
            out[bone.id] = (bone.rotation, bone.position)
            continue
        prot, ppos = out[p]
        off = qrotate(prot, bone.position)
        out[bone.id] = (qmul(prot, bone.rotation), (ppos[0] + off[0], ppos[1] + off[1], ppos[2] + off[2]))
    return out


class Body:
    """One mocopi performer: keeps the last frames to differentiate positions and rotations.

    Accelerations come out as an accelerometer would report them (specific force, in g, so a still
    limb reads 1 g upwards); rotation rates in rad/s. After a gap of more than `MAX_GAP` seconds the
    differentiator restarts rather than report the jump as a spike.
    """

    MAX_GAP = 0.2
    MIN_DT = 1.0 / 400

    def __init__(self, name: str) -> None:
        self.name = name
        self.parents: tuple[int, ...] = PARENTS
        self._last: dict[str, tuple[float, Vec, Vec | None, Quat]] = {}  # limb → (t, pos, vel, rot)
        self.last_number: int | None = None
        self.frames = 0
        self.skeletons = 0

    def skeleton(self, skel: Skeleton) -> None:
        parents = list(PARENTS)
        for bone in skel.bones:
            if bone.parent < bone.id:  # parents must come first; anything else is ignored
                parents[bone.id] = bone.parent
        self.parents = tuple(parents)
        self.skeletons += 1

    def readings(self, frame: Frame, t: float, sender: str = "", performer: str | None = None) -> list[Reading]:
        self.frames += 1
        self.last_number = frame.number
        stamp = frame.unix_time if frame.unix_time is not None else t
        poses = world(frame.bones, self.parents)
        out: list[Reading] = []
        for limb, bone_id in LIMB_BONES.items():
            pose = poses.get(bone_id)
            if pose is None:
                continue
            rot, pos = pose
            prev = self._last.get(limb)
            if prev is None or not (self.MIN_DT <= stamp - prev[0] <= self.MAX_GAP):
                self._last[limb] = (stamp, pos, None, rot)
                continue
            t0, p0, v0, r0 = prev
            dt = stamp - t0
            vel = ((pos[0] - p0[0]) / dt, (pos[1] - p0[1]) / dt, (pos[2] - p0[2]) / dt)
            self._last[limb] = (stamp, pos, vel, rot)
            out.append(Reading(self.name, Channel.GYRO, _rate(r0, rot, dt), t, limb=limb, performer=performer,
                               device_time=frame.unix_time, sender=sender, source="mocopi"))
            if v0 is not None:
                acc = [(vel[i] - v0[i]) / dt / STANDARD_GRAVITY for i in range(3)]
                acc[1] += 1.0  # an accelerometer at rest reads 1 g upwards (Y is up)
                out.append(Reading(self.name, Channel.ACCEL, tuple(acc), t, limb=limb, performer=performer,
                                   device_time=frame.unix_time, sender=sender, source="mocopi"))
        return out


def _rate(q0: Quat, q1: Quat, dt: float) -> Vec:
    """Angular velocity (rad/s, world frame) that turns q0 into q1 in dt seconds."""
    inv = (-q0[0], -q0[1], -q0[2], q0[3])
    x, y, z, w = qmul(q1, inv)
    if w < 0:  # the short way round
        x, y, z, w = -x, -y, -z, -w
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return (0.0, 0.0, 0.0)
    angle = 2.0 * math.atan2(s, w)
    k = angle / (s * dt)
    return (x * k, y * k, z * k)
