"""Every sender's real wire format over real UDP: addresses, units, device names, limbs, and the
guards (types, arity, NaN/Inf, ranges, floods, allow-list) that keep bad packets from the solver."""

from __future__ import annotations

import math
import struct
import time

import numpy as np
import pytest

from copilot.bridge.clock import host_time
from copilot.motion import mocopi, synth
from copilot.motion.guard import Rejected, TokenBucket
from copilot.motion.limbs import SLOT
from copilot.motion.readings import Channel
from copilot.motion.registry import DeviceRule, Registry
from copilot.motion.sources import Bind, Listener, MocopiSource, OscSource
from copilot.motion.units import STANDARD_GRAVITY
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fixtures_motion import UdpSender, wait_until


@pytest.fixture
def osc_listener():
    made = []

    def make(registry: Registry | None = None, allow=(), host: str = "127.0.0.1") -> tuple[Listener, Registry]:
        reg = registry or Registry()
        listener = Listener(Bind(host, free_udp_port()), OscSource(reg), allow)
        listener.start()
        made.append(listener)
        return listener, reg

    yield make
    for x in made:
        x.stop()


def test_bind_parsing() -> None:
    assert Bind.parse("9200") == Bind("127.0.0.1", 9200)
    assert Bind.parse(":9200") == Bind("127.0.0.1", 9200)
    assert Bind.parse("0.0.0.0:12351") == Bind("0.0.0.0", 12351)
    assert Bind.parse(12351).port == 12351
    assert Bind("127.0.0.1", 1).loopback and not Bind("0.0.0.0", 1).loopback
    for bad in ("nine", "1:2:x", "70000"):
        with pytest.raises(ValueError):
            Bind.parse(bad)


@pytest.mark.parametrize(("fmt", "device", "source"), [
    ("zigsim", "zigsim:PHONE1", "zigsim"),
    ("zigsim-android", "zigsim:PHONE1", "zigsim"),
    ("gyrosc", "gyrosc@127.0.0.1", "gyrosc"),
    ("sensors2osc", "sensors2osc@127.0.0.1", "sensors2osc"),
    ("touchosc", "touchosc@127.0.0.1", "touchosc"),
    ("copilot", "alice/left_hand", "copilot"),
])
def test_each_phone_format_reaches_the_registry_in_g_and_rad_per_s(osc_listener, fmt, device, source) -> None:
    listener, reg = osc_listener()
    sender = UdpSender(listener.port)
    accel, gravity, gyro = (0.25, -0.5, 1.75), (0.0, 0.0, 1.0), (0.5, -1.0, 2.0)
    try:
        sender.send_all(synth.phone_datagrams(fmt, "PHONE1" if fmt.startswith("zig") else "alice", accel, gravity,
                                              gyro, limb="left_hand"))
        dev = wait_until(lambda: reg.devices.get(device), what=f"{device} to appear")
        performer = "alice" if fmt == "copilot" else "default"
        # the listener thread files the device, then its performer: wait for both
        frame = wait_until(lambda: reg.performers.get(performer), what=f"performer {performer}")
        slot = SLOT["left_hand"] if fmt == "copilot" else SLOT["right_hand"]  # unnamed phones: right hand first
        wait_until(lambda: frame.n_accel[slot] >= 1 and (fmt == "touchosc" or np.isfinite(frame.t_gyro[slot])),
                   what="accelerometer and gyro readings")
    finally:
        sender.close()
    assert dev.source == source
    expected = accel
    if fmt.startswith("zigsim"):
        expected = tuple(a - g for a, g in zip(accel, gravity, strict=True))  # ZIG SIM sends user acceleration
    assert frame.accel[slot] == pytest.approx(expected, abs=1e-6)  # Sensors2OSC's m/s² are back in g
    if fmt != "touchosc":
        assert frame.gyro[slot] == pytest.approx(gyro, abs=1e-6)
    assert dev.tally.accepted >= 1 and not dev.tally.rejected


