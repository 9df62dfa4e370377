"""A scripted set through the real session on the JACK dummy server: a test host, driven by the installed
mapping file itself, listens on the target's real output port, answers with the host's feedback on the
real input port, and sees the right functions on the right beats; host-side feedback makes the safety
rules refuse a LOAD onto a playing deck."""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Verdict
from copilot.bridge.session import Session, SessionOptions
from copilot.bridge.state import Truth
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.mappings.install import Manifest, install
from copilot.plugins import mixxx, serato
from copilot.tests.fixtures_dj import HostPorts, MixxxHost, SeratoHost

pytestmark = [pytest.mark.jack, pytest.mark.usefixtures("jack_server")]

TEMPO = 240.0  # one beat = 0.25 s, one bar = 1 s: a whole set in a few seconds
# Arrival at the host within a quarter beat of its beat: far from the neighbouring beats, loose enough for
# a shared, loaded test machine. How *well* the beat is hit is the spine's benches' business, not this.
TOLERANCE = 60.0 / TEMPO / 4
_names = itertools.count()


def unique() -> str:
    return f"Copilot-{os.getpid()}-{next(_names)}"


class Run:
    """A live session for one target, and the host's side of its ports."""

    def __init__(self, module: Any, name: str, tmp: Path, script: str, unique: str) -> None:
        self.reports: list[str] = []
        path = tmp / "set.txt"
        path.write_text(script)
        # Unique port names: other suites may share this JACK server.
        cfg = {"port": f"{unique} MIDI 1 Out", "feedback_port": f"{unique} MIDI 1 In"} if name == "mixxx" else \
            {"port": f"{unique} Out", "feedback_port": f"{unique} In"}  # Serato's feedback: the session's port
        in_port = cfg["feedback_port"]
        config = Config({"targets": {name: cfg}, "ports": {"in": f"{unique} In"}})
        options = SessionOptions(target=name, script=path, link=False, tempo=TEMPO, osc=None, midi_api="jack",
                                 log=tmp / "session.jsonl")
        host = TargetHost(config.targets(), plugins=[module], entry_points=False)
        self.session = Session(options, config, host=host, report=self.reports.append)
        self.target = host.get(name)
        self.files = tmp / "installed"
        install(name, self.target.mapping_files(), [self.files], manifest=Manifest(tmp / "manifest.json"))
        self.received: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.session.start()
        self.out_port, self.in_port = cfg["port"], in_port

    def connect(self, on_message: Any, client: str) -> HostPorts:
        self.ports = HostPorts(self.out_port, self.in_port, on_message, client)
        # The set starts once the host listens (as on stage: copilot first, then the DJ software).
        self.session.started_at = self.session.clock.now()
        return self.ports

    def play(self, seconds: float) -> None:
        """What `copilot run` does with a script, for `seconds` after the start."""
        clock = self.session.clock
        end = self.session.started_at + seconds
        while clock.now() < end:
            for line in self.session.due_script(clock.now()):
                self.session.submit(line.intent)
            time.sleep(0.001)

    def close(self) -> None:
        self.session.stop()
        self.ports.close()
        gc.collect()  # closed rtmidi objects in reference cycles would keep their JACK clients in the graph

    def beat_error(self, t: float, beat: float, decided: float = float("-inf")) -> float:
        """How far an arrival is from its beat (or from the decision, for an intent that came a hair
        after the beat and took it inside the phase window δ)."""
        due = self.session.clock.time_at_beat(beat) - self.target.output_latency
        return abs(t - max(due, decided))

    def decision(self, kind: IntentKind, nth: int = 0) -> Any:
        return [d for d in self.session.decisions if d.intent.kind is kind][nth]

    def sent_on_its_beat(self, decision: Any) -> bool:
        """The dispatcher sent this decision's messages for exactly the decided beat."""
        ids = {a.id for a in decision.actions}
        beats = {s.beat for s in self.session.dispatcher.recent if s.action_id in ids and s.sink == self.target.name}
        return decision.beat in beats


SERATO_SET = """\
0.05 play A
0.30 loop 4 on deck A
0.55 hot cue 3 on deck B
0.80 play A
1.05 exit loop on A
1.30 sync B
1.55 echo on deck A
1.80 load dubby to B
"""


