"""The session's observer surface (bridge/telemetry.py), CANCEL and CONFIRM by id, the status line's text, and
the view's line protocol — on a manual clock, no ports, no browser."""

from __future__ import annotations

import io
import json
import math
import time

import numpy as np
import pytest

from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.envelope import Breakpoint, Envelope
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler, Verdict
from copilot.bridge.state import DeckUpdate, HostState
from copilot.bridge.telemetry import Telemetry
from copilot.bridge.timeline import Timeline
from copilot.bridge.transition import Step, TransitionPlan
from copilot.intents.schema import Deck, Intent, IntentError, IntentKind
from copilot.view.plugin import view_bind
from copilot.view.terminal import CLEAR, StatusLine, status_text
from copilot.view.wire import Frames, frame, line, read_line, to_json


@pytest.fixture
def rig():
    clock = ManualClock(120.0, 4.0)
    state = HostState()
    scheduler = SafetyScheduler(clock, state)
    telemetry = Telemetry(clock, state, scheduler, Dispatcher(clock, realtime=False))
    outbox = NullOutbox()
    scheduler.outbox = telemetry.watch(outbox)

    def submit(intent: Intent):
        decision = scheduler.submit(intent)
        telemetry.decided(decision)
        return decision

    return clock, scheduler, telemetry, outbox, submit


def test_an_accepted_action_is_queued_with_its_reason_until_its_beat_passes(rig):
    clock, _, telemetry, outbox, submit = rig
    d = submit(Intent(IntentKind.LOOP, Deck.A, {"beats": 4}, at_beat=6.0))
    snap = telemetry.snapshot()
    (item,) = snap["queue"]
    assert item["id"] == d.actions[0].id and item["kind"] == "LOOP" and item["deck"] == "A"
    assert item["due"] == 6.0 and item["source"] == "script" and item["reason"] == d.reason
    assert outbox.dispatched == list(d.actions)  # the tap passed it on
    clock.advance_to_beat(5.9)
    assert [a["id"] for a in telemetry.snapshot()["queue"]] == [item["id"]]
    clock.advance_to_beat(6.01)
    assert telemetry.snapshot()["queue"] == []


def test_an_envelope_stays_queued_until_its_end_with_its_breakpoints(rig):
    clock, _, telemetry, _, submit = rig
    d = submit(Intent(IntentKind.BUILD, None, {"bars": 2}))
    moves = [a for a in telemetry.snapshot()["queue"] if a["envelope"]]
    assert {a["param"] for a in moves} == {"filter", "fx_send"}
    ramp = next(a for a in moves if a["param"] == "filter" and len(a["envelope"]) > 1)
    assert ramp["envelope"][0][0] == d.beat and ramp["end"] == d.beat + 8 and ramp["intent"] == d.intent.id
    clock.advance_to_beat(d.beat + 4)  # half way: the ramp is in progress, still shown
    assert ramp["id"] in [a["id"] for a in telemetry.snapshot()["queue"]]
    clock.advance_to_beat(d.beat + 8.5)
    assert telemetry.snapshot()["queue"] == []


def test_cancel_names_an_intent_and_the_views_action_ids_lead_to_theirs(rig):
    """The page's ✕ names a queued action; the telemetry says which intent it belongs to, and the
    scheduler's CANCEL{id} withdraws that intent only."""
    clock, _, telemetry, outbox, submit = rig
    loop = submit(Intent(IntentKind.LOOP, Deck.A, {"beats": 4}, at_beat=8.0))
    cue = submit(Intent(IntentKind.HOTCUE, Deck.B, {"n": 2}, at_beat=8.0))
    assert telemetry.intent_of(loop.actions[0].id) == loop.intent.id
    assert telemetry.intent_of("not-queued") == "not-queued"
    gone = submit(Intent(IntentKind.CANCEL, args={"id": telemetry.intent_of(loop.actions[0].id)}))
    assert gone.verdict is Verdict.DONE and gone.reason == "withdrew 4-beat loop on deck A"
    assert outbox.withdrawn == [((loop.actions[0].id,), clock.beat)]
    assert [a["id"] for a in telemetry.snapshot()["queue"]] == [cue.actions[0].id]
    again = submit(Intent(IntentKind.CANCEL, args={"id": telemetry.intent_of(loop.actions[0].id)}))
    assert again.verdict is Verdict.REFUSED and "is left to cancel" in again.reason  # gone: nothing to find
    by_intent = submit(Intent(IntentKind.CANCEL, args={"id": cue.intent.id}))
    assert by_intent.verdict is Verdict.DONE and telemetry.snapshot()["queue"] == []


