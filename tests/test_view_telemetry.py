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
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler, Verdict
from copilot.bridge.state import DeckUpdate, HostState
from copilot.bridge.telemetry import Telemetry
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


def test_cancel_by_action_id_withdraws_that_intent_only(rig):
    clock, _, telemetry, outbox, submit = rig
    loop = submit(Intent(IntentKind.LOOP, Deck.A, {"beats": 4}, at_beat=8.0))
    cue = submit(Intent(IntentKind.HOTCUE, Deck.B, {"n": 2}, at_beat=8.0))
    gone = submit(Intent(IntentKind.CANCEL, args={"id": loop.actions[0].id}))
    assert gone.verdict is Verdict.DONE and gone.reason == "withdrew 4-beat loop on deck A"
    assert outbox.withdrawn == [((loop.actions[0].id,), clock.beat)]
    assert [a["id"] for a in telemetry.snapshot()["queue"]] == [cue.actions[0].id]
    again = submit(Intent(IntentKind.CANCEL, args={"id": loop.actions[0].id}))
    assert again.verdict is Verdict.REFUSED and "nothing queued has the id" in again.reason
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
    assert view_bind(None, {}) == "127.0.0.1:8765"
    assert view_bind(None, {"bind": "0.0.0.0:9000"}) == "0.0.0.0:9000"
    assert view_bind("9001", {"bind": "0.0.0.0:9000"}) == "9001"
    assert view_bind("off", {}) is None and view_bind(None, {"bind": ""}) is None


def test_without_a_reader_the_queue_forgets_what_has_played(rig):
    clock, _, telemetry, _, submit = rig
    for n in range(300):
        submit(Intent(IntentKind.HOTCUE, Deck.A, {"n": 1 + n % 8}, at_beat=float(n + 1)))
        clock.advance_to_beat(n + 1.5)
    assert len(telemetry._queued) <= 257  # a long set with no view never piles up played actions