def test_serato_scripted_set_reaches_the_right_functions_on_the_right_beats(tmp_path: Path) -> None:
    run = Run(serato, "serato-dj-pro", tmp_path, SERATO_SET, unique())
    host = SeratoHost(run.files / "Copilot.xml")
    seen: list[tuple[float, Any]] = []

    def on_message(data: bytes, index: int) -> None:
        if (data[0] | (0x10 if data[0] & 0xF0 == 0x80 else 0), data[1]) not in host.clicks:
            seen.append((index, ("unmapped", data)))
        for event in host.handle(data):
            seen.append((index, event))
            fn = event.function
            if event.on is not None and (fn.name, fn.deck_set, fn.deck_id, fn.slot_id) in host.outputs:
                run.ports.send(host.output(fn.name, fn.deck_set, fn.deck_id, fn.slot_id, event.on))  # Serato's LED

    run.connect(on_message, f"serato-host-{unique()}")
    try:
        run.play(2.4)
        run.session.move("crossfader", 0.2)  # Serato has none: refused aloud, never on the wire
        time.sleep(0.3)
    finally:
        run.close()

    assert not [s for s in seen if isinstance(s[1], tuple)], "a message reached no control of the preset"
    times = run.ports.timeline()
    events = [(times[i], e.function.name, e.function.deck_id, e.function.slot_id, e.value) for i, e in seen]
    presses = [e for e in events if e[4] > 0]

    def arrivals(name: str, deck_id: int, slot: int = 0) -> list[float]:
        return [t for t, n, d, s, _ in presses if (n, d, s) == (name, deck_id, slot)]

    expected = [  # (intent, function, deck_id, slot, grid in beats)
        (IntentKind.PLAY, "play", 0, 0, 4.0),
        (IntentKind.LOOP, "auto_loop_specific_length", 0, 7, 1.0),
        (IntentKind.HOTCUE, "cue_point", 1, 2, 1.0),
        (IntentKind.EXIT_LOOP, "auto_loop_enable", 0, 0, 1.0),
        (IntentKind.SYNC, "sync", 1, 0, 1.0),
        (IntentKind.FX, "effect_level_1_slot_enable", 0, 1, 1.0),
        (IntentKind.LOAD, "load_track", 1, 0, 1.0),
    ]
    for kind, function, deck_id, slot, grid in expected:
        decision = run.decision(kind)
        assert decision.verdict is Verdict.SCHEDULED, decision.reason
        assert decision.beat % grid == pytest.approx(0.0, abs=1e-9), (kind, decision.beat)
        assert run.sent_on_its_beat(decision), kind
        (t,) = arrivals(function, deck_id, slot)
        assert run.beat_error(t, decision.beat, decision.at) < TOLERANCE, (kind, t, decision)
    # The second "play A" found deck A playing (Serato's own feedback): no second toggle, so no stop.
    assert run.decision(IntentKind.PLAY, 1).verdict is Verdict.SCHEDULED
    assert len(arrivals("play", 0)) == 1 and run.target.skipped == 1
    assert run.session.state.deck(Deck.A).playing and run.session.state.deck(Deck.A).truth is Truth.HOST
    assert arrivals("effect_level_1_slot_parameter_1", 0, 1)  # echo at full depth came with it
    assert any("cannot take crossfader" in r for r in run.reports)


MIXXX_SET = """\
0.05 load dubby to A
0.30 play A
0.55 loop 4 on deck A
0.80 filter down on A
1.30 exit loop on A
2.05 echo on deck A
"""  # FX and FILTER share a rate limit (one change per beat): echo waits until the filter's bar is past