def test_confirm_and_cancel_by_id_answer_the_question_named_not_the_latest(rig):
    _, scheduler, telemetry, _, submit = rig
    for deck in (Deck.A, Deck.B):  # the host says both play
        scheduler.state.apply_feedback(DeckUpdate(deck, {"playing": True}))
    first = submit(Intent(IntentKind.PAUSE, Deck.A))
    second = submit(Intent(IntentKind.PAUSE, Deck.B))
    assert first.verdict is second.verdict is Verdict.AWAITING_CONFIRM
    asked = telemetry.snapshot()["pending"]
    assert [p["id"] for p in asked] == [first.intent.id, second.intent.id]
    assert asked[0]["what"] == "pause on deck A" and 0 < asked[0]["expires_in"] <= scheduler.config.confirm_window
    yes = submit(Intent(IntentKind.CONFIRM, args={"id": first.intent.id}))
    assert yes.accepted and yes.reason.startswith("confirmed: pause on deck A")
    no = submit(Intent(IntentKind.CANCEL, args={"id": second.intent.id}))
    assert no.reason == "cancelled pause on deck B" and telemetry.snapshot()["pending"] == []
    late = submit(Intent(IntentKind.CONFIRM, args={"id": second.intent.id}))
    assert late.verdict is Verdict.REFUSED


class Recorded(NullOutbox):
    """An outbox with the router's record of each deck's track (the real Timeline), as the session has."""

    def __init__(self) -> None:
        super().__init__()
        self.timeline = Timeline()

    def dispatch(self, actions) -> None:
        super().dispatch(actions)
        for action in actions:
            self.timeline.record(action)

    def withdraw(self, action_ids, after_beat=None) -> None:
        super().withdraw(action_ids, after_beat)
        self.timeline.withdraw(action_ids, after_beat)


def test_deck_cards_show_the_track_a_load_put_there_and_where_its_head_is_on_any_target():
    clock = ManualClock(124.0, 4.0)
    scheduler = SafetyScheduler(clock, HostState())
    telemetry = Telemetry(clock, HostState(), scheduler, Dispatcher(clock, realtime=False))
    scheduler.outbox = telemetry.watch(Recorded())
    track = {"path": "/music/night.wav", "title": "Night Drive", "bpm": 124.0, "key": "8A"}
    scheduler.submit(Intent(IntentKind.LOAD, Deck.B, {"query": "night"}, at_beat=2.0), resolved=track)
    scheduler.submit(Intent(IntentKind.PLAY, Deck.B, at_beat=8.0))
    clock.advance_to_beat(4.0)
    card = telemetry.snapshot()["decks"]["B"]
    assert (card["track"], card["key"], card["bpm"], card["position"]) == ("Night Drive", "8A", 124.0, 0.0)
    clock.advance_to_beat(13.5)
    assert telemetry.snapshot()["decks"]["B"]["position"] == pytest.approx(5.5)  # playing since beat 8
    assert telemetry.snapshot()["decks"]["A"]["track"] is None


def test_a_transition_shows_as_one_item_with_its_curves_and_one_cancel_takes_it_back():
    clock = ManualClock(124.0, 4.0)
    clock.advance_to_beat(10.0)
    scheduler = SafetyScheduler(clock, HostState())
    telemetry = Telemetry(clock, HostState(), scheduler, Dispatcher(clock, realtime=False))
    outbox = NullOutbox()
    scheduler.outbox = telemetry.watch(outbox)
    fade = Envelope("crossfader", (Breakpoint(16.0, 0.0), Breakpoint(32.0, 1.0)))
    plan = TransitionPlan("t1", "blend", "A", "B", 16.0, 4, (fade,), (Step("PLAY", "B", 16.0),),
                          why="Fifth Up: one Camelot step, on A's phrase line")
    decision = scheduler.submit(Intent(IntentKind.TRANSITION, args={"to": "B"}), resolved={"plan": plan})
    telemetry.decided(decision)
    assert decision.verdict is Verdict.SCHEDULED, decision.reason
    snap = telemetry.snapshot()
    (mix,) = snap["transitions"]
    assert (mix["template"], mix["out"], mix["in"], mix["start"], mix["end"], mix["bars"]) == \
        ("blend", "A", "B", 16.0, 32.0, 4)
    assert mix["state"] == "waiting" and mix["intent_id"] == decision.intent.id and "Camelot" in mix["why"]
    curve = next(a for a in snap["queue"] if a["param"] == "crossfader")
    assert curve["intent"] == decision.intent.id and curve["envelope"][0][:2] == [16.0, 0.0]
    assert "mix blend A→B in 6.0♩" in status_text(snap)
    clock.advance_to_beat(20.0)
    assert telemetry.snapshot()["transitions"][0]["state"] == "running"
    assert "mix blend A→B bar 2/4" in status_text(telemetry.snapshot())
    # the page's ✕ on any of its curves names an action; the view finds its intent, the scheduler undoes it
    back = scheduler.submit(Intent(IntentKind.CANCEL, args={"id": telemetry.intent_of(curve["id"])}))
    telemetry.decided(back)
    assert back.verdict is Verdict.DONE and "glides back" in back.reason, back.reason
    snap = telemetry.snapshot()
    assert snap["transitions"] == []
    curves = {a["id"]: a for a in snap["queue"] if a["param"] == "crossfader"}
    assert curves[curve["id"]]["end"] <= 20.0 + 1e-9  # the fade stops where it was cancelled …
    (glide,) = [a for i, a in curves.items() if i != curve["id"]]  # … and its glide back is shown, ending at 0
    assert glide["due"] >= 20.0 and glide["envelope"][-1][1] == pytest.approx(0.0)


