"""What rehearsal learned reaches the live planner: the template that scored best for a pair is the one
the mixer picks for that pair ("mix into B", no template named), a pair never rehearsed gets the template
that scored best on pairs like it (Camelot steps, tempo gap), rehearsing again changes the choice, and a
template the performer names still wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.bridge.transition import TransitionPlan
from copilot.intents.parser import parse
from copilot.phrase_db.mixing import Mixer
from copilot.phrase_db.rehearsals import Rehearsals
from copilot.tests.test_mix_transitions import library, view


@pytest.fixture(autouse=True)
def _no_learned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_TRANSITIONS", str(tmp_path / "learned"))


def scored(store: Rehearsals, key: str, out: str, into: str, template: str, score: float, steps: float,
           gap: float = 0.0) -> None:
    store.put({"key": key, "out_path": f"/music/{out}.wav", "in_path": f"/music/{into}.wav", "template": template,
               "entry_bar": 0, "score": score, "facts": {"key_steps": steps, "tempo_gap": gap}})


def plan_into(lib, track: str, rehearsals: Path | None, text: str = "mix into B") -> TransitionPlan:
    b = lib.by_path[f"/music/{track}.wav"].resolved()
    plan = Mixer(library_override=lib, rehearsals=rehearsals).plan(parse(text).intent, view(lib, b_track=b))
    assert isinstance(plan, TransitionPlan), plan
    return plan


def test_the_best_rehearsed_template_for_a_pair_is_the_one_the_mixer_picks(tmp_path: Path) -> None:
    lib = library()
    by_rules = plan_into(lib, "Fifth Up", None)
    other = "blend" if by_rules.template != "blend" else "filter_fade"
    db = tmp_path / "library.sqlite"
    with Rehearsals(db) as store:
        scored(store, "k1", "Outgoing", "Fifth Up", by_rules.template, 61.0, 1)
        scored(store, "k2", "Outgoing", "Fifth Up", other, 88.0, 1)
    plan = plan_into(lib, "Fifth Up", db)
    assert plan.template == other and "rehearsed" in plan.why
    # a template the performer names is what they get
    assert plan_into(lib, "Fifth Up", db, "bass swap into B").template == "bass_swap"
    # rehearsing again (a better score for another template) changes the choice
    with Rehearsals(db) as store:
        scored(store, "k3", "Outgoing", "Fifth Up", "echo_out", 93.0, 1)
    assert plan_into(lib, "Fifth Up", db).template == "echo_out"


def test_a_pair_never_rehearsed_gets_the_template_best_on_pairs_like_it(tmp_path: Path) -> None:
    lib = library()
    by_rules = plan_into(lib, "Fifth Up", None)  # A minor → E minor: one Camelot step, same tempo
    other = "filter_fade" if by_rules.template != "filter_fade" else "blend"
    db = tmp_path / "r.sqlite"
    with Rehearsals(db) as store:  # other pairs one step apart at the same tempo: `other` wins there
        scored(store, "a", "X", "Y", other, 90.0, 1)
        scored(store, "b", "Y", "Z", other, 80.0, 0)
        scored(store, "c", "X", "Y", by_rules.template, 60.0, 1)
        scored(store, "d", "P", "Q", by_rules.template, 99.0, 6)  # six steps apart: not like this pair
    plan = plan_into(lib, "Fifth Up", db)
    assert plan.template == other and "pair(s) like this one" in plan.why


def test_no_rehearsals_or_a_broken_file_plans_by_the_rules(tmp_path: Path) -> None:
    lib = library()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database")
    assert plan_into(lib, "Fifth Up", junk).template == plan_into(lib, "Fifth Up", None).template