def test_units_are_normalised(osc_listener) -> None:
    listener, reg = osc_listener()
    sender = UdpSender(listener.port)
    got = []
    reg_ingest = reg.ingest

    def spy(readings, hz):
        readings = list(readings)
        got.extend(readings)
        return reg_ingest(readings, hz)

    reg.ingest = spy  # type: ignore[method-assign]
    try:
        sender.send(synth.message("/gyrosc/comp", 90.0))  # degrees → radians
        sender.send(synth.message("/gravity", 0.0, 0.0, STANDARD_GRAVITY))  # m/s² → g
        sender.send(synth.message("/rotationvector", 0.0, 0.0, math.sin(0.5)))  # 3-value rotation vector
        sender.send(synth.message("/ZIGSIM/U1/compass", 180.0, 1))
        sender.send(synth.message("/copilot/motion/heart", 128.0))
        wait_until(lambda: len(got) >= 5, what="five readings")
    finally:
        sender.close()
    by = {(r.source, r.channel): r for r in got}
    assert by[("gyrosc", Channel.HEADING)].values == pytest.approx((math.pi / 2,))
    assert by[("sensors2osc", Channel.GRAVITY)].values == pytest.approx((0.0, 0.0, 1.0))
    q = by[("sensors2osc", Channel.QUAT)].values
    assert q == pytest.approx((0.0, 0.0, math.sin(0.5), math.cos(0.5)))
    assert by[("zigsim", Channel.HEADING)].values == pytest.approx((math.pi,))
    assert by[("copilot", Channel.HEART)].values == (128.0,)
    assert all(0 < r.t <= host_time() for r in got)  # stamped on host time at arrival


def test_bad_packets_are_counted_by_reason_and_never_stored(osc_listener) -> None:
    listener, reg = osc_listener()
    sender = UdpSender(listener.port)
    good = synth.message("/gyrosc/accel", 0.1, 0.2, 1.0)
    bad = {
        "malformed": [b"\x00garbage", b"#bundle\x00\x01", b"/gyrosc/accel\x00\x00\x00,fff\x00\x00\x00\x00\x01",
                      bytes.fromhex("2fff0000"),  # an address that is not UTF-8
                      synth.message("/gyrosc/*", 0.1, 0.2, 1.0)],  # an address pattern: never expanded
        "wrong_type": [synth.message("/gyrosc/accel", "x", 0.2, 1.0), synth.message("/accxyz", 1.0, "2", 3.0)],
        "wrong_arity": [synth.message("/gyrosc/accel", 0.1, 0.2), synth.message("/copilot/motion/head", 1.0)],
        "non_finite": [synth.message("/gyrosc/accel", math.nan, 0.0, 1.0), synth.message("/accxyz", 0, math.inf, 1)],
        "out_of_range": [synth.message("/gyrosc/accel", 1e9, 0.0, 1.0), synth.message("/gyrosc/quat", 9, 9, 9, 9)],
        "unknown_address": [synth.message("/nope", 1.0), synth.message("/copilot/motion/tail/accel", 1, 2, 3)],
    }
    try:
        sender.send(good)
        frame = wait_until(lambda: reg.performers.get("default"), what="the good reading")
        before = frame.accel.copy()
        n_before = int(frame.n_accel.sum())
        for packets in bad.values():
            sender.send_all(packets)
        total = sum(len(v) for v in bad.values())
        wait_until(lambda: sum(reg.counts().values()) - reg.counts()["accepted"] >= total, what="all rejections")
        sender.send(synth.message("/gyrosc/accel", 0.3, 0.2, 1.0))  # the listener is still alive
        wait_until(lambda: frame.n_accel.sum() == n_before + 1, what="the next good reading")
    finally:
        sender.close()
    counts = reg.counts()
    for reason, packets in bad.items():
        assert counts.get(reason, 0) == len(packets), (reason, counts)
    assert counts["accepted"] == 2
    slot = SLOT["right_hand"]
    assert before[slot] == pytest.approx((0.1, 0.2, 1.0))
    assert reg.performers["default"].accel[slot] == pytest.approx((0.3, 0.2, 1.0))  # no bad value in between
    assert np.all(np.isfinite(reg.performers["default"].accel))


