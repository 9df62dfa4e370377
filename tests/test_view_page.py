"""The stage view in a real headless Chromium, beside a live session whose MIDI goes to a JACK dummy port.

One browser and one session serve every test here (starting Chromium costs seconds). What is judged is
what the page shows (its DOM and its canvas) and what reaches the wire — never only our own log.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from copilot.bridge.midi import note
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins.midi_monitor import CCS, GLOBAL_CHANNEL, HOTCUE_NOTE_BASE, NOTES, loop_note
from copilot.tests.fixtures import MidiCapture, start_jack, stop_jack
from copilot.tests.fixtures_view import chrome, stage_session, wait_js

pytestmark = pytest.mark.jack
TEMPO = 180.0  # a beat is a third of a second: actions a few beats ahead fire soon


@pytest.fixture(scope="module")
def roomy_jack() -> Iterator[Any]:
    """A JACK dummy server of its own with a long period (21 ms): these tests ask whether a message arrives,
    not when to the sample, and a browser beside the set on a busy machine must not cost them a message."""
    server = start_jack(f"copilot-view-{os.getpid()}", period=1024)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        stop_jack(server)


@pytest.fixture(scope="module")
def stage(roomy_jack: Any) -> Iterator[Any]:
    session, view = stage_session(tempo=TEMPO, midi_api="jack")
    try:
        yield session, view
    finally:
        session.stop()


@pytest.fixture
def wire(roomy_jack: Any) -> Iterator[MidiCapture]:
    """What arrives on 'Copilot Out' during one test."""
    capture = MidiCapture("Copilot Out", f"copilot-view-capture-{time.monotonic_ns()}")
    try:
        yield capture
    finally:
        capture.close()


@pytest.fixture(scope="module")
def page(stage: Any) -> Iterator[Any]:
    _session, view = stage
    driver = chrome()
    try:
        driver.get(view.url)
        wait_js(driver, "window.stageView && window.stageView.states > 20", 20, "a second of states")
        yield driver
    finally:
        driver.quit()


def ahead(session: Any, beats: float) -> float:
    """A whole beat at least `beats` from now (an explicit at_beat the scheduler honours)."""
    return float(int(session.clock.beat + beats) + 1)


def submit(session: Any, kind: IntentKind, deck: Deck | None, args: dict[str, Any], at_beat: float) -> Any:
    decision = session.submit(Intent(kind, deck, args, at_beat=at_beat))
    assert decision.accepted, decision.reason
    return decision


def notes_on(got: list[tuple[float, bytes]]) -> list[bytes]:
    return [data for _, data in got if len(data) == 3 and data[0] & 0xF0 == 0x90 and data[2] > 0]


def test_the_wheel_and_the_counter_follow_the_clock(stage, page):
    session, _ = stage
    slack = 0.02 * TEMPO / 60  # 20 ms either side: the page's extrapolation against the session's clock

    def read() -> tuple[float, str]:
        before = session.clock.beat
        beat, picture = page.execute_script(
            "return [window.stageView.beat(), document.getElementById('wheel').toDataURL()]")
        after = session.clock.beat
        assert before - slack <= beat <= after + slack, (before, beat, after)
        return beat, picture

    first, wheel_then = read()
    time.sleep(0.4)  # 1.2 beats at 180 BPM
    second, wheel_now = read()
    assert second - first > 1.0
    assert wheel_now != wheel_then, "the wheel did not move"
    bar = int(page.execute_script("return document.getElementById('bar').textContent"))
    assert bar in (int(second // 4) + 1, int(second // 4) + 2)
    frames = page.execute_script("return window.stageView.frames.slice(-30)")
    assert len(frames) == 30 and all(b[1] > a[1] for a, b in itertools.pairwise(frames))


def test_a_scripted_action_is_queued_before_it_fires_and_gone_after(stage, page, wire):
    session, _ = stage
    capture = wire
    due = ahead(session, 5)
    decision = submit(session, IntentKind.LOOP, Deck.A, {"beats": 4}, due)
    action = decision.actions[0].id
    row = f"#queue li[data-id='{action}']"
    wait_js(page, f"document.querySelector(\"{row}\")", 3, "the loop in the queue")
    assert session.clock.beat < due, "the row appeared only after the loop fired"
    countdown = wait_js(page, f"document.querySelector(\"{row} .when\").textContent", 1, "the countdown")
    assert countdown.endswith("♩") and 0 < float(countdown[:-1]) <= 6.5, countdown
    assert "4-beat loop on deck A" in page.execute_script(f"return document.querySelector(\"{row}\").textContent")
    wait_js(page, f"!document.querySelector(\"{row}\")", 5, "the loop to leave the queue")
    assert session.clock.beat >= due, "the row left before the loop fired"
    got = capture.collect(timeout=0.5)
    assert note(0, loop_note(4), 127) in notes_on(got)


def test_cancel_on_the_page_withdraws_the_action_before_it_reaches_the_wire(stage, page, wire):
    session, _ = stage
    capture = wire
    due = ahead(session, 6)
    loop = submit(session, IntentKind.LOOP, Deck.A, {"beats": 8}, due).actions[0].id
    submit(session, IntentKind.HOTCUE, Deck.B, {"n": 3}, due)  # left alone: the wire works
    button = f"#queue li[data-id='{loop}'] button.x"
    wait_js(page, f"document.querySelector(\"{button}\")", 3, "the cancel button")
    page.execute_script(f"document.querySelector(\"{button}\").click()")
    wait_js(page, f"!document.querySelector(\"#queue li[data-id='{loop}']\")", 3, "the loop to be withdrawn")
    said = wait_js(page, "[...document.querySelectorAll('#decisions li')].map(li => li.textContent)"
                         ".find(t => t.includes('withdrew 8-beat loop on deck A'))", 3, "the withdrawal")
    assert "remote" in said
    while session.clock.beat < due + 1:
        time.sleep(0.05)
    sent = notes_on(capture.collect(timeout=0.5))
    assert note(1, HOTCUE_NOTE_BASE + 2, 127) in sent, sent  # the hot cue went out on its beat
    assert note(0, loop_note(8), 127) not in sent, "the cancelled loop reached the wire"


def test_a_question_waits_for_the_big_yes(stage, page, wire):
    session, _ = stage
    capture = wire
    assert session.submit(Intent(IntentKind.PLAY, Deck.C)).accepted  # on the next bar
    question = session.submit(Intent(IntentKind.PAUSE, Deck.C))  # the same bar: stops a playing deck
    assert question.verdict.value == "awaiting_confirm"
    yes = f"#pending li[data-id='{question.intent.id}'] button.yes"
    wait_js(page, f"document.querySelector(\"{yes}\")", 3, "the YES button")
    assert not page.execute_script("return document.getElementById('confirm-card').hidden")
    page.execute_script(f"document.querySelector(\"{yes}\").click()")
    wait_js(page, "document.getElementById('confirm-card').hidden", 3, "the question to be answered")
    confirmed = next(d for d in reversed(session.decisions) if d.intent.kind is IntentKind.CONFIRM)
    assert confirmed.accepted and confirmed.intent.source.value == "remote"
    pause_at = confirmed.beat
    while session.clock.beat < pause_at + 0.5:
        time.sleep(0.05)
    assert note(2, NOTES["PAUSE"], 127) in notes_on(capture.collect(timeout=0.5))


def test_panic_on_the_page_stops_a_move_in_progress(stage, page, wire):
    session, _ = stage
    capture = wire
    build = submit(session, IntentKind.BUILD, None, {"bars": 4}, ahead(session, 1))
    intent = build.intent.id
    wait_js(page, f"document.querySelectorAll(\"#moves [data-intent='{intent}'] path[data-param]\").length >= 2",
            3, "the build's envelopes drawn")
    params = page.execute_script(
        f"return [...document.querySelectorAll(\"#moves [data-intent='{intent}'] path\")].map(p => p.dataset.param)")
    assert {"filter", "fx_send"} <= set(params)
    start = build.beat
    while session.clock.beat < start + 2:  # the filter is on its way up
        time.sleep(0.05)
    page.execute_script("document.getElementById('panic').click()")
    wait_js(page, "document.getElementById('moves-card').hidden && !document.querySelector('#queue li')", 3,
            "the queue and the moves to empty")
    time.sleep(1.0)
    sent = [data for _, data in capture.collect(timeout=0.5)]
    panic = note(GLOBAL_CHANNEL, NOTES["PANIC"], 127)
    assert panic in sent, "PANIC never reached the wire"
    before, after = sent[:sent.index(panic)], sent[sent.index(panic) + 1:]
    filter_cc, send_cc = CCS["filter"], CCS["fx_send"]
    assert any(d[0] == 0xB0 and d[1] == filter_cc and d[2] > 64 for d in before), "the build was not rising"
    # after PANIC only the resets to neutral (filter open = MSB 64, send 0): the rest of the ramp never went out
    resets = [d for d in after if d[0] & 0xF0 == 0xB0 and d[1] in (filter_cc, send_cc)]
    assert resets and all(d[2] == (64 if d[1] == filter_cc else 0) for d in resets), resets
    decision = next(d for d in reversed(session.decisions) if d.intent.kind is IntentKind.PANIC)
    assert decision.intent.source.value == "remote"