def test_panic_empties_the_queue_and_every_decision_is_published_in_order(rig):
    _, _, telemetry, _, submit = rig
    submit(Intent(IntentKind.BUILD, None, {"bars": 4}))
    submit(Intent(IntentKind.LOOP, Deck.A, {"beats": 2}, at_beat=20.0))
    assert telemetry.snapshot()["queue"]
    submit(Intent(IntentKind.PANIC))
    assert telemetry.snapshot()["queue"] == []
    seq, events = telemetry.events_since(0)
    kinds = [o.intent.kind for k, o in events if k == "decision"]
    assert kinds == [IntentKind.BUILD, IntentKind.LOOP, IntentKind.PANIC]
    assert telemetry.events_since(seq) == (seq, [])
    assert telemetry.wait(0.0) is True  # something was published since the last wait


def test_a_drop_during_a_build_cuts_the_build_short_in_the_queue(rig):
    _, _, telemetry, _, submit = rig
    build = submit(Intent(IntentKind.BUILD, None, {"bars": 8}))
    drop = submit(Intent(IntentKind.DROP, None, {"bars": 2}))  # lands inside the build
    assert build.beat < drop.beat < build.beat + 32
    queue = {a["id"]: a for a in telemetry.snapshot()["queue"]}
    ramp = next(a for a in build.actions if a.envelope is not None and len(a.envelope.points) > 1)
    assert queue[ramp.id]["end"] == drop.beat  # the rise stops where the drop lands
    marker = next(a for a in build.actions if a.kind.value == "DROP")
    assert marker.id not in queue  # the build's own drop, 8 bars on, is gone


def test_lateness_histogram_and_percentiles_come_from_the_dispatchers_ring():
    clock = ManualClock()
    dispatcher = Dispatcher(clock, realtime=False)
    for ms in [0.01] * 98 + [0.3, 3.0]:
        dispatcher.stats.add(ms / 1000)
    telemetry = Telemetry(clock, HostState(), SafetyScheduler(clock), dispatcher)
    late = telemetry.lateness()
    assert late["count"] == 100 and late["window"] == 100
    assert sum(late["histogram"]) == 100 and late["histogram"][0] == 98
    assert late["max_ms"] == pytest.approx(3.0) and late["p50_ms"] == pytest.approx(0.01)
    assert late["edges_ms"][:3] == [0.0, 0.05, 0.1]


def test_intent_args_for_confirm_and_cancel_are_an_id_or_nothing():
    assert dict(Intent(IntentKind.CANCEL, args={"id": "a12"}).args) == {"id": "a12"}
    assert dict(Intent(IntentKind.CONFIRM).args) == {}
    with pytest.raises(IntentError):
        Intent(IntentKind.CANCEL, args={"id": "  "})
    with pytest.raises(IntentError):
        Intent(IntentKind.PANIC, args={"id": "a1"})


def test_the_status_line_says_bar_decks_and_next_action(rig):
    clock, _, telemetry, _, submit = rig
    clock.advance_to_beat(5.5)
    submit(Intent(IntentKind.LOOP, Deck.A, {"beats": 4}, at_beat=8.0))
    text = status_text(telemetry.snapshot(), "✓ a")
    assert text.startswith("bar 2.2 ●●○○ 120.0 BPM")
    assert "A ■ empty" in text and "B ■ empty" in text and "next LOOP A in 2.5♩" in text and text.endswith("✓ a")

    out = io.StringIO()
    line = StatusLine(out, rate=50)
    line.report("target: midi-monitor")  # before the set: a plain line
    assert out.getvalue() == "target: midi-monitor\n"

    class Started:
        started_at = 0.0

    Started.telemetry = telemetry
    line.start(Started())
    try:
        deadline = time.monotonic() + 2
        while CLEAR not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        line.report("✗ refused")
    finally:
        line.stop()
    assert CLEAR + "bar 2.2" in out.getvalue() and "refused\n" not in out.getvalue()