def test_a_flood_is_dropped_and_a_normal_rate_is_not(osc_listener) -> None:
    listener, reg = osc_listener()
    sender = UdpSender(listener.port)
    msg = synth.message("/accxyz", 0.0, 0.0, 1.0)
    try:
        # one phone sending ~6000 accelerometer messages a second for half a second: 60 × its 100 Hz
        t0 = host_time()
        for _ in range(100):
            sender.send_all([msg] * 30)
            time.sleep(0.005)
        seconds = host_time() - t0
        wait_until(lambda: reg.counts()["accepted"] + reg.counts().get("flood", 0) >= listener.datagrams > 0,
                   what="the burst to be handled")
    finally:
        sender.close()
    counts = reg.counts()
    assert counts["accepted"] + counts["flood"] == listener.datagrams
    assert counts["flood"] > 1000
    assert counts["accepted"] <= 250 + 1000 * seconds + 10  # burst allowance + 10 × 100 Hz, no more
    bucket = TokenBucket(rate=1000.0, burst=250.0)  # 10 × a 100 Hz device
    steady = [bucket.allow(i / 100.0) for i in range(2000)]  # 20 s at exactly 100 Hz
    assert all(steady)


def test_lan_bind_needs_an_allow_list_and_enforces_it(osc_listener) -> None:
    reg = Registry()
    with pytest.raises(ValueError, match="allow-list"):
        Listener(Bind("0.0.0.0", free_udp_port()), OscSource(reg))
    listener, reg = osc_listener(host="0.0.0.0", allow=["10.9.8.7"])
    sender = UdpSender(listener.port)
    try:
        sender.send(synth.message("/accxyz", 0.0, 0.0, 1.0))
        wait_until(lambda: reg.counts().get("not_allowed"), what="the refusal")
    finally:
        sender.close()
    assert reg.counts()["accepted"] == 0 and not reg.devices
    listener2, reg2 = osc_listener(host="0.0.0.0", allow=["127.0.0.0/8"])
    sender = UdpSender(listener2.port)
    try:
        sender.send(synth.message("/accxyz", 0.0, 0.0, 1.0))
        wait_until(lambda: reg2.counts()["accepted"] == 1, what="the allowed reading")
    finally:
        sender.close()
    with pytest.raises(ValueError, match="allow"):
        Listener(Bind("0.0.0.0", 1), OscSource(reg), ["not-an-address"])


def test_several_devices_are_named_assigned_and_go_stale(osc_listener) -> None:
    rules = [DeviceRule.parse("gyrosc@*=bob/left_hand"), DeviceRule("zigsim:*", performer="alice")]
    listener, reg = osc_listener(Registry(rules))
    sender = UdpSender(listener.port)
    try:
        sender.send_all(synth.phone_datagrams("zigsim", "AAA", (0, 0, 1), (0, 0, 1), (0, 0, 0)))
        sender.send_all(synth.phone_datagrams("zigsim", "BBB", (0, 0, 1), (0, 0, 1), (0, 0, 0)))
        sender.send_all(synth.phone_datagrams("gyrosc", "", (0, 0, 1), (0, 0, 1), (0, 0, 0)))
        wait_until(lambda: len(reg.devices) == 3, what="three devices")
    finally:
        sender.close()
    a, b, g = reg.devices["zigsim:AAA"], reg.devices["zigsim:BBB"], reg.devices["gyrosc@127.0.0.1"]
    assert (a.performer, a.limb) == ("alice", "right_hand")
    assert (b.performer, b.limb) == ("alice", "left_hand")  # next free limb in the automatic order
    assert (g.performer, g.limb) == ("bob", "left_hand")
    now = host_time()
    assert not a.stale(now)
    assert a.stale(now + a.stale_after + 0.01)
    with pytest.raises(ValueError):
        DeviceRule.parse("no-equals-sign")
    with pytest.raises(ValueError, match="unknown limb"):
        DeviceRule.parse("x=tail")