def test_mixxx_scripted_set_and_feedback_through_its_paired_ports(tmp_path: Path) -> None:
    run = Run(mixxx, "mixxx", tmp_path, MIXXX_SET, unique())
    host = MixxxHost(run.files / "Copilot.midi.xml", send_back=lambda data: run.ports.send(data))
    unmapped: list[bytes] = []

    def on_message(data: bytes, index: int) -> None:
        if (data[0], data[1]) not in host.bindings:
            unmapped.append(data)
        host.handle(data, index)

    run.connect(on_message, f"mixxx-host-{unique()}")
    try:
        run.play(2.8)
        time.sleep(0.3)
    finally:
        run.close()

    assert not unmapped
    times = run.ports.timeline()
    events = [(times[i], e) for i, e in host.events]

    def first(group: str, key: str, value: float | None = None) -> float:
        return next(t for t, e in events if (e.group, e.key) == (group, key) and (value is None or e.value == value))

    for kind, group, key, value, grid in [
        (IntentKind.LOAD, "[Channel1]", "LoadSelectedTrack", 1.0, 1.0),
        (IntentKind.PLAY, "[Channel1]", "play", 1.0, 4.0),
        (IntentKind.LOOP, "[Channel1]", "beatloop_4_activate", 1.0, 1.0),
        (IntentKind.FX, "[EffectRack1_EffectUnit1]", "group_[Channel1]_enable", 1.0, 1.0),
        (IntentKind.EXIT_LOOP, "[Channel1]", "loop_enabled", 0.0, 1.0),
    ]:
        decision = run.decision(kind)
        assert decision.verdict is Verdict.SCHEDULED, decision.reason
        assert decision.beat % grid == pytest.approx(0.0, abs=1e-9)
        assert run.sent_on_its_beat(decision), kind
        assert run.beat_error(first(group, key, value), decision.beat, decision.at) < TOLERANCE, (kind, decision)
    # The filter envelope: a 14-bit sweep on the quick-effect knob over one bar, ending where it should.
    sweep = [(t, e.value) for t, e in events if (e.group, e.key) == ("[QuickEffectRack1_[Channel1]]", "super1")]
    decision = run.decision(IntentKind.FILTER)
    assert len(sweep) > 20 and [v for _, v in sweep] == sorted((v for _, v in sweep), reverse=True)
    assert sweep[-1][1] == pytest.approx(0.25, abs=1 / 16383 + 1e-6)
    last = max(s.beat for s in run.session.dispatcher.recent if s.action_id == decision.actions[0].id)
    assert last == decision.beat + 4.0  # the sweep's last step is due on the bar's end
    assert run.beat_error(sweep[-1][0], last) < TOLERANCE
    # Mixxx talked back on the paired port: play_latched, loop and load are host truth now.
    deck = run.session.state.deck(Deck.A)
    assert deck.truth is Truth.HOST and deck.playing and deck.loaded and not deck.loop
    assert run.target.feedback_count >= 3


@pytest.mark.parametrize("name", ["serato-dj-pro", "mixxx"])
def test_host_side_play_makes_load_to_that_deck_refused(tmp_path: Path, name: str) -> None:
    module = serato if name == "serato-dj-pro" else mixxx
    run = Run(module, name, tmp_path, "", unique())
    if name == "serato-dj-pro":
        host = SeratoHost(run.files / "Copilot.xml")
        playing = host.output("play", "Default", 0, 0, True)  # what the preset says Serato sends
        stopped = host.output("play", "Default", 0, 0, False)
        run.connect(lambda data, index: None, f"host-{unique()}")

        def start_a() -> None:
            run.ports.send(playing)

        def stop_a() -> None:
            run.ports.send(stopped)
    else:
        host = MixxxHost(run.files / "Copilot.midi.xml", send_back=lambda data: run.ports.send(data))
        run.connect(lambda data, index: host.handle(data, index), f"host-{unique()}")

        def start_a() -> None:  # the DJ clicks load and play in Mixxx's own window
            host.set_from_gui("[Channel1]", "track_loaded", 1.0)
            host.set_from_gui("[Channel1]", "play", 1.0)

        def stop_a() -> None:
            host.set_from_gui("[Channel1]", "play", 0.0)

    state = run.session.state

    def wait_for(check: Any) -> None:
        deadline = time.monotonic() + 5.0
        while not check() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert check()

    try:
        start_a()
        wait_for(lambda: state.deck(Deck.A).playing)
        assert state.deck(Deck.A).truth is Truth.HOST
        refused = run.session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "dubby"}, Source.VOICE))
        assert refused.verdict is Verdict.REFUSED
        assert "deck A is playing" in refused.reason and "never load a playing deck" in refused.reason
        assert "load to deck B instead" in refused.reason
        stop_a()
        wait_for(lambda: not state.deck(Deck.A).playing)
        allowed = run.session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "dubby"}, Source.VOICE))
        assert allowed.verdict is Verdict.SCHEDULED, allowed.reason
    finally:
        run.close()
