"""A bass swap live on JACK with the Mixxx target: "bass swap into B in 16" reaches a test host (Mixxx's
controller engine for the installed mapping, listening on the target's real output port) as the EQ and
crossfader CC streams and deck B's play press on the phrase line where A's main section starts — byte
for byte what the mapping says, on the beats the plan gave them."""

from __future__ import annotations

import gc
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copilot.bridge.actions import ActionKind
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import IntentKind
from copilot.mappings.install import Manifest, install
from copilot.plugins import mixxx
from copilot.plugins import phrase_db as phrase_db_plugin
from copilot.tests.fixtures_dj import HostPorts, MixxxHost
from copilot.tests.fixtures_mix import BassTrack, write_bass_track
from copilot.tests.jack_recorder import JackRecorder

pytestmark = [pytest.mark.jack, pytest.mark.usefixtures("jack_server")]

TEMPO = 240.0  # a beat is 0.25 s: sixteen bars in sixteen seconds
TOLERANCE = 60.0 / TEMPO / 4
SECTIONS = (("intro", 4, 0.4), ("main", 16, 0.8), ("outro", 8, 0.4))
SET = """\
0.05 load low roller to A
0.10 load high stepper to B
0.30 play A
2.50 bass swap into B in 16
"""


def test_bass_swap_reaches_mixxx_as_eq_and_crossfader_streams_and_the_play_press_on_the_phrase(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jack_server) -> None:
    monkeypatch.setenv("COPILOT_TRANSITIONS", str(tmp_path / "learned"))
    crate = tmp_path / "crate"
    crate.mkdir()
    for spec in (BassTrack("Low Roller", 55.0, 880.0, bpm=TEMPO, sections=SECTIONS),
                 BassTrack("High Stepper", 82.41, 1300.0, bpm=TEMPO, key="E minor", camelot="9A",
                           sections=SECTIONS)):
        write_bass_track(crate, spec, sr=8000)
    (tmp_path / "set.txt").write_text(SET)
    name = f"Copilot-{os.getpid()}-mix"
    cfg = {"port": f"{name} MIDI 1 Out", "feedback_port": f"{name} MIDI 1 In"}
    config = Config({"targets": {"mixxx": cfg}, "ports": {"in": f"{name} In"}})
    options = SessionOptions(target="mixxx", script=tmp_path / "set.txt", link=False, tempo=TEMPO, osc=None,
                             midi_api="jack", crate=crate, db=tmp_path / "none.sqlite", log=tmp_path / "s.jsonl")
    host_plugins = TargetHost(config.targets(), plugins=[mixxx, phrase_db_plugin], entry_points=False)
    reports: list[str] = []
    session = Session(options, config, host=host_plugins, report=reports.append)
    target = host_plugins.get("mixxx")
    files = tmp_path / "installed"
    install("mixxx", target.mapping_files(), [files], manifest=Manifest(tmp_path / "manifest.json"))
    xruns_before = jack_server.xruns()
    session.start()
    host = MixxxHost(files / "Copilot.midi.xml")
    raw: list[bytes] = []

    def on_message(data: bytes, index: int) -> None:
        raw.append(data)
        host.handle(data, index)

    ports = HostPorts(cfg["port"], cfg["feedback_port"], on_message, f"mixxx-host-{name}")
    recorder = JackRecorder(cfg["port"], f"mixxx-wire-{name}")  # the judge of when: frame-exact
    session.started_at = session.clock.now()
    try:
        clock = session.clock
        swap = None
        end_at = session.started_at + 30.0
        while clock.now() < end_at:
            for line in session.due_script(clock.now()):
                session.submit(line.intent)
            swap = next((d for d in session.decisions if d.intent.kind is IntentKind.TRANSITION), None)
            if swap is not None and swap.verdict is Verdict.SCHEDULED:
                end_at = min(end_at, clock.time_at_beat(swap.actions[0].params["end"] + 2))
            time.sleep(0.002)
    finally:
        session.stop()
        ports.close()
        wire = recorder.messages()
        recorder.close()
        gc.collect()

    assert swap is not None and swap.verdict is Verdict.SCHEDULED, reports
    mark = next(a for a in swap.actions if a.kind is ActionKind.TRANSITION)
    start, end = mark.params["start"], mark.params["end"]
    play_a = next(d for d in session.decisions if d.intent.kind is IntentKind.PLAY)
    assert start == play_a.beat + 16 and end == start + 64  # A's main section begins 4 bars in
    # Each message heard (JACK's echoes aside) is paired with the message copilot sent: its bytes, in
    # the order of the messages' due times. The plan is judged on the due times, exactly. The wire is
    # judged by a frame-exact recorder (JACK's cycle time plus the event's frame): nine in ten not early
    # (around an XRun the sender and the reader may read their cycle times in different cycles: seen
    # 7.7 ms early), on the frame at the median, the key presses at most a beat late. On a shared VM
    # JACK loses cycles now and then (seen on a busy CI host: one EQ message heard 143 ms late), so only
    # the bulk is held to an eighth of a beat; a wrong grid or phrase moves whole streams, and fails both.
    by_due = sorted(_sent(tmp_path, with_due=True), key=lambda r: r[0])  # stable: ties keep order
    kept, echoes = _without_echoes(raw)
    assert echoes <= jack_server.xruns() - xruns_before, echoes
    due = _due_times(raw, kept, by_due)
    assert len(due) >= 0.95 * len(by_due), (len(due), len(by_due))
    on_wire = [m for _, m in wire]
    wire_due = _due_times(on_wire, _without_echoes(on_wire)[0], by_due)
    assert len(wire_due) >= 0.95 * len(by_due), (len(wire_due), len(by_due))
    late = {(wire[i][1], d): wire[i][0] - d for i, d in wire_due.items()}  # by (bytes, due)
    late_ms = np.array(list(late.values())) * 1e3
    spread = np.percentile(late_ms, [0, 1, 10, 50, 90, 99, 100]).round(3)
    assert spread[2] > -0.05 and abs(spread[3]) < 0.5, spread  # not early; on the frame at the median
    assert spread[4] < TOLERANCE / 2 * 1e3, spread

    def at_beat(t: float) -> float:
        return clock.beat_at_time(t + target.output_latency)

    def heard_once(group: str, key: str, value: float) -> int:
        """The one message that carried this control change to the host; on the wire at most a beat late."""
        found = [i for i, e in host.events if i in due and (e.group, e.key, e.value) == (group, key, value)]
        assert len(found) == 1, (group, key, value, found)
        on_wire_late = late.get((raw[found[0]], due[found[0]]))  # None: the recorder never heard it
        assert on_wire_late is not None and on_wire_late < 60 / TEMPO, (group, key, on_wire_late)
        return found[0]

    # deck B's play press: exactly the mapping's bytes (note 0x10 on channel 2), on the transition's first beat
    press = bytes((0x91, 0x10, 0x7F))
    assert raw.count(press) == 1
    i_play = heard_once("[Channel2]", "play", 1.0)
    assert raw[i_play] == press and abs(at_beat(due[i_play]) - start) * 60 / TEMPO < 1e-3
    # A's stop at the end, once the crossfader has gone all the way over
    i_stop = heard_once("[Channel1]", "play", 0.0)
    assert abs(at_beat(due[i_stop]) - end) * 60 / TEMPO < 1e-3

    def stream(group: str, key: str) -> list[tuple[float, float]]:
        return [(at_beat(due[i]), e.value) for i, e in host.events if i in due and (e.group, e.key) == (group, key)]

    # the basses: B's low EQ killed before B starts, A's at unity; they swap within one beat of the middle bar
    low_b = stream("[EqualizerRack1_[Channel2]_Effect1]", "parameter1")
    low_a = stream("[EqualizerRack1_[Channel1]_Effect1]", "parameter1")
    middle = start + 32
    before = [v for b, v in low_b if b < start]
    assert before and before[-1] == 0.0  # killed (at the EQ's slew limit) in the beat before B starts
    assert all(v == 0.0 for b, v in low_b if start <= b < middle - 0.1), [(b, v) for b, v in low_b if b >= start]
    assert low_b[-1][1] == 64 / 128  # MIDI 64: unity on Mixxx's knob
    assert middle - 0.1 <= low_b[-1][0] <= middle + 1 + 0.1
    assert low_a[-1][1] == 0.0 and middle - 0.1 <= low_a[-1][0] <= middle + 1 + 0.1
    assert all(v == 64 / 128 for b, v in low_a if b < middle - 0.1), low_a
    # the crossfader: a 14-bit stream from A's side (−1) to B's (+1), never going back
    xf = stream("[Master]", "crossfader")
    before = [v for b, v in xf if b < start]
    assert before and before[-1] == -1.0  # on A's side (from the middle, at its slew limit) as B starts
    over = [v for b, v in xf if b >= start]
    assert len(over) > 20 and over[-1] == 1.0
    # never going back — but for a message the rig lost: an MSB or LSB gone pairs the other with a stale half
    lost = sum(m[0] == 0xBF for m in _sent(tmp_path)) - sum(m[0] == 0xBF for m in raw)
    backs = [(v1, v2) for v1, v2 in itertools.pairwise(over) if v2 < v1]
    assert len(backs) <= max(0, lost), (backs, lost)
    assert xf[-1][0] <= end + 0.1
    # byte-exact on the wire. What copilot sent (its log): the crossfader's CCs on channel 16 alternate MSB
    # (CC 8), LSB (CC 40) and end on 16383 (127, 127); deck B's low EQ (channel 2, CC 10) goes 64 → 0 before B
    # starts and 0 → 64 at the swap. What the host received is that, in the order of the messages' due
    # times (the log's order is the hand-over's; a port fed ahead places by due time): the JACK dummy rig
    # drops a few messages now and then under load (a handful in thousands, more on a busy machine), never
    # reorders or alters one.
    sent = _sent(tmp_path)
    sent_xf = [m for m in sent if m[0] == 0xBF and m[1] in (8, 40)]
    assert [m[1] for m in sent_xf] == [8, 40] * (len(sent_xf) // 2) and len(sent_xf) % 2 == 0
    assert sent_xf[-2:] == [bytes((0xBF, 8, 127)), bytes((0xBF, 40, 127))]
    low_b_sent = [m[2] for m in sent if m[:2] == bytes((0xB1, 10))]
    killed = low_b_sent.index(0)
    assert low_b_sent[:killed] == sorted(low_b_sent[:killed], reverse=True) and low_b_sent[0] == 64
    assert low_b_sent[killed:] == sorted(low_b_sent[killed:]) and low_b_sent[-1] == 64
    ours_by_due = [m for _, m in by_due]
    heard = [raw[i] for i in kept]
    for wanted in (bytes((0xBF,)), bytes((0xB1, 10)), bytes((0xB0, 10))):
        ours = [m for m in ours_by_due if m.startswith(wanted)]
        theirs = [m for m in heard if m.startswith(wanted)]
        assert len(theirs) >= 0.95 * len(ours), (wanted, len(theirs), len(ours))
        assert _first_stray(theirs, ours) is None, (wanted, _first_stray(theirs, ours), len(theirs), len(ours))
    assert raw[-1] in ours_by_due[-8:]


def _sent(tmp_path: Path, with_due: bool = False) -> list[Any]:
    """What copilot's log says it sent, message by message in the order it was handed over (with each
    one's due time, if asked)."""
    records = [r for line in (tmp_path / "s.jsonl").read_text().splitlines()
               if (r := json.loads(line)).get("type") == "sent" and isinstance(r.get("midi"), str)]
    return [(r["due"], bytes.fromhex(r["midi"])) if with_due else bytes.fromhex(r["midi"]) for r in records]


def _without_echoes(received: list[bytes], longest: int = 8) -> tuple[list[int], int]:
    """Where the messages heard are, less JACK's echoes, and how many echoes there were. When a client
    misses its cycle (an XRun), a client reading its port is handed the port's buffer as the last cycle
    left it: that cycle's messages heard twice in a row (seen: a crossfader MSB and LSB pair heard again
    right after itself, 5,962 heard of 5,960 sent). Each echo is a run of up to `longest` messages
    repeating the run just before it; at most one per XRun the server logged."""
    kept: list[int] = []
    echoes = 0
    i = 0
    while i < len(received):
        k = next((k for k in range(1, longest + 1)
                  if len(kept) >= k and received[i:i + k] == [received[j] for j in kept[-k:]]), 0)
        if k:
            echoes += 1
            i += k
            continue
        kept.append(i)
        i += 1
    return kept, echoes


def _due_times(received: list[bytes], kept: list[int], by_due: list[tuple[float, bytes]]) -> dict[int, float]:
    """The due time of each message heard (by its place in `received`): the first message of the same
    bytes sent, in due order, after the one its kind (status and first data byte) was last paired with. A
    message that matches nothing sent gets none; the order checks name it."""
    cursor: dict[bytes, int] = {}
    due: dict[int, float] = {}
    for i in kept:
        m = received[i]
        j = cursor.get(m[:2], 0)
        while j < len(by_due) and by_due[j][1] != m:
            j += 1
        if j < len(by_due):
            due[i] = by_due[j][0]
            cursor[m[:2]] = j + 1
    return due


def _first_stray(received: list[bytes], sent: list[bytes]) -> tuple[int, bytes, list[bytes]] | None:
    """The first received message that breaks "`sent` with some messages missing" (reordered, altered or
    added), with what was sent around it; None when there is none."""
    at = 0
    for i, m in enumerate(received):
        try:
            at = sent.index(m, at) + 1
        except ValueError:
            return i, m, received[max(0, i - 3):i + 3]
    return None