def test_stray_names_fall_silent_and_a_new_phone_still_gets_a_limb(osc_listener) -> None:
    listener, reg = osc_listener(Registry(forget_after=0.6))
    sender = UdpSender(listener.port)
    tick = (0, 0, 1), (0, 0, 1), (0, 0, 0)
    try:
        for i in range(6):  # six stray names, once each: every limb of the default performer taken
            sender.send_all(synth.phone_datagrams("zigsim", f"STRAY{i}", *tick))
        wait_until(lambda: len(reg.devices) == 6, what="six strays")
        sender.send_all(synth.phone_datagrams("zigsim", "TOO-SOON", *tick))
        wait_until(lambda: reg.counts().get("unassigned", 0) >= 1, what="a refusal while every limb is taken")
        time.sleep(0.8)  # the strays fall silent for longer than forget_after
        sender.send_all(synth.phone_datagrams("zigsim", "PHONE", *tick))
        wait_until(lambda: "zigsim:PHONE" in reg.devices, what="the new phone")
    finally:
        sender.close()
    assert reg.devices["zigsim:PHONE"].limb == "right_hand"  # the first limb, freed by the first stray
    assert reg.forgotten == 6 and set(reg.devices) == {"zigsim:PHONE"}
    assert reg.counts()["accepted"] >= 7  # the strays' readings stay counted after they are forgotten


def test_a_device_still_sending_keeps_its_limb(osc_listener) -> None:
    listener, reg = osc_listener(Registry(forget_after=0.5))
    sender = UdpSender(listener.port)
    tick = (0, 0, 1), (0, 0, 1), (0, 0, 0)
    try:
        for _ in range(8):  # 0.8 s of a live phone at ~10 Hz
            sender.send_all(synth.phone_datagrams("zigsim", "LIVE", *tick))
            time.sleep(0.1)
        sender.send_all(synth.phone_datagrams("zigsim", "OTHER", *tick))
        wait_until(lambda: "zigsim:OTHER" in reg.devices, what="a second phone")
    finally:
        sender.close()
    assert reg.devices["zigsim:LIVE"].limb == "right_hand" and reg.devices["zigsim:OTHER"].limb == "left_hand"
    assert reg.forgotten == 0


def test_forget_after_is_a_motion_setting() -> None:
    from copilot.motion.settings import MotionSettings

    assert MotionSettings.build({}, {"forget_after": 30}).forget_after == 30.0
    for bad in (0, float("nan"), 1e9):
        with pytest.raises(ValueError, match="forget_after"):
            MotionSettings.build({}, {"forget_after": bad})


# -- mocopi ---------------------------------------------------------------------------------------------
def _pose(seed: int) -> list[mocopi.Bone]:
    rng = np.random.default_rng(seed)
    bones = []
    for i in range(mocopi.BONE_COUNT):
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        bones.append(mocopi.Bone(i, tuple(float(v) for v in q), tuple(float(v) for v in rng.uniform(-1, 1, 3)),
                                 mocopi.PARENTS[i]))
    return bones


