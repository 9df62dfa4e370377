"""Takes: the file format round-trips, broken lines are reported (not fatal), and a take played over
real UDP reaches a listener byte for byte with its timing."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from copilot.bridge.clock import InternalClock, host_time
from copilot.motion import record, synth
from copilot.motion.offline import clock_for, rig
from copilot.motion.registry import Registry
from copilot.motion.sources import Bind, Listener, OscSource
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fixtures_motion import UdpSender, wait_until


def test_take_round_trip(tmp_path) -> None:
    take = synth.wave_take(seconds=1.0, fmt="gyrosc", tempo=126.0)
    take.datagrams.append(record.Datagram(1.5, "mocopi", b"\x00\x01binary\xff", ("10.0.0.2", 12351), 3.15))
    path = take.save(tmp_path / "t.jsonl")
    back = record.Take.load(path)
    assert back.tempo == 126.0 and back.quantum == 4.0 and not back.skipped
    assert [(d.t, d.kind, d.data, d.sender) for d in back.datagrams] == \
           [(round(d.t, 6), d.kind, d.data, d.sender) for d in take.datagrams]
    head = json.loads(path.read_text().splitlines()[0])
    assert head["format"] == "copilot-motion-take" and head["version"] == 1


def test_broken_lines_are_skipped_with_their_line_numbers(tmp_path) -> None:
    take = synth.wave_take(seconds=0.1, fmt="touchosc")
    path = take.save(tmp_path / "t.jsonl")
    lines = path.read_text().splitlines()
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"t": 0.5, "kind": "laser", "data": ""}))
    lines.insert(7, json.dumps({"t": 0.001, "kind": "osc", "data": "AAAA"}))  # time going backwards
    lines.insert(9, json.dumps({"t": 9.0, "kind": "osc", "data": "@@@"}))  # not base64
    path.write_text("\n".join(lines) + "\n")
    back = record.Take.load(path)
    assert len(back.datagrams) == len(take.datagrams)
    assert [s.split(":")[0] for s in back.skipped] == ["line 4", "line 6", "line 8", "line 10"]
    with pytest.raises(record.TakeError, match=r"t.jsonl:4"):
        record.Take.load(path, strict=True)
    (tmp_path / "x.jsonl").write_text('{"format": "something-else"}\n')
    with pytest.raises(record.TakeError, match="not a motion take"):
        record.Take.load(tmp_path / "x.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(record.TakeError, match="empty"):
        record.Take.load(tmp_path / "empty.jsonl")
    with pytest.raises(record.TakeError, match="cannot read"):
        record.Take.load(tmp_path / "missing.jsonl")


def test_recorder_taps_a_live_listener(tmp_path) -> None:
    clock = InternalClock(tempo=100.0)
    path = tmp_path / "live.jsonl"
    recorder = record.Recorder(path, clock, note="test")
    reg = Registry()
    listener = Listener(Bind("127.0.0.1", free_udp_port()), OscSource(reg), tap=recorder.tap)
    listener.start()
    sender = UdpSender(listener.port)
    payloads = [synth.message("/accxyz", 0.0, 0.0, 1.0 + i / 10) for i in range(5)] + [b"garbage"]
    try:
        sender.send_all(payloads, gap=0.01)
        wait_until(lambda: recorder.count == 6, what="six recorded datagrams")
    finally:
        sender.close()
        listener.stop()
        recorder.close()
    take = record.Take.load(path)
    assert take.tempo == 100.0 and take.note == "test"
    assert [d.data for d in take.datagrams] == payloads  # faults recorded too, byte for byte
    assert all(d.sender == ("127.0.0.1", sender.port) for d in take.datagrams)
    gaps = [b.t - a.t for a, b in zip(take.datagrams, take.datagrams[1:], strict=False)]
    assert all(0.005 < g < 0.2 for g in gaps)
    beats = [d.beat for d in take.datagrams]
    assert all(b is not None for b in beats) and beats == sorted(beats)


def test_play_sends_byte_for_byte_with_the_recorded_spacing() -> None:
    take = synth.wave_take(seconds=0.5, rate=50.0, fmt="sensors2osc")
    take.datagrams.append(record.Datagram(0.6, "mocopi", b"mocopi-bytes"))
    osc_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    osc_sock.bind(("127.0.0.1", 0))
    moc_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moc_sock.bind(("127.0.0.1", 0))
    got: dict[str, list[tuple[float, bytes]]] = {"osc": [], "mocopi": []}

    def drain(sock: socket.socket, key: str, n: int) -> None:
        sock.settimeout(3.0)
        for _ in range(n):
            data, _ = sock.recvfrom(65536)
            got[key].append((host_time(), data))

    n_osc = sum(1 for d in take.datagrams if d.kind == "osc")
    threads = [threading.Thread(target=drain, args=(osc_sock, "osc", n_osc)),
               threading.Thread(target=drain, args=(moc_sock, "mocopi", 1))]
    for th in threads:
        th.start()
    sent = record.play(take.datagrams, {"osc": osc_sock.getsockname(), "mocopi": moc_sock.getsockname()})
    for th in threads:
        th.join(5)
    osc_sock.close()
    moc_sock.close()
    assert sent == len(take.datagrams)
    assert [d for _, d in got["osc"]] == [d.data for d in take.datagrams if d.kind == "osc"]
    assert got["mocopi"][0][1] == b"mocopi-bytes"
    span = got["osc"][-1][0] - got["osc"][0][0]
    assert span == pytest.approx(take.datagrams[-2].t - take.datagrams[0].t, abs=0.03)
    with pytest.raises(ValueError):
        record.play([], {}, speed=0)


def test_offline_clock_reproduces_the_recorded_beats() -> None:
    take = synth.wave_take(seconds=2.0, tempo=90.0, start_beat=17.25)
    clock = clock_for(take)
    for d in take.datagrams[::37]:
        assert clock.beat_at_time(d.t) == pytest.approx(d.beat, abs=1e-9)
    r = rig(take)
    states = r.run(take.datagrams)
    assert states and all(s.beat == pytest.approx(d.beat, abs=1e-9)
                          for s, d in zip(states, take.datagrams, strict=False))


def test_settings_merge_flags_and_copilot_toml() -> None:
    from copilot.motion.settings import MotionSettings
    from copilot.motion.sources import Bind

    s = MotionSettings.build({"motion_osc": "9300", "mocopi": 12351, "allow": ["192.168.1.0/24"]},
                             {"osc": "0.0.0.0:9200", "deck": "b", "devices": {"gyrosc@*": {"limb": "lh"}},
                              "performers": {"bob": {"deck": "auto", "profile": "bob-live"}},
                              "map": {"fx_depth": {"hi": 0.5}}})
    assert s.osc == [Bind("0.0.0.0", 9300)]  # the flag's port, the file's LAN host
    assert s.mocopi == [Bind("127.0.0.1", 12351)]
    assert s.allow == ["192.168.1.0/24"] and s.deck == "B"
    assert s.rules[0].limb == "left_hand" and s.profile_name("bob") == "bob-live"
    assert s.performer_decks["bob"] == "auto"
    assert next(m for m in s.mappings if m.param == "fx_depth").hi == 0.5
    assert MotionSettings.build({}, {}).wanted is False
    for bad in ({"deck": "Z"}, {"iterations": 40}, {"devices": {"x": {"limb": "tail"}}}, {"osc": "nine"}):
        with pytest.raises(ValueError):
            MotionSettings.build({}, bad)
