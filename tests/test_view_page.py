"""The stage view in a real headless Chromium, beside `copilot run` whose MIDI goes to a JACK dummy port.

The set runs as performers run it — `copilot run --target midi-monitor --view …` in a process of its own,
on a JACK dummy server of its own with a long period (these tests ask whether a message arrives, not
when to the sample, and a browser beside the set on a busy machine must not cost them a message); what
reaches "Copilot Out" is heard by a probe in another process (one process talking to two JACK servers
crashes libjack, and the test session has its own). One browser and one set serve every test here.
What is judged is what the page shows (its DOM, its canvas) and what reaches the wire.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from copilot.bridge.clock import host_time
from copilot.bridge.midi import note
from copilot.plugins.midi_monitor import CCS, GLOBAL_CHANNEL, HOTCUE_NOTE_BASE, NOTES, loop_note
from copilot.tests.fixtures import start_jack, stop_jack
from copilot.tests.fixtures_mix import BassTrack, write_bass_track
from copilot.tests.fixtures_view import LiveSet, Wire, chrome, wait_js

pytestmark = pytest.mark.jack
TEMPO = 180.0  # a beat is a third of a second: actions a few beats ahead fire soon


@pytest.fixture(scope="module")
def jack_env() -> Iterator[dict[str, str]]:
    """A JACK dummy server for the set and the probe only (this process never opens a client on it)."""
    server = start_jack(f"copilot-view-{os.getpid()}", period=1024)
    try:
        yield dict(os.environ, JACK_DEFAULT_SERVER=server.name, JACK_NO_START_SERVER="1")
    finally:
        stop_jack(server)


SECTIONS = (("intro", 2, 0.4), ("main", 8, 0.8), ("outro", 16, 0.4))  # a mix starts soon and may run long


@pytest.fixture(scope="module")
def live(jack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSet]:
    """The set, with a two-track crate so the mixer (the phrase-db plugin) can plan a transition."""
    folder = tmp_path_factory.mktemp("view-set")
    crate = folder / "crate"
    crate.mkdir()
    for spec in (BassTrack("Low Roller", 55.0, 880.0, bpm=TEMPO, sections=SECTIONS),
                 BassTrack("High Stepper", 82.41, 1300.0, bpm=TEMPO, key="E minor", camelot="9A",
                           sections=SECTIONS)):
        write_bass_track(crate, spec, sr=8000)
    # the bundled templates only, and no phrase database of the user's (the crate's sidecars are the library)
    env = dict(jack_env, COPILOT_TRANSITIONS=str(folder / "learned"), XDG_DATA_HOME=str(folder / "data"))
    live = LiveSet(env, folder, TEMPO, "--crate", str(crate))
    try:
        yield live
    finally:
        assert live.close() == 0, "copilot run did not end cleanly"


@pytest.fixture(scope="module")
def page(live: LiveSet) -> Iterator[Any]:
    driver = chrome()
    try:
        driver.get(live.url)
        wait_js(driver, "window.stageView && window.stageView.states > 20", 20, "a second of states")
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def probe(jack_env: dict[str, str], live: LiveSet) -> Iterator[Wire]:
    probe = Wire(jack_env)
    try:
        yield probe
    finally:
        probe.close()


@pytest.fixture
def wire(probe: Wire) -> Wire:
    """What reaches "Copilot Out" from the start of one test."""
    probe.messages(settle=0.0)  # earlier tests' messages
    return probe


def ahead(live: LiveSet, beats: float) -> float:
    """A whole beat at least `beats` from now (an explicit at_beat the scheduler honours)."""
    return float(int(live.beat() + beats) + 1)


def ask(live: LiveSet, kind: str, deck: str | None, args: dict[str, Any], at_beat: float | None = None) -> Any:
    answer = live.post("/intent", {"kind": kind, "deck": deck, "args": args, "at_beat": at_beat})
    assert answer["verdict"] in ("scheduled", "awaiting_confirm"), answer
    return answer


def wait_beat(live: LiveSet, beat: float) -> None:
    clock = live.clock()
    while clock(host_time()) < beat:
        time.sleep(0.02)


def pressed(got: list[tuple[float, bytes]], channel: int, number: int) -> bool:
    """The button reached the wire: its press or its release."""
    return any(data in (note(channel, number, 127), note(channel, number, 0)) for _, data in got)


def test_the_wheel_and_the_counter_follow_the_sets_clock(live, page):
    clock = live.clock()
    # The page's extrapolation against the session's clock, 0.1 s either side: a page that did not follow
    # would be a beat or more off; how close it follows is measured by bench/view.py (a busy CI machine
    # can hold a stream's samples back, and a test must not fail for it).
    slack = 0.1 * TEMPO / 60

    def read() -> tuple[float, str, int]:
        before = clock(host_time())
        beat, picture, bar = page.execute_script(
            "return [window.stageView.beat(), document.getElementById('wheel').toDataURL(),"
            " document.getElementById('bar').textContent]")
        after = clock(host_time())
        assert before - slack <= beat <= after + slack, (before, beat, after)
        return beat, picture, int(bar)

    first, wheel_then, _ = read()
    time.sleep(0.8)  # 2.4 beats at 180 BPM
    second, wheel_now, bar = read()
    assert second - first > 1.0
    assert wheel_now != wheel_then, "the wheel did not move"
    assert bar in (int(second // 4), int(second // 4) + 1)  # drawn at the last frame, an instant before
    frames = page.execute_script("return window.stageView.frames.slice(-30)")
    assert len(frames) == 30 and frames[-1][1] > frames[0][1]
    # frame by frame it goes forward; a new best clock sample may nudge it, never by a perceptible step back
    assert all(b[1] - a[1] > -slack for a, b in itertools.pairwise(frames))


def test_an_action_is_queued_before_it_fires_and_gone_after(live, page, wire):
    due = ahead(live, 18)  # 6 s: time enough for a busy machine's browser to show it first
    action = ask(live, "LOOP", "A", {"beats": 4}, due)["actions"][0]
    row = f"#queue li[data-id='{action}']"
    wait_js(page, f"document.querySelector(\"{row}\")", 5, "the loop in the queue")
    assert live.beat() < due, "the row appeared only after the loop fired"
    countdown = wait_js(page, f"document.querySelector(\"{row} .when\").textContent", 5, "the countdown")
    assert countdown.endswith("♩") and 0 < float(countdown[:-1]) <= 19.5, countdown
    assert "4-beat loop on deck A" in page.execute_script(f"return document.querySelector(\"{row}\").textContent")
    wait_js(page, f"!document.querySelector(\"{row}\")", 20, "the loop to leave the queue")
    assert live.beat() >= due, "the row left before the loop fired"
    assert pressed(wire.messages(), 0, loop_note(4))


def test_cancel_on_the_page_withdraws_the_action_before_it_reaches_the_wire(live, page, wire):
    due = ahead(live, 18)  # 6 s to find and press the button, on a busy machine too
    loop = ask(live, "LOOP", "A", {"beats": 8}, due)["actions"][0]
    ask(live, "HOTCUE", "B", {"n": 3}, due)  # left alone: the wire works
    button = f"#queue li[data-id='{loop}'] button.x"
    wait_js(page, f"document.querySelector(\"{button}\")", 5, "the cancel button")
    page.execute_script(f"document.querySelector(\"{button}\").click()")
    wait_js(page, f"!document.querySelector(\"#queue li[data-id='{loop}']\")", 5, "the loop to be withdrawn")
    assert live.beat() < due, "the page was too slow: the loop was due before the cancel was pressed"
    wait_js(page, "[...document.querySelectorAll('#decisions li')].map(li => li.textContent)"
                  ".find(t => t.includes('withdrew 8-beat loop on deck A'))", 5, "the withdrawal")
    wait_beat(live, due + 1)
    got = wire.messages()
    assert pressed(got, 1, HOTCUE_NOTE_BASE + 2), got  # the hot cue went out on its beat
    assert not pressed(got, 0, loop_note(8)), "the cancelled loop reached the wire"


def test_a_question_waits_for_the_big_yes(live, page, wire):
    assert live.post("/intent", "play C")["verdict"] == "scheduled"  # on the next bar
    question = live.post("/intent", "pause C")  # the same bar: stops the only playing deck
    assert question["verdict"] == "awaiting_confirm", question
    yes = f"#pending li[data-id='{question['id']}'] button.yes"
    wait_js(page, f"document.querySelector(\"{yes}\")", 5, "the YES button")
    page.execute_script(f"document.querySelector(\"{yes}\").click()")
    wait_js(page, "document.getElementById('confirm-card').hidden", 5, "the question to be answered")
    confirmed = next(d for d in reversed(live.state()["decisions"]) if d["kind"] == "CONFIRM")
    assert confirmed["verdict"] == "done" and confirmed["source"] == "remote", confirmed
    wait_beat(live, confirmed["beat"] + 0.5)
    assert pressed(wire.messages(), 2, NOTES["PAUSE"])


def test_panic_on_the_page_stops_a_move_in_progress(live, page, wire):
    build = ask(live, "BUILD", None, {"bars": 4}, ahead(live, 1))
    moves = f"#moves [data-intent='{build['id']}']"
    wait_js(page, f"document.querySelectorAll(\"{moves} path[data-param]\").length >= 2", 5, "the build drawn")
    params = page.execute_script(f"return [...document.querySelectorAll(\"{moves} path\")].map(p => p.dataset.param)")
    assert {"filter", "fx_send"} <= set(params)
    wait_beat(live, build["beat"] + 2)  # the filter is on its way up
    page.execute_script("document.getElementById('panic').click()")
    wait_js(page, "document.getElementById('moves-card').hidden && !document.querySelector('#queue li')", 5,
            "the queue and the moves to empty")
    time.sleep(1.0)
    sent = [data for _, data in wire.messages()]
    panic = note(GLOBAL_CHANNEL, NOTES["PANIC"], 127)
    assert panic in sent, "PANIC never reached the wire"
    before, after = sent[:sent.index(panic)], sent[sent.index(panic) + 1:]
    filter_cc, send_cc = CCS["filter"], CCS["fx_send"]
    assert any(d[0] == 0xB0 and d[1] == filter_cc and d[2] > 64 for d in before), "the build was not rising"
    # after PANIC only the resets to neutral (filter open = MSB 64, send 0): the rest of the ramp never went out
    resets = [d for d in after if d[0] & 0xF0 == 0xB0 and d[1] in (filter_cc, send_cc)]
    assert resets and all(d[2] == (64 if d[1] == filter_cc else 0) for d in resets), resets
    decision = next(d for d in reversed(live.state()["decisions"]) if d["kind"] == "PANIC")
    assert decision["source"] == "remote"


def test_a_planned_transition_shows_with_its_curves_and_cancel_glides_it_back(live, page, wire):
    for words in ("load low roller to A", "load high stepper to B"):
        assert live.post("/intent", words)["verdict"] == "scheduled", words
    wait_js(page, "document.querySelector('[data-deck=\"B\"] .title').textContent.includes('High Stepper')", 10,
            "the loaded track on deck B's card")
    play = live.post("/intent", "play A")
    assert play["verdict"] == "scheduled", play["reason"]
    wait_beat(live, play["beat"])  # the mixer plans from what plays
    mix = live.post("/intent", "bass swap into B over 16 bars")  # 21 s: it is still on when ✕ is pressed
    assert mix["verdict"] == "scheduled", mix["reason"]
    row = f"#mixes li[data-id='{mix['id']}']"
    text = wait_js(page, f"document.querySelector(\"{row}\") && document.querySelector(\"{row}\").textContent",
                   10, "the transition's card")
    (planned,) = [t for t in live.state()["transitions"] if t["intent_id"] == mix["id"]]
    assert planned["bars"] >= 8 and "bass swap A → B" in text and f"{planned['bars']} bars" in text, text
    curves = f"#moves [data-intent='{mix['id']}'] path[data-param]"
    params = wait_js(page, f"[...document.querySelectorAll(\"{curves}\")].map(p => p.dataset.param)", 10,
                     "its curves drawn")
    assert "crossfader" in params and any(p.startswith("eq_low") for p in params), params
    page.execute_script(f"document.querySelector(\"{row} button.x\").click()")
    wait_js(page, "document.getElementById('mix-card').hidden", 10, "the transition to be withdrawn")
    said = wait_js(page, "[...document.querySelectorAll('#decisions li')].map(li => li.textContent)"
                         ".find(t => t.includes('cancelled bass swap A→B'))", 10, "the cancellation")
    assert "remote" in said