def test_mocopi_frames_parse_bone_by_bone() -> None:
    bones = _pose(1)
    data = mocopi.encode_frame(4242, bones, time=77, unix_time=1.7e9 + 0.5, port=12351)
    frame = mocopi.parse(data)
    assert isinstance(frame, mocopi.Frame)
    assert (frame.number, frame.time, frame.unix_time, frame.port, frame.version) == (4242, 77, 1.7e9 + 0.5, 12351, 1)
    assert len(frame.bones) == 27
    for sent, got in zip(bones, frame.bones, strict=True):
        assert got.id == sent.id and got.name == mocopi.BONES[sent.id]
        assert got.rotation == pytest.approx(sent.rotation, abs=1e-6)  # float32 on the wire
        assert got.position == pytest.approx(sent.position, abs=1e-6)
    skel = mocopi.parse(mocopi.encode_skeleton(bones))
    assert isinstance(skel, mocopi.Skeleton)
    assert [b.parent for b in skel.bones] == list(mocopi.PARENTS)
    # the byte layout: a length-prefixed 'head' first, 'sony motion format' inside it
    (length,) = struct.unpack_from("<I", data, 0)
    assert data[4:8] == b"head" and b"sony motion format" in data[8:8 + length]
    # frames from older apps have no uttm
    assert mocopi.parse(mocopi.encode_frame(1, bones)).unix_time is None


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda d: d[:-3], "malformed"),  # truncated
    (lambda d: d[:4] + b"xxxx" + d[8:], "malformed"),  # no head
    (lambda d: struct.pack("<I", 10**6) + d[4:], "malformed"),  # a length that runs past the packet
    (lambda d: d.replace(b"sony motion format", b"sony motion f0rmat"), "malformed"),
    (lambda d: b"", "malformed"),
])
def test_mocopi_rejects_broken_packets(mutate, reason) -> None:
    data = mocopi.encode_frame(1, _pose(2), unix_time=1.0)
    with pytest.raises(Rejected) as err:
        mocopi.parse(mutate(data))
    assert err.value.reason == reason


def test_mocopi_rejects_nan_and_impossible_bones() -> None:
    bones = _pose(3)
    nan = [*bones[:5], mocopi.Bone(5, (math.nan, 0, 0, 1), (0, 0, 0)), *bones[6:]]
    with pytest.raises(Rejected) as err:
        mocopi.parse(mocopi.encode_frame(1, nan))
    assert err.value.reason == "non_finite"
    bad_id = [*bones[:5], mocopi.Bone(99, (0, 0, 0, 1), (0, 0, 0))]
    with pytest.raises(Rejected) as err:
        mocopi.parse(mocopi.encode_frame(1, bad_id))
    assert err.value.reason == "out_of_range"


def test_mocopi_over_udp_becomes_limb_accelerations_in_g() -> None:
    """A body whose hips rise with a known acceleration: the torso reads 1 g + a/g, the hands the same
    (they ride on the hips), the gyro zero; the skeleton packet sets the hierarchy."""
    reg = Registry()
    listener = Listener(Bind("127.0.0.1", free_udp_port()), MocopiSource(reg))
    listener.start()
    sender = UdpSender(listener.port)
    accel = 4.0  # m/s², upwards
    rate = 50.0
    try:
        sender.send(mocopi.encode_skeleton(synth.body_bones(0.0, 0.0)))
        for i in range(12):
            t = i / rate
            bones = synth.body_bones(0.0, 0.0)
            root = bones[0]
            bones[0] = mocopi.Bone(0, root.rotation, (root.position[0], root.position[1] + 0.5 * accel * t * t,
                                                      root.position[2]))
            sender.send(mocopi.encode_frame(i, bones, unix_time=1.7e9 + t))
        frame = wait_until(lambda: reg.performers.get("default"), what="mocopi readings")
        wait_until(lambda: frame.n_accel[SLOT["torso"]] >= 10, what="ten frames of acceleration")
    finally:
        sender.close()
        listener.stop()
    dev = reg.devices["mocopi@127.0.0.1"]
    assert dev.source == "mocopi" and dev.limb == "body"
    for limb in ("torso", "left_hand", "right_hand", "head", "left_foot", "right_foot"):
        s = SLOT[limb]
        assert frame.accel[s] == pytest.approx((0.0, 1.0 + accel / STANDARD_GRAVITY, 0.0), abs=1e-3), limb
        assert frame.gyro[s] == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)
    assert dev.clock_offset is not None  # it sends its own clock (uttm)