def test_frames_between_the_processes_survive_any_cut_and_become_json_a_browser_accepts():
    payload = {"peak": math.nan, "lufs": [-14.0, math.inf], "beat": np.float64(3.5), "n": np.int64(2),
               "deck": Deck.A, "ok": True}
    data = frame("meters", payload) + frame("state", {"beat": 1.0})
    frames = Frames()
    got = [f for i in range(len(data)) for f in frames.feed(data[i:i + 1])]  # one byte at a time
    assert [name for name, _ in got] == ["meters", "state"]
    assert json.loads(to_json(got[0][1])) == {"peak": None, "lufs": [-14.0, None], "beat": 3.5, "n": 2,
                                              "deck": "A", "ok": True}
    assert read_line(line("clients", {"n": 4})) == ("clients", {"n": 4})
    with pytest.raises(ValueError):
        read_line(b"no-space-here\n")


def test_the_view_address_comes_from_the_flag_then_copilot_toml_then_the_default():
    from copilot.bridge.config import Config
    from copilot.cli.run import OPTIONS, settle

    def settled(flag, table):
        given = {name: None for name in OPTIONS} | {"view": flag}
        return view_bind(settle(given, Config({"view": table} if table is not None else {}))["view"])

    assert settled(None, None) == "127.0.0.1:8765"
    assert settled(None, {"bind": "0.0.0.0:9000"}) == "0.0.0.0:9000"
    assert settled("9001", {"bind": "0.0.0.0:9000"}) == "9001"
    assert settled("off", None) is None and settled(None, {"bind": ""}) is None


def test_without_a_reader_the_queue_forgets_what_has_played(rig):
    clock, _, telemetry, _, submit = rig
    for n in range(300):
        submit(Intent(IntentKind.HOTCUE, Deck.A, {"n": 1 + n % 8}, at_beat=float(n + 1)))
        clock.advance_to_beat(n + 1.5)
    assert len(telemetry._queued) <= 257  # a long set with no view never piles up played actions


def test_the_engines_short_term_loudness_and_deck_reach_the_views_frames(tmp_path):
    """A real session on the built-in engine, rendered offline: the publisher's slow frames carry the
    master's meters (issue 18's short-term loudness among them) and the deck card the engine's head."""
    import socket

    import soundfile as sf

    from copilot.bridge.config import Config
    from copilot.bridge.host import TargetHost
    from copilot.bridge.session import Session, SessionOptions
    from copilot.plugins import phrase_db, standalone
    from copilot.view.publisher import Publisher

    sr, seconds = 48000, 8.0
    crate = tmp_path / "crate"
    crate.mkdir()
    t = np.arange(int(sr * seconds)) / sr
    sf.write(crate / "hum.wav", (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32), sr, subtype="FLOAT")
    (crate / "hum.json").write_text(json.dumps({"title": "hum", "bpm": 120.0, "beats": [0.0], "duration": seconds,
                                                "sections": []}))
    options = SessionOptions(target="standalone", link=False, tempo=120.0, osc=None, out=tmp_path / "mix.wav",
                             crate=crate, log=tmp_path / "log.jsonl", db=tmp_path / "none.sqlite")
    host = TargetHost({}, plugins=[standalone, phrase_db], entry_points=False)
    session = Session(options, Config(), host=host, report=lambda _m: None)
    session.start()
    assert session.submit(Intent(IntentKind.LOAD, Deck.A, {"query": "hum"})).accepted
    play = session.submit(Intent(IntentKind.PLAY, Deck.A, at_beat=2.0))  # on the bar line: beat 4
    assert play.accepted and play.beat is not None
    session.targets[0].run_offline(session, 5.0)  # a 3 s short-term window, full
    ours, theirs = socket.socketpair()
    try:
        publisher = Publisher(session, ours)
        got = dict(Frames().feed(b"".join(publisher._slow_frames(lateness=False))))
        (meters,) = got["meters"].values()
        assert meters["short_term_lufs"] is not None and -40.0 < meters["short_term_lufs"] < 0.0, meters
        assert -20.0 < meters["peak_db"] <= 0.0, meters
        card = publisher.state()["decks"]["A"]
        beat = session.clock.beat
        assert card["track"] == "hum" and card["position"] == pytest.approx(beat - play.beat, abs=0.05)
        assert card["time_left"] == pytest.approx((16.0 - (beat - play.beat)) * 0.5, abs=0.1)  # 8 s of track
    finally:
        ours.close()
        theirs.close()
        session.stop()
