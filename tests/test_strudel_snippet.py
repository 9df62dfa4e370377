"""The Strudel target: its snippet evaluated by the real Strudel packages in Node, fed with the CC bytes
copilot actually sent on a JACK port while a scripted motion envelope played."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.clock import InternalClock, ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.envelope import Breakpoint, Curve, Envelope
from copilot.bridge.host import TargetContext, TargetHost
from copilot.bridge.params import PARAMS
from copilot.bridge.ports import MidiPorts
from copilot.bridge.scheduler import SafetyScheduler
from copilot.bridge.state import HostState
from copilot.intents.schema import Intent, IntentKind, Source
from copilot.mappings.strudel import TableError, cycles_per_minute, load_table, snippet, tempo_line
from copilot.mappings.table import packaged_path
from copilot.plugins import strudel as plugin
from copilot.plugins.strudel import Strudel
from copilot.tests import fixtures_live
from copilot.tests.fixtures_live import StrudelNode

strudel_node = fixtures_live.strudel_node  # the fixture, registered in this module


def lowpass(v: float) -> float:  # the snippet's one-knob filter, low-pass side
    return 20000.0 if v >= 0.5 else 100 * 200 ** (v * 2)


def test_snippet_names_every_control_and_the_tempo() -> None:
    table = load_table()
    text = snippet(table, bpm=124, beats_per_cycle=4)
    assert "setcpm(124/4)" in text and "let cc = await midin('Copilot Strudel')" in text
    for name, number in (("energy", 20), ("filter", 21), ("room", 22), ("gain", 23), ("tension", 24),
                         ("phase", 25)):
        assert f"const {name}" in text and f"= cc({number})" in text
    assert tempo_line(127.5) == "setcpm(127.5/4)" and cycles_per_minute(124) == 31


def test_table_errors_name_the_entry(tmp_path: Path) -> None:
    base = packaged_path("strudel").read_text()
    for old, new, why in (('cc = 22', 'cc = 21', "used twice"), ('name = "room"', 'name = "let"', "cannot be"),
                          ('param = "tension"', 'param = "stress"', "unknown parameter"),
                          ('name = "Copilot Strudel"', "name = \"it's\"", "without quotes")):
        path = tmp_path / "t.toml"
        path.write_text(base.replace(old, new, 1))
        with pytest.raises(TableError, match=why):
            load_table(path, known_params=PARAMS)


def test_only_cc_ever_goes_to_strudel_and_repeats_are_skipped() -> None:
    target = Strudel()
    state = HostState()
    out = []
    for value in (0.2, 0.2, 0.199, 0.9):  # 0.2 and 0.199 are one 7-bit value (25)
        out += target.render(Action(ActionKind.CONTROL, None, 4.0, params={"param": "room", "value": value}),
                             state)
    assert [t.payload.data for t in out] == [bytes([0xB0, 22, 25]), bytes([0xB0, 22, 114])]
    neutral = {n: p.neutral for n, p in PARAMS.items() if p.reset_on_panic}
    panic = target.render(Action(ActionKind.PANIC, None, None, params={"neutral": neutral}), state)
    assert all(t.beat is None and t.payload.data[0] == 0xB0 for t in panic)
    assert {t.payload.data[1] for t in panic} == {21, 22, 26, 27}  # filter, room, fx, pan
    assert target.render(Action(ActionKind.PLAY, None, 4.0), state) == []  # no notes, ever


def test_tempo_changes_hand_out_a_fresh_line() -> None:
    said: list[str] = []
    clock = ManualClock(tempo=120)
    target = Strudel()
    host = TargetHost(plugins=[plugin], entry_points=False)
    target.open(TargetContext(clock=clock, report=said.append))
    try:
        scheduler = SafetyScheduler(clock)
        (action,) = scheduler.submit(Intent(IntentKind.TEMPO, args={"bpm": 122})).actions
        assert target.render(action, HostState()) == []
        assert target.tempo_lines == ["setcpm(122/4)"] and "setcpm(122/4)" in said[-1]
        clock.set_tempo(126.0)  # changed elsewhere on Link: the watcher notices
        deadline = time.monotonic() + 2
        while len(target.tempo_lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert target.tempo_lines[-1] == "setcpm(126/4)"
        (f,) = target.mapping_files()
        assert "setcpm(126/4)" in f.content.decode()  # the snippet itself is written at the current tempo
    finally:
        target.close()
    (f,) = host.get("strudel").mapping_files()
    assert f.relpath == "copilot-strudel.js"


def strudel_on_jack(midi_capture):  # type: ignore[no-untyped-def]
    """The strudel target open on a JACK port of its own at 120 BPM, with a capture listening to it."""
    port = f"Copilot Strudel {os.getpid()}"
    clock = InternalClock(tempo=120.0)
    ports = MidiPorts("jack", watchdog_period=0)
    target = Strudel({"port": port})
    target.open(TargetContext(clock=clock, ports=ports, options={}, report=lambda m: None))
    return port, clock, ports, target, midi_capture(port)


@pytest.mark.jack
def test_snippet_follows_a_motion_envelope_in_real_strudel(jack_server, midi_capture,  # type: ignore[no-untyped-def]
                                                           strudel_node: StrudelNode) -> None:
    port, clock, ports, target, capture = strudel_on_jack(midi_capture)
    dispatcher = Dispatcher(clock)
    scheduler = SafetyScheduler(clock)
    dispatcher.start()
    try:
        b0 = clock.beat + 1.0  # a one-beat lead, then four beats of motion
        motion = {
            "filter": ((b0, 0.5, Curve.SMOOTH), (b0 + 4, 0.1, Curve.LINEAR)),  # the low-pass closes
            "room": ((b0, 0.0, Curve.LINEAR), (b0 + 4, 0.8, Curve.LINEAR)),  # the room opens
            "volume": ((b0, 1.0, Curve.EASE_IN), (b0 + 4, 0.4, Curve.LINEAR)),  # and the level dips
        }
        envelopes, rendered = {}, []
        for name, points in motion.items():
            action = scheduler.envelope(Envelope(name, tuple(Breakpoint(*p) for p in points)), source=Source.MOTION)
            envelopes[name] = action.envelope
            rendered.append(target.render(action, HostState()))
            dispatcher.schedule(target, rendered[-1])
        wait = clock.time_at_beat(b0 + 4.5) - clock.now()
        time.sleep(max(0.0, wait))
        received = capture.collect(timeout=0.5)
    finally:
        dispatcher.stop()
        target.close()
        ports.close()

    sent = sum(len(target_items) for target_items in rendered)
    assert len(received) >= 0.9 * sent, f"{len(received)} of {sent} messages arrived"
    assert all(len(d) == 3 and d[0] == 0xB0 for _, d in received), "only CC on the Strudel port"
    tempo_ccs = {target.table.tempo.cc, target.table.tempo.fine_cc}  # the tempo, resent now and then
    assert {d[1] for _, d in received} - tempo_ccs == {21, 22, 23}
    events = sorted((clock.beat_at_time(t), d[1], d[2] / 127.0) for t, d in received)

    # What Strudel's refs hold at a moment = the last value that arrived before it.
    def held(beat: float) -> dict[str, float]:
        now: dict[str, float] = {}
        for b, number, value in events:
            if b <= beat:
                now[str(number)] = value
        return now

    beats = [b0 + 0.05 + 0.25 * i for i in range(18)]  # from just after the first message arrived
    samples = [{"cycle": b / 4.0, "values": held(b)} for b in beats]
    result = strudel_node.evaluate(snippet(target.table, bpm=120.0), samples)
    assert result["setcpm"] == [30]  # 120 BPM, one bar a cycle
    assert result["midin"] == [port]

    rooms, cutoffs, gains = [], [], []
    for beat, sample, haps in zip(beats, samples, result["samples"], strict=True):
        assert haps, f"the pattern is silent at beat {beat}"
        hap = haps[0]
        v = sample["values"]
        # the pattern reads exactly what copilot sent …
        assert hap["room"] == pytest.approx(v.get("22", 0.0))
        assert hap["gain"] == pytest.approx(v.get("23", 0.0))
        assert hap["cutoff"] == pytest.approx(lowpass(v.get("21", 0.0)))
        # … and what copilot sent is the motion envelope at that moment (7-bit, a few ms of wire)
        # (JACK's dummy server on a busy machine now and then loses a message: the value Strudel holds may
        # then be a step or two old, never anything the envelope did not say)
        for name, number in (("filter", "21"), ("room", "22"), ("volume", "23")):
            env = envelopes[name]
            lag = min(abs(v[number] - env.value_at(beat - k / 64)) for k in range(-2, 17))
            assert lag <= 1.5 / 127, (name, beat, v[number], env.value_at(beat))
        rooms.append(hap["room"])
        cutoffs.append(hap["cutoff"])
        gains.append(hap["gain"])
    assert rooms[-1] == pytest.approx(0.8, abs=0.05) and rooms == sorted(rooms)
    assert cutoffs[-1] == pytest.approx(lowpass(0.1), rel=0.25) and cutoffs == sorted(cutoffs, reverse=True)
    assert gains[-1] == pytest.approx(0.4, abs=0.05) and gains == sorted(gains, reverse=True)
    assert cutoffs[0] == 20000.0 and cutoffs[-1] < 1000.0


@pytest.mark.jack
def test_strudel_follows_the_session_tempo_without_copy_paste(jack_server, midi_capture,  # type: ignore[no-untyped-def]
                                                              strudel_node: StrudelNode) -> None:
    _, clock, ports, target, capture = strudel_on_jack(midi_capture)
    tempo = target.table.tempo
    try:
        clock.set_tempo(126.4)  # elsewhere on Link: copilot passes it on by itself
        # the change within a poll, then (2 s on) the resend; the first send at 120 may come before we listen
        received = capture.collect(count=4, timeout=3.0)
    finally:
        target.close()
        ports.close()
    assert len(received) >= 4 and len(received) % 2 == 0
    assert {d[:2] for _, d in received} == {bytes([0xB0, tempo.cc]), bytes([0xB0, tempo.fine_cc])}
    coarse, fine = received[-2][1][2], received[-1][1][2]
    assert tempo.bpm(coarse, fine) == pytest.approx(126.4, abs=0.01)

    # The real Strudel reads it: the example pattern's haps carry cps = BPM / 60 / beats per cycle, which
    # Strudel's scheduler applies from the next onset; before any tempo message, the tempo it was written at.
    samples = [{"cycle": 0.0, "values": {}},
               {"cycle": 1.0, "values": {str(tempo.cc): coarse / 127, str(tempo.fine_cc): fine / 127}}]
    result = strudel_node.evaluate(snippet(target.table, bpm=120.0), samples)
    before, after = (haps[0]["cps"] for haps in result["samples"])
    assert before == pytest.approx(120.0 / 240)
    assert after * 240 == pytest.approx(126.4, abs=0.01)