def test_mocopi_rotation_rates() -> None:
    """The right upper arm turning at 2 rad/s about z: the right hand's gyro reads (0, 0, −2)."""
    body = mocopi.Body("m")
    out = []
    for i in range(5):
        t = i / 50.0
        bones = synth.body_bones(0.0, 0.0)
        bones[16] = mocopi.Bone(16, synth._zrot(-2.0 * t), bones[16].position)
        out = body.readings(mocopi.Frame(1, i, i, tuple(bones), unix_time=t), t)
    gyro = {r.limb: r.values for r in out if r.channel is Channel.GYRO}
    assert gyro["right_hand"] == pytest.approx((0.0, 0.0, -2.0), abs=1e-6)
    assert gyro["left_hand"] == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)


def test_malformed_mocopi_over_udp_is_counted_and_the_listener_survives() -> None:
    reg = Registry()
    listener = Listener(Bind("127.0.0.1", free_udp_port()), MocopiSource(reg))
    listener.start()
    sender = UdpSender(listener.port)
    try:
        sender.send_all([b"\x01\x02", b"junk" * 40, mocopi.encode_frame(1, _pose(4))[:-9]])
        wait_until(lambda: reg.counts().get("malformed", 0) == 3, what="three malformed")
        for i in range(3):
            sender.send(mocopi.encode_frame(i, synth.body_bones(0.0), unix_time=1.7e9 + i / 50))
        wait_until(lambda: reg.counts()["accepted"] > 0, what="good frames after bad ones")
    finally:
        sender.close()
        listener.stop()


def test_linear_acceleration_stands_in_only_when_there_is_no_accelerometer() -> None:
    reg = Registry()
    src = OscSource(reg)
    t = 100.0
    sender = ("127.0.0.1", 5000)
    for i in range(3):  # a phone sending only gravity-free acceleration: every reading is used
        src.datagram(synth.message("/linearacceleration", 0.0, 0.0, STANDARD_GRAVITY * (i + 1)), t + i * 0.01,
                     sender)
    frame = reg.performers["default"]
    s = SLOT["right_hand"]
    assert frame.n_accel[s] == 3 and frame.accel[s][2] == pytest.approx(3.0)
    src.datagram(synth.message("/accelerometer", 0.0, 0.0, STANDARD_GRAVITY), t + 0.05, sender)
    src.datagram(synth.message("/linearacceleration", 0.0, 0.0, 5 * STANDARD_GRAVITY), t + 0.06, sender)
    assert frame.accel[s][2] == pytest.approx(1.0)  # the accelerometer is back: it wins
    assert frame.n_accel[s] == 4


def test_a_mocopi_body_moves_all_six_limbs_and_pans_by_its_busier_side() -> None:
    """Offline through the whole pipeline: a flapping body fills six limbs and locks to the beat; when
    only the right arm flaps, the pan leans right."""
    from copilot.motion.offline import rig
    from copilot.motion.record import Datagram, Take

    both = synth.mocopi_wave(seconds=8.0, strength=1.0)
    r = rig(Take(datagrams=both), can=lambda p: True)
    states = r.run(both)
    last = states[-1]
    assert set(last.present) == {"left_hand", "right_hand", "head", "torso", "left_foot", "right_foot"}
    assert max(s.energy for s in states) > 0.2 and last.lock > 0.5
    assert abs(r.engine.performers["default"].mapper.values()["pan"] - 0.5) < 0.05  # symmetric: centred

    right_only = []
    for d in both:
        packet = mocopi.parse(d.data)
        if isinstance(packet, mocopi.Frame):
            bones = list(packet.bones)
            bones[12] = mocopi.Bone(12, (0.0, 0.0, 0.0, 1.0), bones[12].position)  # left arm still
            d = Datagram(d.t, d.kind, mocopi.encode_frame(packet.number, bones, unix_time=packet.unix_time),
                         d.sender, d.beat)
        right_only.append(d)
    r2 = rig(Take(datagrams=right_only), can=lambda p: True)
    r2.run(right_only)
    assert r2.engine.performers["default"].mapper.values()["pan"] > 0.6
