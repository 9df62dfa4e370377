"""Templates from the performer's own mixes: a set played by hand (offline, on the engine, from a script)
leaves a session log; `copilot transitions learn LOG` finds the transition in it, normalises it (bars,
time 0 → 1, roles), keeps its context, and the planner uses it at once. Moves a host was sent as CCs
(motion, pads) are read back through the target's mapping table."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.log import sent_record
from copilot.intents.schema import Deck
from copilot.phrase_db.learn import SessionReading, simplify
from copilot.phrase_db.mixing import Facts, choose_template
from copilot.phrase_db.transitions import learned, templates
from copilot.tests.fixtures_mix import BassTrack, write_bass_track

HAND = """\
0    load low roller to A
0    load high stepper to B
0    crossfader to deck A
0.5  play A
15   kill the bass on B
15.5 play B
16   crossfade to B over 8 bars
24   bass back on B
24   kill the bass on A
33   pause A
33.1 yes
"""


def copilot(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def hand_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("mix-learn")
    (folder / "crate").mkdir()
    write_bass_track(folder / "crate", BassTrack("Low Roller", 55.0, 880.0))
    write_bass_track(folder / "crate", BassTrack("High Stepper", 82.41, 1300.0, key="E minor", camelot="9A"))
    (folder / "hand.txt").write_text(HAND)
    env = {**os.environ, "COPILOT_TRANSITIONS": str(folder / "learned"),
           "XDG_DATA_HOME": str(folder / "data")}  # no phrase database: the crate's sidecars
    done = copilot("run", "--out", "hand.wav", "--crate", "crate", "--script", "hand.txt", "--duration", "40",
                   "--log", "hand.jsonl", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    return folder, env


def test_a_hand_made_transition_becomes_a_template_the_planner_uses(hand_log, monkeypatch) -> None:
    folder, env = hand_log
    done = copilot("transitions", "learn", "hand.jsonl", "--name", "my swap", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    assert "my_swap: 8 bars" in done.stdout and "key_distance 1" in done.stdout, done.stdout
    data = json.loads((folder / "learned" / "my_swap.json").read_text())
    assert data["bars"] == 8 and data["learned"] is True
    curves = {(c["param"], c["deck"]): c["points"] for c in data["curves"]}
    xf = curves[("crossfader", None)]
    assert xf[0][:2] == [0.0, 0.0] and xf[-1][:2] == [1.0, 1.0]  # toward the incoming deck, all the way
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(xf)) and len(xf) <= 12
    swap_in, swap_out = curves[("eq_low", "in")], curves[("eq_low", "out")]
    mid = next(t for t, v, _ in swap_in if v == 0.5)
    assert 0.45 <= mid <= 0.55  # the basses swapped half way (bar 4 of 8), within a beat
    assert swap_in[0][1] == 0.0 and swap_out[0][1] == 0.5 and swap_out[-1][1] == 0.0
    assert data["context"] == {"key_distance": 1, "tempo_percent": 0.0, "energy_step": 0.0,
                               "out_label": "intro", "in_label": "intro"}
    # the planner can use it at once, and prefers it for a pair like the one it was made on
    monkeypatch.setenv("COPILOT_TRANSITIONS", env["COPILOT_TRANSITIONS"])
    assert "my_swap" in templates() and learned()["my_swap"].learned
    like = Facts(1, 1, 0, 0.0, 0.4, 0.4, "intro", "intro")
    assert choose_template(like)[0] == "my_swap"
    unlike = Facts(4, 4, 0, 5.0, 0.9, 0.2, "drop", "break")
    assert choose_template(unlike)[0] != "my_swap"
    listed = copilot("transitions", "list", cwd=folder, env=env)
    assert "my_swap" in listed.stdout and "learned" in listed.stdout


def test_planner_transitions_are_not_learned(hand_log) -> None:
    folder, env = hand_log
    (folder / "swap.txt").write_text("0 load low roller to A\n0 load high stepper to B\n0.5 play A\n"
                                     "2 bass swap into B in 8\n")
    done = copilot("run", "--out", "swap.wav", "--crate", "crate", "--script", "swap.txt", "--duration", "50",
                   "--log", "swap.jsonl", cwd=folder, env=env)
    assert done.returncode == 0 and "bass swap A→B over 8 bars" in done.stdout, done.stdout
    learnt = copilot("transitions", "learn", "swap.jsonl", "--dry-run", cwd=folder, env=env)
    assert learnt.returncode == 0 and "no hand-made transition" in learnt.stdout, learnt.stdout


def test_moves_a_host_was_sent_are_read_back_through_its_table() -> None:
    from copilot.plugins.mixxx import MixxxTarget

    target = MixxxTarget()
    records = [{"type": "session", "targets": ["mixxx"], "options": {"quantum": 4.0}}]

    def decided(kind: ActionKind, deck: str, beat: float, **params) -> None:
        action = Action(kind, Deck(deck), beat, params=params)
        records.append({"type": "decision", "decision": {"intent": {"kind": kind.value, "source": "voice"},
                                                         "verdict": "scheduled", "actions": [action.to_dict()]}})

    def moved(param: str, deck: str | None, beat: float, value: float) -> None:
        action = Action(ActionKind.CONTROL, Deck(deck) if deck else None, beat, params={"param": param, "value": value})
        for timed in target.render(action, __import__("copilot.bridge.state", fromlist=["HostState"]).HostState()):
            sent = type("Sent", (), {"payload": timed.payload, "sink": "mixxx", "beat": beat, "due": 0.0,
                                     "sent": 0.0, "action_id": action.id})()
            records.append(sent_record(sent))

    decided(ActionKind.LOAD, "A", 0.0, query="one", resolved={"title": "One", "key": "A minor (8A)", "bpm": 124})
    decided(ActionKind.LOAD, "B", 0.0, query="two", resolved={"title": "Two", "key": "C major (8B)", "bpm": 126})
    moved("crossfader", None, 0.0, 0.0)
    decided(ActionKind.PLAY, "A", 4.0)
    decided(ActionKind.PLAY, "B", 36.0)
    for k in range(33):  # a pad-fader crossfade over 8 bars, one move a beat
        moved("crossfader", None, 36.0 + k, k / 32)
    decided(ActionKind.PAUSE, "A", 72.0)
    reading = SessionReading(records, "pads")
    ((out, into, s, e),) = reading.transitions()
    assert (out, into) == ("A", "B") and 36.0 < s <= 38.0 and 66.0 < e <= 68.5
    tpl = reading.template(out, into, s, e, "pads")
    (xf,) = [c for c in tpl.curves if c.param == "crossfader"]
    assert xf.points[-1][1] == pytest.approx(1.0, abs=1e-3) and tpl.context["key_distance"] == 1


def test_simplify_keeps_corners_and_drops_straight_runs() -> None:
    line = [(k / 10, k / 10) for k in range(11)]
    assert simplify(line, 0.02) == [(0.0, 0.0), (1.0, 1.0)]
    step = [(k / 10, 0.0 if k < 5 else 1.0) for k in range(11)]
    kept = simplify(step, 0.02)
    assert (0.4, 0.0) in kept and (0.5, 1.0) in kept and len(kept) == 4
