"""The safety scheduler: unit rules, then properties over any sequence of intents (hypothesis).

The property tests run the real scheduler → router → dispatcher → midi-monitor rendering chain on a
manual clock, pumping the dispatcher as virtual time passes, so "dispatched" means really sent.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot.bridge.actions import ActionKind
from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.host import TargetHost
from copilot.bridge.router import Router
from copilot.bridge.safety import DEFAULT_GRID, RATE_GROUPS, Grid, SafetyConfig
from copilot.bridge.scheduler import NullOutbox, SafetyScheduler, Verdict
from copilot.bridge.state import DeckUpdate, HostState
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.plugins import midi_monitor

K = IntentKind


def make(tempo: float = 120.0, **cfg):
    clock = ManualClock(tempo)
    state = HostState()
    outbox = NullOutbox()
    sched = SafetyScheduler(clock, state, outbox, SafetyConfig(**cfg))
    return clock, state, outbox, sched


# -- unit rules ----------------------------------------------------------------------------------------
def test_discrete_kinds_land_on_their_grid_line():
    clock, _, _, sched = make()
    clock.advance(0.3)  # beat 0.6
    loop = sched.submit(Intent(K.LOOP, Deck.A, {"beats": 4}))
    play = sched.submit(Intent(K.PLAY, Deck.B))
    assert loop.verdict is Verdict.SCHEDULED and loop.beat == 1.0  # next beat
    assert play.beat == 4.0  # next bar
    assert loop.actions[0].time == pytest.approx(clock.time_at_beat(1.0))


def test_intent_just_after_a_beat_still_takes_it_within_the_phase_window():
    clock, _, _, sched = make(phase_window=1 / 16)
    clock.advance_to_beat(3.04)  # 0.04 beats late for beat 3
    assert sched.submit(Intent(K.CUE, Deck.A)).beat == 3.0
    clock.advance_to_beat(5.2)  # too late for beat 5
    assert sched.submit(Intent(K.SYNC, Deck.A)).beat == 6.0


def test_drop_in_n_bars_counts_this_bar_as_one():
    clock, _, _, sched = make()
    clock.advance_to_beat(5.0)  # bar 2, beat 2
    drop = sched.submit(Intent(K.DROP, args={"bars": 2}))
    assert drop.beat == 12.0  # bar 4 downbeat: bar 2 start (4) + 2 bars
    kinds = {a.kind for a in drop.actions}
    assert ActionKind.DROP in kinds and ActionKind.ENVELOPE in kinds
    assert all(a.beat == 12.0 for a in drop.actions)


def test_load_onto_a_playing_deck_is_refused_with_a_reason_and_hint():
    _clock, state, outbox, sched = make()
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True}))
    d = sched.submit(Intent(K.LOAD, Deck.A, {"query": "dubby 118"}))
    assert d.verdict is Verdict.REFUSED
    assert "deck A is playing" in d.reason and "deck B" in d.reason
    assert outbox.dispatched == []


def test_load_onto_a_deck_with_a_queued_play_is_refused():
    _clock, _, _, sched = make()
    assert sched.submit(Intent(K.PLAY, Deck.A)).verdict is Verdict.SCHEDULED  # bar 2
    assert sched.submit(Intent(K.LOAD, Deck.A, {"query": "x"})).verdict is Verdict.REFUSED


def test_load_without_a_deck_goes_to_the_idle_deck():
    _, state, _, sched = make()
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True}))
    d = sched.submit(Intent(K.LOAD, None, {"query": "x"}))
    assert d.verdict is Verdict.SCHEDULED and d.actions[0].deck is Deck.B


def test_a_looked_up_track_rides_on_the_load_even_across_a_confirm():
    _, state, _, sched = make(decks=4)
    track = {"path": "/music/dubby.flac", "title": "Dubby", "bpm": 118.0}
    d = sched.submit(Intent(K.LOAD, Deck.D, {"query": "dubby"}), resolved=track)
    assert d.actions[0].params == {"query": "dubby", "resolved": track, "title": "Dubby"}
    for deck in (Deck.A, Deck.B):
        state.apply_feedback(DeckUpdate(deck, {"playing": True}))
    assert sched.submit(Intent(K.LOAD, Deck.C, {"query": "dubby"}), resolved=track).verdict is Verdict.AWAITING_CONFIRM
    yes = sched.submit(Intent(K.CONFIRM))
    assert yes.verdict is Verdict.DONE and yes.actions[0].params["resolved"] is track
    assert SafetyConfig.from_dict({"control_lead": 0.004}).move_lead == 0.004  # the old setting's name still works


def test_load_while_both_decks_play_waits_for_confirm_and_expires():
    clock, state, outbox, sched = make(decks=4, confirm_window=2.0)
    for deck in (Deck.A, Deck.B):
        state.apply_feedback(DeckUpdate(deck, {"playing": True}))
    d = sched.submit(Intent(K.LOAD, Deck.C, {"query": "x"}))
    assert d.verdict is Verdict.AWAITING_CONFIRM and outbox.dispatched == []
    clock.advance(2.5)
    expired = sched.expire()
    assert len(expired) == 1 and "not confirmed" in expired[0].reason
    assert sched.submit(Intent(K.CONFIRM)).verdict is Verdict.REFUSED  # nothing left to confirm


def test_confirm_schedules_the_risky_action_and_cancel_withdraws_it():
    _clock, state, outbox, sched = make()
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True}))
    ask = sched.submit(Intent(K.PAUSE, Deck.A))
    assert ask.verdict is Verdict.AWAITING_CONFIRM and "nothing else is playing" in ask.reason
    yes = sched.submit(Intent(K.CONFIRM))
    assert yes.verdict is Verdict.DONE and yes.actions[0].kind is ActionKind.PAUSE
    # deck A is now stopping, so a second pause is not risky any more
    assert sched.submit(Intent(K.PAUSE, Deck.A)).verdict is Verdict.SCHEDULED
    assert sched.submit(Intent(K.TEMPO, args={"bpm": 150})).verdict is Verdict.AWAITING_CONFIRM
    no = sched.submit(Intent(K.CANCEL))
    assert no.verdict is Verdict.DONE and "cancelled tempo to 150 BPM" in no.reason
    assert not [a for a in outbox.dispatched if a.kind is ActionKind.TEMPO]


def test_cancel_without_pending_withdraws_the_last_scheduled_intent():
    _clock, _, outbox, sched = make()
    drop = sched.submit(Intent(K.DROP, args={"bars": 4}))
    no = sched.submit(Intent(K.CANCEL))
    assert no.verdict is Verdict.DONE and "withdrew drop" in no.reason
    ids, _after = outbox.withdrawn[-1]
    assert set(ids) == {a.id for a in drop.actions}


def test_tempo_jump_beyond_the_cap_needs_confirmation_small_ones_do_not():
    _, _, _, sched = make(tempo_jump_cap=3.0)
    small = sched.submit(Intent(K.TEMPO, args={"delta_bpm": 2}))
    assert small.verdict is Verdict.SCHEDULED and small.actions[0].params["bpm"] == 122
    assert sched.submit(Intent(K.TEMPO, args={"bpm": 140})).verdict is Verdict.AWAITING_CONFIRM


def test_rate_limit_refuses_a_second_loop_change_in_the_same_beat():
    _clock, _, _, sched = make()
    assert sched.submit(Intent(K.LOOP, Deck.A, {"beats": 4})).verdict is Verdict.SCHEDULED
    second = sched.submit(Intent(K.EXIT_LOOP, Deck.A))
    assert second.verdict is Verdict.REFUSED and "limited to one per 1 beat" in second.reason
    assert sched.submit(Intent(K.LOOP, Deck.B, {"beats": 4})).verdict is Verdict.SCHEDULED  # other deck


def test_low_confidence_is_refused_and_nothing_sent():
    _, _, outbox, sched = make(min_confidence=0.6)
    d = sched.submit(Intent(K.PLAY, Deck.A, source=Source.VOICE, confidence=0.4, text="play a"))
    assert d.verdict is Verdict.REFUSED and "not sure" in d.reason and outbox.dispatched == []


def test_panic_is_immediate_and_resets_fx_and_filters():
    _, _, outbox, sched = make()
    sched.submit(Intent(K.FILTER, Deck.A, {"direction": "down", "amount": 1.0}))
    d = sched.submit(Intent(K.PANIC))
    assert d.verdict is Verdict.DONE and outbox.panics[0].beat is None
    neutral = outbox.panics[0].params["neutral"]
    assert neutral["filter"] == 0.5 and neutral["fx_depth"] == 0.0 and "crossfader" not in neutral


def test_control_is_capped_and_slew_limited():
    clock, _, _outbox, sched = make()
    first = sched.move("trim", 1.0, Deck.A)
    assert first.params["value"] == pytest.approx(0.75)  # hard cap on gain
    clock.advance(0.05)  # 0.1 beat at 120 BPM
    nxt = sched.move("trim", 0.0, Deck.A)
    assert nxt.params["value"] == pytest.approx(0.75 - 0.5 * 0.1, abs=1e-6)  # max_slope 0.5 / beat
    assert sched.move("filter", float("nan"), Deck.A).params["value"] == 0.5  # NaN → neutral


def test_build_ends_in_a_drop_and_an_early_drop_withdraws_the_rest_of_the_build():
    clock, state, outbox, sched = make()
    clock.advance_to_beat(1.5)
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True}))
    build = sched.submit(Intent(K.BUILD, args={"bars": 8}))
    envelopes = [a for a in build.actions if a.kind is ActionKind.ENVELOPE and a.envelope.end > a.beat]
    assert {a.envelope.param for a in envelopes} == {"filter", "fx_send"}
    assert any(a.kind is ActionKind.DROP and a.beat == 4 + 32 for a in build.actions)
    drop = sched.submit(Intent(K.DROP, args={"bars": 3}))
    ids, after = outbox.withdrawn[-1]
    assert after == drop.beat and {a.id for a in envelopes} <= set(ids)


# -- properties --------------------------------------------------------------------------------------
DECKS = st.sampled_from([Deck.A, Deck.B, None])


@st.composite
def intents(draw):
    kind = draw(st.sampled_from(list(IntentKind)))
    deck = draw(DECKS) if kind in (K.PLAY, K.PAUSE, K.CUE, K.SYNC, K.LOOP, K.EXIT_LOOP, K.LOAD, K.HOTCUE,
                                   K.FX, K.FX_OFF, K.FILTER, K.KEYLOCK, K.KEY, K.EQ, K.FADER) else None
    args = {
        K.LOOP: lambda: {"beats": draw(st.sampled_from([0.25, 0.5, 1, 2, 4, 8, 16]))},
        K.LOAD: lambda: {"query": draw(st.sampled_from(["dubby 118", "acid", "x"]))},
        K.HOTCUE: lambda: {"n": draw(st.integers(1, 8))},
        K.DROP: lambda: draw(st.sampled_from([{}, {"bars": 1}, {"bars": 2}, {"bars": 8}])),
        K.BUILD: lambda: {"bars": draw(st.sampled_from([1, 2, 4]))},
        K.FX: lambda: {"name": "echo", "amount": draw(st.floats(0, 1))},
        K.FX_OFF: lambda: {"name": "echo"},
        K.FILTER: lambda: {"direction": draw(st.sampled_from(["up", "down"])), "amount": draw(st.floats(0, 1))},
        K.TEMPO: lambda: draw(st.sampled_from([{"delta_bpm": 1.0}, {"delta_bpm": -2.0}, {"bpm": 126.0}])),
        K.KEYLOCK: lambda: {"on": draw(st.booleans())},
        K.KEY: lambda: draw(st.sampled_from([{"delta": 1}, {"semitones": -2}, {"match": "A"}])),
        K.EQ: lambda: {"band": draw(st.sampled_from(["low", "mid", "high", "all"])), "level": draw(st.floats(0, 1))},
        K.FADER: lambda: {"level": draw(st.floats(0, 1))},
        K.CROSSFADE: lambda: draw(st.sampled_from([{"to": "B"}, {"to": "A", "bars": 0}, {"position": 0.5, "bars": 2}])),
    }.get(kind, dict)()
    return Intent(kind, deck, args, source=draw(st.sampled_from(list(Source))),
                  confidence=draw(st.sampled_from([1.0, 1.0, 0.9, 0.3])))


steps = st.lists(
    st.tuples(st.floats(0.0, 1.5), intents(), st.one_of(st.none(), st.tuples(st.sampled_from([Deck.A, Deck.B]),
                                                                            st.booleans()))),
    min_size=1, max_size=25,
)


class Chain:
    """scheduler → router → dispatcher → midi-monitor, pumped on a manual clock."""

    def __init__(self, quantum: float = 4.0) -> None:
        self.clock = ManualClock(123.0, quantum)
        self.state = HostState()
        self.host = TargetHost(plugins=[midi_monitor], entry_points=False)
        self.target = self.host.get("midi-monitor")
        self.sent = []  # (Sent, the clock's beat at that moment: tempo may change later)
        self.dispatcher = Dispatcher(
            self.clock, on_sent=lambda s: self.sent.append((s, self.clock.beat_at_time(s.sent))))
        self.router = Router([self.target], self.dispatcher, self.state, self.clock, lambda m: None)
        self.sched = SafetyScheduler(self.clock, self.state, self.router, SafetyConfig())

    def run_until(self, t: float) -> None:
        step = 0.01
        while self.clock.now() < t:
            nxt = min(t, self.clock.now() + step)
            self.dispatcher.pump(nxt)
            self.clock.advance(nxt - self.clock.now())


def grid_of(kind: IntentKind, sched: SafetyScheduler) -> float:
    return sched.grid_beats(DEFAULT_GRID.get(kind, Grid.BEAT))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_no_discrete_action_is_dispatched_outside_its_window(seq):
    chain = Chain()
    delta = chain.sched.config.phase_window
    accepted = {}
    for dt, intent, feedback in seq:
        chain.run_until(chain.clock.now() + dt)
        if feedback:
            chain.state.apply_feedback(DeckUpdate(feedback[0], {"playing": feedback[1]}))
        d = chain.sched.submit(intent)
        for a in d.actions:
            if a.kind not in (ActionKind.ENVELOPE, ActionKind.CONTROL, ActionKind.PANIC):
                accepted[a.id] = (a, intent)
    chain.run_until(chain.clock.now() + 80 * 60 / 123)  # long enough for every queued action
    first_send = {}
    for s, beat in chain.sent:
        if s.sink == "midi-monitor" and s.action_id in accepted and s.action_id not in first_send:
            first_send[s.action_id] = beat
    for action_id, (action, _intent) in accepted.items():
        q = chain.clock.quantum
        grid = q if action.kind is ActionKind.DROP else grid_of(IntentKind(action.kind.value), chain.sched)
        assert math.isclose(action.beat / grid, round(action.beat / grid), abs_tol=1e-9), (intent, action.beat)
        sent_beat = first_send.get(action_id)
        if sent_beat is None:
            continue  # withdrawn (CANCEL, PANIC, an early drop): never sent, so never outside
        assert -1e-6 <= sent_beat - action.beat <= delta + 1e-6, (intent, action.beat, sent_beat)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_no_load_ever_lands_on_a_playing_deck(seq):
    """Truth = the host's feedback and what was actually sent, in time order; every LOAD sent must find
    its deck stopped at that moment."""
    chain = Chain()
    kinds: dict[str, tuple[ActionKind, Deck]] = {}
    events: list[tuple[float, int, str, object]] = []  # (time, order, what, detail)
    for dt, intent, feedback in seq:
        chain.run_until(chain.clock.now() + dt)
        if feedback:
            chain.state.apply_feedback(DeckUpdate(feedback[0], {"playing": feedback[1]}))
            events.append((chain.clock.now(), len(events), "feedback", feedback))
        for a in chain.sched.submit(intent).actions:
            if a.kind in (ActionKind.PLAY, ActionKind.PAUSE, ActionKind.CUE, ActionKind.LOAD):
                kinds[a.id] = (a.kind, a.deck)
    chain.run_until(chain.clock.now() + 80 * 60 / 123)
    first = {}
    for s, _ in chain.sent:
        if s.sink == "midi-monitor" and s.action_id in kinds and s.action_id not in first:
            first[s.action_id] = s
            events.append((s.sent, len(events), "sent", s.action_id))
    playing = {Deck.A: False, Deck.B: False}
    for _, _, what, detail in sorted(events, key=lambda e: (e[0], e[1])):
        if what == "feedback":
            playing[detail[0]] = detail[1]
            continue
        kind, deck = kinds[detail]
        if kind is ActionKind.LOAD:
            assert not playing[deck], f"LOAD sent to deck {deck} while it played"
        else:
            playing[deck] = kind is ActionKind.PLAY


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.floats(0.0, 3.0))
def test_panic_always_wins(seq, panic_after):
    chain = Chain()
    before_panic = set()
    for dt, intent, _ in seq:
        chain.run_until(chain.clock.now() + dt)
        before_panic |= {a.id for a in chain.sched.submit(intent).actions}
    chain.run_until(chain.clock.now() + panic_after)
    panic = chain.sched.submit(Intent(K.PANIC, source=Source.PAD))
    assert panic.verdict is Verdict.DONE
    n = len(chain.sent)
    chain.run_until(chain.clock.now() + 60.0)
    after = chain.sent[n:]
    assert any(s.action_id == panic.actions[0].id for s, _ in after)  # the panic itself went out
    assert not [s for s, _ in after if s.action_id in before_panic]  # nothing decided before it did


@settings(max_examples=300, deadline=None)
@given(steps, st.floats(0.5, 4.0))
def test_rate_limits_hold_for_any_sequence(seq, interval):
    clock, state, _outbox, sched = make(123.0, rate_limits={"loop": interval, "fx": interval})
    groups = {}
    for dt, intent, feedback in seq:
        clock.advance(dt)
        if feedback:
            state.apply_feedback(DeckUpdate(feedback[0], {"playing": feedback[1]}))
        d = sched.submit(intent)
        if d.verdict is Verdict.SCHEDULED and intent.kind in RATE_GROUPS:
            groups.setdefault((RATE_GROUPS[intent.kind], d.actions[0].deck), []).append(d.beat)
    for beats in groups.values():
        beats.sort()
        assert all(b - a >= interval - 1e-9 for a, b in itertools.pairwise(beats)), beats


def test_a_load_is_withdrawn_at_send_time_if_the_host_started_the_deck_meanwhile():
    chain = Chain()
    said = []
    chain.router.report = said.append
    chain.clock.advance_to_beat(1.5)
    d = chain.sched.submit(Intent(K.LOAD, Deck.B, {"query": "dubby 118"}))
    assert d.verdict is Verdict.SCHEDULED and d.beat == 2.0
    chain.state.apply_feedback(DeckUpdate(Deck.B, {"playing": True}))  # the DJ pressed play in the host
    chain.run_until(chain.clock.time_at_beat(3.0))
    assert not [s for s, _ in chain.sent if s.action_id == d.actions[0].id]
    assert said == ["✗ load 'dubby 118' to deck B withdrawn: the deck started playing"]
    assert chain.state.deck(Deck.B).loaded is None  # our record did not pretend it loaded
