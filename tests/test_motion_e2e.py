"""End to end with real parts: a motion take replayed over real UDP into `copilot run`'s session
(motion input plugin → safety scheduler → dispatcher → midi-monitor → a JACK MIDI port), captured by
a real JACK client. The CC stream must follow the motion, never jump faster than its slope limits,
never leave its caps, and never carry anything from the garbage and NaN packets mixed into the take."""

from __future__ import annotations

import itertools
import math
import os
import threading
import time

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.midi import from_cc7
from copilot.bridge.params import PARAMS
from copilot.bridge.session import Session, SessionOptions
from copilot.motion import record, synth
from copilot.motion.mapper import DEFAULT_MAPPINGS
from copilot.plugins import midi_monitor, motion_input
from copilot.tests.fixtures import free_udp_port

TEMPO = 120.0
ROWS = {m.param: m for m in DEFAULT_MAPPINGS}


def strength(beat: float) -> float:
    """Still for a bar, waving harder over three bars, full for two, then still again."""
    if beat < 4:
        return 0.0
    if beat < 16:
        return 1.6 * (beat - 4) / 12
    if beat < 24:
        return 1.6
    return 0.0


def _take_with_faults() -> list[record.Datagram]:
    clean = synth.wave(tempo=TEMPO, seconds=13.0, rate=100.0, fmt="zigsim", device="PHONE", strength=strength,
                       offset=0.1)
    faults = [synth.message("/ZIGSIM/PHONE/accel", math.nan, 0.0, 0.0), synth.message("/accxyz", math.inf, 0, 1),
              synth.message("/ZIGSIM/PHONE/gyro", "spin", 0.0, 0.0), b"\x07not osc at all",
              synth.message("/ZIGSIM/PHONE/accel", 1e12, 0.0, 0.0), synth.message("/ZIGSIM/PHONE/accel", 1.0)]
    out = list(clean)
    for i, t in enumerate(x / 10 for x in range(5, 125, 7)):
        out.append(record.Datagram(t, "osc", faults[i % len(faults)], ("127.0.0.1", 50000)))
    return sorted(out, key=lambda d: d.t)


def _decode(messages: list[tuple[float, bytes]]) -> dict[tuple[int, int], list[tuple[float, int]]]:
    """(channel, cc) → [(arrival time, value)]."""
    out: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for t, data in messages:
        assert len(data) == 3 and data[0] & 0xF0 == 0xB0, data.hex()
        out.setdefault((data[0] & 0x0F, data[1]), []).append((t, data[2]))
    return out


@pytest.mark.jack
def test_a_replayed_take_drives_the_cc_stream_within_slope_and_caps(jack_server, midi_capture, tmp_path) -> None:
    port_name = f"Copilot Motion {os.getpid()}"
    osc_port = free_udp_port()
    config = Config({"targets": {"midi-monitor": {"port": port_name}}, "motion": {"deck": "A"}})
    options = SessionOptions(target="midi-monitor", link=False, tempo=TEMPO, osc=None, midi_api="jack",
                             motion_osc=f"127.0.0.1:{osc_port}", log=tmp_path / "session.jsonl")
    host = TargetHost(config.targets(), plugins=[midi_monitor, motion_input], entry_points=False)
    said: list[str] = []
    session = Session(options, config, host=host, report=said.append)
    session.start()
    try:
        assert [i.name for i in session.inputs] == ["motion"], said
        capture = midi_capture(port_name)
        take = _take_with_faults()
        player = threading.Thread(target=record.play, args=(take, {"osc": ("127.0.0.1", osc_port)}))
        t0 = time.monotonic()
        player.start()
        player.join(20)
        time.sleep(2.5)  # still: everything glides back to neutral
        status = session.inputs[0].status()
    finally:
        session.stop()
    got = capture.collect(timeout=0.5)
    cc = _decode(got)
    assert time.monotonic() - t0 < 25

    # the faults were counted and dropped, every clean reading accepted
    counts = status["counts"]
    assert counts["non_finite"] == 6 and counts["malformed"] == 3 and counts["wrong_type"] == 3
    assert counts["out_of_range"] == 3 and counts["wrong_arity"] == 3
    assert counts["accepted"] == 1300 * 3
    assert "flood" not in counts

    # fx_depth (CC 14, deck A = channel 1): rises with the motion, tops out near the row's range, comes back
    fx = cc[(0, midi_monitor.CCS["fx_depth"])]
    values = [from_cc7(v) for _, v in fx]
    row, spec = ROWS["fx_depth"], PARAMS["fx_depth"]
    assert max(values) <= row.hi + 0.5 / 127 and min(values) >= 0.0
    assert max(values) > 0.45
    assert values[-1] == 0.0  # neutral again once the performer stops
    start = fx[0][0]
    by_second = {}
    for t, v in fx:
        by_second.setdefault(int(t - start), []).append(v)
    means = [sum(v) / len(v) for _, v in sorted(by_second.items())]
    assert means[1] < means[3] < means[5]  # the ramp: harder waving, more FX
    # slope: never faster than the row's limit (with the scheduler's own limit behind it)
    per_second = min(row.slope, spec.max_slope) * TEMPO / 60.0
    for (t0_, v0), (t1, v1) in itertools.pairwise(fx):
        assert abs(v1 - v0) / 127.0 <= per_second * (t1 - t0_) + 2.5 / 127.0, (t0_, v0, t1, v1)

    # the filter (14-bit, CC 13/45): only inside its row's range, and open again at the end
    msb = cc[(0, midi_monitor.CCS["filter"])]
    lsb = cc[(0, midi_monitor.CCS["filter"] + 32)]
    assert len(msb) == len(lsb)
    filt = [((m << 7) | lo) / 16383.0 for (_, m), (_, lo) in zip(msb, lsb, strict=True)]
    assert all(0.5 - 1e-4 <= v <= ROWS["filter"].hi + 1e-4 for v in filt)
    assert max(filt) > 0.55 and abs(filt[-1] - 0.5) < 1e-3
    # the macros on channel 16: energy follows the same motion; every value on the wire is 0..127
    energy = [from_cc7(v) for _, v in cc[(15, midi_monitor.CCS["energy"])]]
    assert max(energy) > 0.5 and energy[-1] == 0.0
    assert all(0 <= v <= 127 for stream in cc.values() for _, v in stream)
    # pan never moved: one phone has no left and right
    assert (0, midi_monitor.CCS["pan"]) not in cc


@pytest.mark.jack
def test_the_input_plugin_is_found_and_a_bad_setting_is_reported_not_fatal(jack_server, tmp_path) -> None:
    host = TargetHost(plugins=[midi_monitor, motion_input], entry_points=False)
    assert host.inputs({"motion_osc": None, "mocopi": None}) == []  # not asked for: nothing listens
    assert [i.name for i in host.inputs({"motion_osc": "9200"})] == ["motion"]
    said: list[str] = []
    options = SessionOptions(target="midi-monitor", link=False, osc=None, midi_api="jack", motion_osc="nine",
                             log=tmp_path / "s.jsonl")
    session = Session(options, Config({"targets": {"midi-monitor": {"port": f"Copilot Bad {os.getpid()}"}}}),
                      host=host, report=said.append)
    session.start()
    try:
        assert session.inputs == []
        assert any("input motion did not start" in m and "[HOST:]PORT" in m for m in said), said
        assert session.dispatcher is not None and session.targets  # the show goes on without motion
    finally:
        session.stop()
