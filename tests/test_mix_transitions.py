"""Transitions as one cancellable unit, on a manual clock: the mixer's plan (decks, phrase lines, template,
key shift), the scheduler realising it through its caps and slew limits, cancelling and PANIC gliding back,
a host without a crossfader getting the crossfade on its channel faders (said once), CONFIRM by id, and
the channel-strip vocabulary (EQ, faders, crossfader) as envelopes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from copilot.bridge.actions import ActionKind
from copilot.bridge.clock import ManualClock
from copilot.bridge.safety import SafetyConfig
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler, Verdict
from copilot.bridge.state import HostState
from copilot.bridge.transition import DeckView, MixView, TransitionPlan, fader_levels, fit
from copilot.intents.parser import parse
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.phrase_db.keys import Key
from copilot.phrase_db.loader import sidecar_record
from copilot.phrase_db.mixing import Grid, Mixer, choose_template, key_shift, track_grid
from copilot.phrase_db.mixlib import MixLibrary
from copilot.phrase_db.transitions import Template

K = IntentKind
SECTIONS = [{"label": "intro", "start_bar": 0, "bars": 16, "energy": 0.4},
            {"label": "drop", "start_bar": 16, "bars": 32, "energy": 0.9},
            {"label": "outro", "start_bar": 48, "bars": 16, "energy": 0.5}]


@pytest.fixture(autouse=True)
def _no_learned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_TRANSITIONS", str(tmp_path / "learned"))


def record(i: int, title: str, key: str, bpm: float = 124.0, sections: list[dict[str, Any]] | None = None):
    truth = {"title": title, "bpm": bpm, "key": {"name": key}, "duration": 64 * 4 * 60 / bpm,
             "sections": SECTIONS if sections is None else sections}
    return sidecar_record(-i, Path(f"/music/{title}.wav"), truth, {}, first_phrase_id=100 * i)


def library(*extra) -> MixLibrary:
    records = [record(1, "Outgoing", "A minor"), record(2, "Fifth Up", "E minor"), record(3, "Far Away", "F# major"),
               record(4, "Too Fast", "A minor", bpm=140.0), *extra]
    return MixLibrary.from_records(records, "test")


def view(lib: MixLibrary, *, anchor: float | None = 8.0, now: float = 10.0, seek: bool = True,
         can: frozenset[str] = frozenset({"crossfader", "eq_low", "volume", "fx_send", "filter", "PLAY", "PAUSE",
                                          "LOAD", "KEY"}), b_track: dict | None = None,
         b_playing: bool = False, b_anchor: float | None = None) -> MixView:
    out = lib.by_path["/music/Outgoing.wav"].resolved()
    decks = {"A": DeckView("A", True, True, out, anchor),
             "B": DeckView("B", b_playing, b_track is not None, b_track, b_anchor, 0.0)}
    return MixView(now=now, earliest=now + 1.0, quantum=4.0, tempo=124.0, decks=decks, can=can, seek=seek,
                   played=(out,))


def scheduler(now_beat: float = 10.0, can: Any = None) -> tuple[ManualClock, NullOutbox, SafetyScheduler]:
    clock = ManualClock(124.0)
    clock.advance_to_beat(now_beat)
    outbox = NullOutbox()
    sched = SafetyScheduler(clock, HostState(), outbox, SafetyConfig())
    if can is not None:
        sched.can = can
    return clock, outbox, sched


def decide(sched: SafetyScheduler, text: str, plan: TransitionPlan | str) -> Any:
    intent = parse(text).intent
    assert intent is not None, text
    resolved = {"refused": plan} if isinstance(plan, str) else {"plan": plan}
    return sched.submit(intent, resolved)


# -- the plan --------------------------------------------------------------------------------------------
def test_next_track_picks_a_compatible_track_and_starts_it_on_the_outgoing_phrase_line() -> None:
    lib = library()
    plan = Mixer(library_override=lib).plan(Intent(K.NEXT), view(lib, seek=False))  # a host: from the top
    assert isinstance(plan, TransitionPlan), plan
    load = next(s for s in plan.steps if s.kind == "LOAD")
    assert load.deck == "B" and load.params["title"] == "Fifth Up"  # 9A after 8A; 140 BPM is out of range
    assert load.params["resolved"]["phrases"][0]["label"] == "intro"
    # A plays from clock beat 8: its phrase lines are 8, 72 (bar 16), 200, 264; the load needs 8 beats first
    assert plan.start == 72.0 and plan.out_deck == "A" and plan.in_deck == "B"
    play = next(s for s in plan.steps if s.kind == "PLAY")
    assert play.beat == plan.start and play.deck == "B"
    # the template chosen from the pair: energetic drop going out → bass swap; it pauses A when A is silent
    assert plan.template == "bass_swap" and plan.bars == 16
    pause = next(s for s in plan.steps if s.kind == "PAUSE")
    assert pause.deck == "A" and pause.beat == plan.end
    assert "Fifth Up" in plan.why and "1 step on the wheel" in plan.why
    assert load.params["cue"] == 0.0
    # the built-in engine can start a track on any phrase: from A's drop, into B's drop (energy up)
    engine = Mixer(library_override=lib).plan(Intent(K.NEXT), view(lib, seek=True))
    assert isinstance(engine, TransitionPlan)
    load = next(s for s in engine.steps if s.kind == "LOAD")
    assert load.params["cue"] == 64.0 and engine.template == "double_drop" and "drop into drop" in engine.why


def test_a_named_transition_uses_the_loaded_track_and_the_stated_bars() -> None:
    lib = library()
    b = lib.by_path["/music/Fifth Up.wav"].resolved()
    plan = Mixer(library_override=lib).plan(parse("bass swap into B in 16").intent, view(lib, b_track=b))
    assert isinstance(plan, TransitionPlan), plan
    assert [s.kind for s in plan.steps] == ["PLAY", "PAUSE"]  # B was loaded already
    assert plan.start == 72.0 and plan.bars == 16 and plan.end == 72.0 + 64
    swap = {e.deck: e for e in plan.envelopes if e.param == "eq_low"}
    assert swap["B"].points[0].beat == 71.0 and swap["B"].points[0].value == 0.0  # killed a beat ahead
    assert {p.beat for p in swap["A"].points} >= {72.0 + 32, 72.0 + 33}  # the swap on the middle bar line


def test_without_analysis_or_a_known_anchor_the_grid_falls_back_to_32_beat_blocks() -> None:
    bare = record(5, "No Sections", "E minor", sections=[])
    lib = library(bare)
    assert track_grid(lib.by_path["/music/No Sections.wav"]).lines[:3] == (0.0, 32.0, 64.0)
    b = lib.by_path["/music/No Sections.wav"].resolved()
    unknown = Mixer(library_override=lib).plan(parse("blend into B").intent, view(lib, anchor=None, b_track=b))
    assert isinstance(unknown, TransitionPlan) and unknown.start == 32.0  # the clock's own 32-beat grid
    assert "32-beat blocks" in unknown.why


def test_the_transition_never_runs_past_the_end_of_the_outgoing_track() -> None:
    lib = library()
    b = lib.by_path["/music/Fifth Up.wav"].resolved()
    # A started at clock beat -150: its outro starts on beat 42 and the track ends on beat 106 (16 bars on)
    plan = Mixer(library_override=lib).plan(parse("blend into B over 32").intent, view(lib, anchor=-150.0,
                                                                                       b_track=b))
    assert isinstance(plan, TransitionPlan)
    assert plan.start == 42.0 and plan.bars == 16 and plan.end == 106.0 and "ends there" in plan.why


def test_a_key_shift_brings_a_clashing_pair_within_one_step_where_the_engine_can_shift() -> None:
    assert key_shift(Key.parse("8A"), Key.parse("10A")) == -2
    assert key_shift(Key.parse("8A"), Key.parse("9A")) == 0
    far = record(6, "Two Steps", "B minor")  # 10A after 8A
    lib = library(far)
    b = lib.by_path["/music/Two Steps.wav"].resolved()
    plan = Mixer(library_override=lib).plan(parse("mix into B").intent, view(lib, b_track=b))
    assert isinstance(plan, TransitionPlan)
    key = [s for s in plan.steps if s.kind == "KEY"]
    assert key and key[0].params == {"semitones": -2} and key[0].beat < plan.start
    assert plan.facts["key_distance"] == 0 and plan.facts["raw_key_distance"] == 2
    no_shift = Mixer(library_override=lib).plan(parse("mix into B").intent,
                                                view(lib, b_track=b, can=frozenset({"crossfader", "PLAY"})))
    assert isinstance(no_shift, TransitionPlan) and no_shift.template == "echo_out"  # keys clash: echo out


def test_template_rules_follow_the_pair() -> None:
    from copilot.phrase_db.mixing import Facts

    def facts(**kw: Any) -> Facts:
        base = dict(key_distance=0, raw_key_distance=0, key_shift=0, tempo_percent=0.0, out_energy=0.8,
                    in_energy=0.8, out_label="main", in_label="intro")
        return Facts(**{**base, **kw})

    assert choose_template(facts(key_distance=3))[0] == "echo_out"
    assert choose_template(facts(in_label="drop", out_label="drop"))[0] == "double_drop"
    assert choose_template(facts(tempo_percent=4.5))[0] == "filter_fade"
    assert choose_template(facts())[0] == "bass_swap"
    assert choose_template(facts(out_energy=0.3, in_energy=0.3))[0] == "blend"


def test_refusals_say_why() -> None:
    lib = library()
    mixer = Mixer(library_override=lib)
    quiet = MixView(now=0, earliest=1, quantum=4, tempo=124, decks={"A": DeckView("A", False, True, None, None),
                                                                  "B": DeckView("B", False, False, None, None)})
    assert "nothing is playing" in mixer.plan(Intent(K.NEXT), quiet)
    b = lib.by_path["/music/Fifth Up.wav"].resolved()
    busy = view(lib, b_track=b, b_playing=True, b_anchor=0.0)
    assert "both playing" in mixer.plan(Intent(K.NEXT), busy)
    assert "no transition 'wobble'" in mixer.plan(Intent(K.TRANSITION, args={"template": "wobble"}), view(lib))


# -- the scheduler realises it as one unit -------------------------------------------------------------------
def plan_for(text: str = "bass swap into B in 16", **kw: Any) -> TransitionPlan:
    lib = library()
    b = lib.by_path["/music/Fifth Up.wav"].resolved()
    plan = Mixer(library_override=lib).plan(parse(text).intent, view(lib, b_track=b, **kw))
    assert isinstance(plan, TransitionPlan)
    return plan


def test_the_scheduler_realises_a_plan_as_one_unit_with_caps() -> None:
    _, _outbox, sched = scheduler()
    plan = plan_for()
    d = decide(sched, "bass swap into B in 16", plan)
    assert d.verdict is Verdict.SCHEDULED and d.beat == plan.start, d.reason
    kinds = [a.kind for a in d.actions]
    assert kinds.count(ActionKind.PLAY) == 1 and kinds.count(ActionKind.PAUSE) == 1
    assert ActionKind.TRANSITION in kinds and all(a.intent_id == d.intent.id for a in d.actions)
    envs = [a for a in d.actions if a.kind is ActionKind.ENVELOPE]
    assert envs and all(a.envelope.caps for a in envs)  # the scheduler's caps ride on each
    assert sched.transitions()[0]["template"] == "bass_swap" and sched.transitions()[0]["state"] == "waiting"
    # a second transition on the same decks is refused until this one is over or cancelled
    again = decide(sched, "blend into B", plan_for("blend into B"))
    assert again.verdict is Verdict.REFUSED and "cancel the transition first" in again.reason


def test_cancel_the_transition_withdraws_the_rest_and_glides_back() -> None:
    clock, outbox, sched = scheduler()
    plan = plan_for()
    d = decide(sched, "bass swap into B in 16", plan)
    clock.advance_to_beat(plan.start + 40)  # past the swap (beat +32), crossfader on its way over
    c = sched.submit(parse("cancel the transition").intent)
    assert c.verdict is Verdict.DONE and "glides back" in c.reason
    ids, after = outbox.withdrawn[-1]
    assert set(ids) == {a.id for a in d.actions} and after == pytest.approx(plan.start + 40)
    glide = {(a.envelope.param, a.deck): a.envelope for a in c.actions if a.kind is ActionKind.ENVELOPE}
    xf = glide[("crossfader", None)]
    assert xf.points[0].value == pytest.approx(0.5) and xf.points[-1].value == 0.0  # back to A's side
    assert glide[("eq_low", Deck.A)].points[-1].value == 0.5  # A's bass back
    assert glide[("eq_low", Deck.B)].points[-1].value == 0.0  # B's bass out again, as it came in
    assert xf.end - xf.start == sched.config.glide_beats
    (stop,) = [a for a in c.actions if a.kind is ActionKind.PAUSE]
    assert stop.deck is Deck.B and stop.beat >= xf.end and stop.beat % 4 == 0  # silent again: stopped
    assert not sched.transitions()
    assert sched.submit(parse("cancel the transition").intent).verdict is Verdict.REFUSED


def test_cancel_before_the_start_just_withdraws_and_panic_glides_back_mid_transition() -> None:
    clock, outbox, sched = scheduler()
    plan = plan_for()
    decide(sched, "bass swap into B in 16", plan)
    c = sched.submit(parse("cancel the transition").intent)
    assert c.verdict is Verdict.DONE and "nothing of it had started" in c.reason and not c.actions
    plan = plan_for()
    decide(sched, "bass swap into B in 16", plan)
    clock.advance_to_beat(plan.start + 50)
    p = sched.submit(Intent(K.PANIC))
    assert "gliding back" in p.reason and outbox.panics
    assert any(a.kind is ActionKind.ENVELOPE and a.envelope.param == "crossfader" for a in p.actions)


def test_a_host_without_a_crossfader_gets_it_on_the_channel_faders_said_once() -> None:
    can = {"eq_low", "volume", "PLAY", "PAUSE", "LOAD", "FX", "fx_depth"}
    _, _, sched = scheduler(can=lambda what: what in can)
    d = decide(sched, "bass swap into B in 16", plan_for())
    assert "channel faders carry the crossfade" in d.reason
    params = {(a.envelope.param, a.deck) for a in d.actions if a.kind is ActionKind.ENVELOPE}
    assert ("crossfader", None) not in params and {("volume", Deck.A), ("volume", Deck.B)} <= params
    b = next(a.envelope for a in d.actions if a.kind is ActionKind.ENVELOPE and a.envelope.param == "volume"
             and a.deck is Deck.B)
    assert b.value_at(b.start) == 0.0 and b.value_at(b.end) == 1.0
    sched.submit(parse("cancel the transition").intent)
    x = sched.submit(parse("crossfade to A over 4 bars").intent)
    assert x.verdict is Verdict.SCHEDULED and "channel faders" not in x.reason  # said once per session
    assert {a.envelope.param for a in x.actions} == {"volume"}
    assert fader_levels(0.25) == (1.0, 0.5) and fader_levels(0.75) == (0.5, 1.0)


def test_fit_leaves_out_what_no_target_can_take_and_echo_uses_the_fx_unit() -> None:
    lib = library()
    b = lib.by_path["/music/Fifth Up.wav"].resolved()
    echo = Mixer(library_override=lib).plan(parse("echo out A").intent, view(lib, b_track=b))
    assert isinstance(echo, TransitionPlan)
    fitted = fit(echo, lambda what: what in {"volume", "fx_depth", "FX", "FX_OFF", "PLAY", "PAUSE"})
    kinds = [s.kind for s in fitted.steps]
    assert "FX" in kinds and "FX_OFF" in kinds
    assert {e.param for e in fitted.envelopes} == {"fx_depth", "volume"}
    assert any("filter" in n and "left out" in n for n in fitted.notes)
    assert fit(echo, lambda what: True) is echo


def test_transition_plans_round_trip_as_json() -> None:
    plan = plan_for()
    import json

    again = TransitionPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


# -- confirmations belong to whoever was asked -----------------------------------------------------------------
def test_confirm_by_id_and_a_bare_yes_never_answers_the_planner() -> None:
    _, _, sched = scheduler()
    mine = Intent(K.TEMPO, args={"bpm": 130.0}, source=Source.PLANNER)
    assert sched.submit(mine).verdict is Verdict.AWAITING_CONFIRM
    assert sched.submit(Intent(K.CONFIRM, source=Source.VOICE)).verdict is Verdict.REFUSED
    theirs = Intent(K.TEMPO, args={"bpm": 110.0}, source=Source.VOICE)
    sched.submit(theirs)
    yes = sched.submit(Intent(K.CONFIRM, source=Source.VOICE))
    assert yes.verdict is Verdict.DONE and "110" in yes.reason
    wrong = sched.submit(Intent(K.CONFIRM, args={"id": "nobody"}, source=Source.PLANNER))
    assert wrong.verdict is Verdict.REFUSED
    own = sched.submit(Intent(K.CONFIRM, args={"id": mine.id}, source=Source.PLANNER))
    assert own.verdict is Verdict.DONE and "130" in own.reason


# -- the channel strip ------------------------------------------------------------------------------------------
def test_eq_fader_and_crossfader_words_become_envelopes_on_their_grid() -> None:
    _clock, _, sched = scheduler(now_beat=10.2)
    kill = sched.submit(parse("kill the bass on A").intent)
    (env,) = [a.envelope for a in kill.actions]
    assert env.param == "eq_low" and kill.beat == 11.0 and env.points[-1].value == 0.0
    half = sched.submit(parse("mids to half on B").intent)
    assert half.actions[0].envelope.points[-1].value == 0.25  # half way from kill to flat
    flat = sched.submit(parse("reset the eq on A").intent)
    assert {a.envelope.param for a in flat.actions} == {"eq_low", "eq_mid", "eq_high"}
    fader = sched.submit(parse("fader down on B").intent)
    assert fader.actions[0].envelope.param == "volume" and fader.actions[0].envelope.points[-1].value == 0.0
    xf = sched.submit(parse("crossfade to B over 8 bars").intent)
    e = xf.actions[0].envelope
    assert xf.beat == 12.0 and e.start == 12.0 and e.end == 12.0 + 32 and e.points[-1].value == 1.0
    mid = sched.submit(parse("crossfader to the middle").intent)
    assert mid.actions[0].envelope.points[-1].value == 0.5 and len(mid.actions[0].envelope.points) == 1



@pytest.mark.parametrize(("bars", "start"), [(0, 32.0), (4, 1e18)])
def test_the_phrase_line_fit_never_divides_by_nothing(bars: int, start: float) -> None:
    """A template of no length, or a start so far out that a bar is below a float's step there, fits no
    phrase line instead of raising inside a decision (ZeroDivisionError, 'math domain error')."""
    tpl = Template("odd", "odd", "no length", bars, "phrase", ())
    lines = [start, start + 1024.0, start + 2048.0]
    grid = Grid(lines=(0.0, 32.0, 64.0, 96.0), end=None, known=True)
    stopped = SimpleNamespace(playing=False, anchor=None)
    placed = Mixer._place(tpl, None, lines, grid, None, grid, stopped, SimpleNamespace(quantum=4.0))
    assert placed == (start, bars, "")
