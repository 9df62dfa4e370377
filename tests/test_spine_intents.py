"""The intent schema, Lamport ordering, and script files."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from copilot.bridge.clock import ManualClock
from copilot.bridge.lamport import LAMPORT, MAX_LEAD, LamportClock
from copilot.bridge.scheduler import SafetyScheduler
from copilot.intents.schema import MAX_LAMPORT, Deck, Intent, IntentError, IntentKind, Source
from copilot.intents.script import ScriptError, load_script, parse_script

K = IntentKind


def test_intent_json_round_trip_keeps_everything_and_the_scheduler_merges_the_lamport_stamp():
    original = Intent(K.FX, Deck.B, {"name": "Echo", "amount": 0.5}, Source.VOICE, 0.9, text="echo fifty on b")
    data = json.loads(json.dumps(original.to_dict()))
    data["lamport"] = LAMPORT.value + 100  # a remote machine far ahead of us
    back = Intent.from_dict(data)
    assert (back.kind, back.deck, dict(back.args), back.source, back.id, back.lamport) == (
        K.FX, Deck.B, {"name": "echo", "amount": 0.5}, Source.VOICE, original.id, data["lamport"])
    scheduler = SafetyScheduler(ManualClock(120.0))
    merged = scheduler.submit(back).intent
    assert merged.lamport > data["lamport"]  # observed, then ticked past it
    assert scheduler.submit(Intent(K.PLAY, Deck.A)).intent.lamport > merged.lamport  # later is ordered after


def test_a_stamp_far_ahead_pulls_the_clock_only_so_far():
    clock = LamportClock()
    clock.tick()
    assert clock.observe(500) == 501  # a peer ahead: merged past it
    assert clock.observe(MAX_LAMPORT) == 501 + MAX_LEAD + 1  # a hostile 2^53: one bounded step, not the end
    assert all(clock.observe(MAX_LAMPORT) < MAX_LAMPORT for _ in range(1000))


@pytest.mark.parametrize("stamp", [-1, 1e300, float("inf"), float("nan"), 2.5, True, "7", MAX_LAMPORT + 1])
def test_a_remote_lamport_stamp_out_of_range_is_refused(stamp):
    data = Intent(K.PLAY, Deck.A).to_dict() | {"lamport": stamp}
    with pytest.raises(IntentError, match="Lamport stamp"):
        Intent.from_dict(data)


@pytest.mark.parametrize(
    ("kind", "deck", "args", "why"),
    [
        (K.LOOP, Deck.A, {"beats": 3}, "power of two"),
        (K.LOOP, Deck.A, {"beats": 64}, "power of two"),
        (K.HOTCUE, Deck.A, {"n": 9}, "1 to 8"),
        (K.FX, None, {"name": "echo", "amount": 1.5}, "0 to 100"),
        (K.FILTER, None, {"direction": "sideways"}, "'up' or 'down'"),
        (K.TEMPO, None, {}, "either 'delta_bpm' or 'bpm'"),
        (K.TEMPO, None, {"bpm": 5000}, "20 to 999"),
        (K.LOAD, Deck.A, {"query": "  "}, "non-empty"),
        (K.PANIC, Deck.A, {}, "not a deck action"),
        (K.PLAY, None, {"beats": 4}, "takes no arguments"),
        (K.LOOP, None, {"beats": float("nan")}, "finite"),
        (K.DROP, None, {"bars": 0}, "1 to 64"),
    ],
)
def test_invalid_intents_say_why(kind, deck, args, why):
    with pytest.raises(IntentError, match=why):
        Intent(kind, deck, args)


def test_from_dict_refuses_unknown_kinds():
    with pytest.raises(IntentError, match="unknown intent kind"):
        Intent.from_dict({"kind": "EXPLODE"})


def test_lamport_clock_is_monotonic_across_threads():
    clock = LamportClock()
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(2000):
            v = clock.tick()
            with lock:
                seen.append(v)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == len(seen) == 8000
    assert clock.observe(100000) == 100001 and clock.tick() == 100002


def test_racing_intents_order_by_lamport_then_id():
    scheduler = SafetyScheduler(ManualClock(120.0))
    a = scheduler.submit(Intent(K.PLAY, Deck.A)).intent
    b = scheduler.submit(Intent(K.HOTCUE, Deck.A, {"n": 1})).intent
    assert sorted([b, a], key=lambda i: i.order) == [a, b]


def test_script_lines_become_intents_in_time_order():
    lines = parse_script("# set\n2.5 loop 4 on deck A\n0 play A   # go\n\n8 drop in 2\n")
    assert [(x.at, x.intent.kind) for x in lines] == [(0.0, K.PLAY), (2.5, K.LOOP), (8.0, K.DROP)]
    assert all(x.intent.source is Source.SCRIPT for x in lines)
    assert lines[1].line == 2


def test_the_example_scripts_read_and_load_tracks_of_the_example_crate():
    from copilot.engine.example_crate import CRATE

    scripts = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.txt"))
    assert scripts, "examples/ holds at least one script to read"
    titles = [set(spec.title.lower().split()) for spec in CRATE]
    for path in scripts:
        lines = load_script(path)
        assert lines[0].at == 0.0 and len(lines) >= 5
        for line in lines:
            if line.intent.kind is K.LOAD:
                words = set(str(line.intent.args["query"]).split())
                assert any(words <= title for title in titles), f"{path.name}: {line.text}"


def test_every_malformed_script_line_is_reported_with_its_number():
    with pytest.raises(ScriptError) as err:
        parse_script("0 play A\nsoon play B\n3 loop 3 on A\n4\n-1 play B\n5 make it louder\n")
    numbers = [n for n, _ in err.value.problems]
    assert numbers == [2, 3, 4, 5, 6]
    text = str(err.value)
    assert "line 3" in text and "power of two" in text and "nothing was run" in text


def test_missing_script_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScriptError, match="file not found"):
        load_script(tmp_path / "nope.txt")
