"""For every action a DJ target can render, the exact bytes reach one control of the *installed* file,
and that control names the intended host function on the intended deck (expectations written from
the references, not from the table, so a wrong row is caught)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from copilot.bridge.actions import Action, ActionKind, MidiOut, Stream
from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.envelope import Breakpoint, Envelope
from copilot.bridge.host import TargetHost
from copilot.bridge.params import PARAMS
from copilot.bridge.router import Router
from copilot.bridge.state import DeckUpdate, HostState
from copilot.intents.schema import LOOP_BEATS, Deck
from copilot.mappings.install import Manifest, install
from copilot.plugins import midi_monitor, serato
from copilot.plugins.mixxx import MixxxTarget
from copilot.plugins.serato import SeratoTarget
from copilot.tests.fixtures_dj import MixxxHost, SeratoHost

SERATO_PARAMS = {"volume": "upfader", "trim": "track_gain", "eq_low": "deck_eq_lo", "eq_mid": "deck_eq_mid",
                 "eq_high": "deck_eq_hi", "filter": "deck_filter_auto", "fx_depth": "effect_level_1_slot_parameter_1",
                 "master_gain": "master_gain"}
MIXXX_PARAMS = {"volume": ("[Channel{n}]", "volume"), "trim": ("[Channel{n}]", "pregain"),
                "eq_low": ("[EqualizerRack1_[Channel{n}]_Effect1]", "parameter1"),
                "eq_mid": ("[EqualizerRack1_[Channel{n}]_Effect1]", "parameter2"),
                "eq_high": ("[EqualizerRack1_[Channel{n}]_Effect1]", "parameter3"),
                "filter": ("[QuickEffectRack1_[Channel{n}]]", "super1"),
                "fx_depth": ("[EffectRack1_EffectUnit{n}]", "super1"),
                "fx_send": ("[EffectRack1_EffectUnit{n}]", "mix"),
                "crossfader": ("[Master]", "crossfader"), "master_gain": ("[Master]", "gain")}


def act(kind: ActionKind, deck: Deck | None = None, beat: float | None = 8.0, **params: Any) -> Action:
    return Action(kind, deck, beat, params=params)


def flat(items: list[Any]) -> list[Any]:
    """Timed payloads in order, with envelope streams drawn out."""
    out = []
    for item in items:
        out += list(item.items) if isinstance(item, Stream) else [item]
    return out


def wire(items: list[Any]) -> list[bytes]:
    return [item.payload.data for item in flat(items) if isinstance(item.payload, MidiOut)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("installed")
    manifest = Manifest(folder / "manifest.json")
    for target in (SeratoTarget({}), MixxxTarget({})):
        install(target.name, target.mapping_files(), [folder / target.name], manifest=manifest)
    return {"serato": folder / "serato-dj-pro" / "Copilot.xml", "mixxx": folder / "mixxx" / "Copilot.midi.xml"}


# -- Serato ------------------------------------------------------------------------------------------------
def serato_hits(host: SeratoHost, items: list[Any]) -> list[tuple[str, str, int, int, int]]:
    hits = []
    for data in wire(items):
        events = host.handle(data)
        status, number = data[0], data[1]
        assert (status | 0x10 if status & 0xF0 == 0x80 else status, number) in host.clicks, \
            f"{data.hex(' ')} reaches no control in the installed preset"
        assert len(host.clicks[(status, number)]) == 1
        hits += [(e.function.name, e.function.deck_set, e.function.deck_id, e.function.slot_id, e.value)
                 for e in events]
    return hits


@pytest.mark.parametrize("deck", list(Deck))
def test_serato_every_deck_action_reaches_its_function(installed: dict[str, Path], deck: Deck) -> None:
    host = SeratoHost(installed["serato"])
    target = SeratoTarget({})
    state = HostState()
    i = deck.index

    def hits(action: Action) -> list[tuple[str, str, int, int, int]]:
        return serato_hits(host, target.render(action, state))

    assert hits(act(ActionKind.PLAY, deck)) == [("play", "Default", i, 0, 127)]
    target.live[("playing", deck.value)] = True  # the toggle went out; now PAUSE presses it again
    assert hits(act(ActionKind.PAUSE, deck)) == [("play", "Default", i, 0, 127)]
    assert hits(act(ActionKind.CUE, deck)) == [("cue", "Default", i, 0, 127), ("cue", "Default", i, 0, 0)]
    assert hits(act(ActionKind.SYNC, deck)) == [("sync", "Default", i, 0, 127), ("sync", "Default", i, 0, 0)]
    for slot, beats in enumerate(LOOP_BEATS):  # the reference: 0 = 1/32 … 5 = 1 … 10 = 32 beats
        assert hits(act(ActionKind.LOOP, deck, beats=beats)) == [("auto_loop_specific_length", "Default", i, slot, 127)]
    target.live[("loop", deck.value)] = True
    assert hits(act(ActionKind.EXIT_LOOP, deck)) == [("auto_loop_enable", "Default", i, 0, 127)]
    for n in range(1, 9):
        assert hits(act(ActionKind.HOTCUE, deck, n=n))[0] == ("cue_point", "Default", i, n - 1, 127)
    load = hits(act(ActionKind.LOAD, deck, query="x", scroll=-2))
    assert load == [("midi_library_scroll", "Default", 0, 0, 127)] * 2 + [("load_track", "Default", i, 0, 127)]
    for name, slot in (("echo", 1), ("reverb", 2), ("flanger", 3)):
        fx = hits(act(ActionKind.FX, deck, name=name, amount=0.5))
        assert fx == [("effect_level_1_slot_enable", "DJ Effects", i % 2, slot, 127),
                      ("effect_level_1_slot_parameter_1", "DJ Effects", i % 2, slot, 64)]
        target.live[("fx", i % 2, slot)] = True
        assert hits(act(ActionKind.FX_OFF, deck, name=name)) == [("effect_level_1_slot_enable", "DJ Effects",
                                                                  i % 2, slot, 127)]


def test_serato_parameters_reach_their_functions(installed: dict[str, Path]) -> None:
    host = SeratoHost(installed["serato"])
    target = SeratoTarget({})
    caps = target.capabilities()
    assert caps.params == set(SERATO_PARAMS)
    for name, function in SERATO_PARAMS.items():
        decks = list(Deck) if PARAMS[name].per_deck else [None]
        for deck in decks:
            items = target.render(act(ActionKind.CONTROL, deck, param=name, value=0.25), HostState())
            ((fn, _, deck_id, _, value),) = serato_hits(host, items)
            assert fn == function and value == round(0.25 * 127)
            if deck is not None:
                assert deck_id == (deck.index % 2 if name == "fx_depth" else deck.index)
            env = Envelope(name, (Breakpoint(8.0, 0.0), Breakpoint(12.0, 1.0)), deck.value if deck else None)
            stream = serato_hits(host, target.render(Action(ActionKind.ENVELOPE, deck, 8.0, envelope=env,
                                                            params={"param": name}), HostState()))
            assert {h[0] for h in stream} == {function} and [h[4] for h in stream] == sorted(h[4] for h in stream)
            assert stream[-1][4] == round(PARAMS[name].hi * 127)  # the parameter's cap holds on the wire


def test_serato_tempo_moves_the_pitch_fader_of_playing_decks(installed: dict[str, Path]) -> None:
    host = SeratoHost(installed["serato"])
    target = SeratoTarget({})
    state = HostState()
    state.apply_feedback(DeckUpdate(Deck.B, {"playing": True, "bpm": 125.0}))
    ((fn, _, deck_id, _, value),) = serato_hits(host, target.render(act(ActionKind.TEMPO, bpm=130.0), state))
    assert (fn, deck_id) == ("pitch_slider", 1)
    assert value == round((0.5 + (130 / 125 - 1) / 0.08 / 2) * 127)  # +4 % of a ±8 % fader


def test_serato_panic_turns_fx_off_and_neutralises_what_serato_takes(installed: dict[str, Path]) -> None:
    host = SeratoHost(installed["serato"])
    target = SeratoTarget({})
    target.live[("fx", 1, 2)] = True  # unit 2 slot 2 is on
    panic = act(ActionKind.PANIC, None, None, neutral={n: p.neutral for n, p in PARAMS.items() if p.reset_on_panic})
    items = target.render(panic, HostState())
    assert all(item.beat is None for item in items)
    sent = [item for item in items if not hasattr(item.payload, "key") or target._toggle_due(item.payload)]
    hits = serato_hits(host, sent)
    assert ("effect_level_1_slot_enable", "DJ Effects", 1, 2, 127) in hits  # only the slot that was on
    assert [h for h in hits if h[0] == "effect_level_1_slot_enable" and h[4] == 127] == \
        [("effect_level_1_slot_enable", "DJ Effects", 1, 2, 127)]
    filters = [h for h in hits if h[0] == "deck_filter_auto"]
    assert len(filters) == 4 and all(h[4] == 64 for h in filters)


def test_serato_toggles_are_decided_at_send_time() -> None:
    target = SeratoTarget({})
    items = target.render(act(ActionKind.PLAY, Deck.A), HostState())
    press, release = (item.payload for item in items)
    target.live[("playing", "A")] = True  # host feedback arrives first: Serato says deck A plays
    assert not target._toggle_due(press) and not target._toggle_due(release)
    assert target.skipped == 1
    target.live[("playing", "A")] = False
    assert target._toggle_due(press) and target._toggle_due(release)
    assert target.live[("playing", "A")] is True  # our own record until the host says otherwise


def test_serato_cannot_take_the_crossfader_and_says_so() -> None:
    reports: list[str] = []
    host = TargetHost(plugins=[serato, midi_monitor], entry_points=False)
    caps = host.get("serato-dj-pro").capabilities()
    assert not caps.can("crossfader") and caps.can("eq_low") and "eq_low" in caps.unconfirmed
    assert caps.unconfirmed == {"eq_low", "eq_mid", "eq_high", "volume", "filter", "trim"}
    assert caps.feedback and caps.decks == 4
    clock = ManualClock(120.0)
    dispatcher = Dispatcher(clock)
    state = HostState()
    # Alone: refused with a reason, nothing queued.
    router = Router([host.get("serato-dj-pro")], dispatcher, state, clock, reports.append)
    fade = act(ActionKind.CONTROL, None, 4.0, param="crossfader", value=0.2)
    router.dispatch([fade])
    assert dispatcher.pending() == 0
    assert reports == ["serato-dj-pro cannot take crossfader; nothing was sent for it"]
    # With an adornment engine that can: it goes there, and the performer is told.
    router = Router([host.get("serato-dj-pro")], dispatcher, state, clock, reports.append,
                    adornment=host.get("midi-monitor"))
    router.dispatch([fade])
    sent = dispatcher.pump(clock.time_at_beat(5.0))
    assert [s.sink for s in sent] == ["midi-monitor", "midi-monitor"]  # its 14-bit crossfader pair
    assert reports[-1] == "serato-dj-pro cannot take crossfader; the built-in engine plays it instead"


def test_render_reports_instead_of_raising_on_a_bad_action() -> None:
    reports: list[str] = []
    target = SeratoTarget({})
    from copilot.bridge.host import TargetContext

    target.open(TargetContext(report=reports.append))
    assert target.render(act(ActionKind.LOOP, Deck.A, beats=3.0), HostState()) == []
    assert target.render(act(ActionKind.HOTCUE, Deck.A), HostState()) == []
    assert any("no row for LOOP beats=3" in r for r in reports)
    assert any("could not render HOTCUE" in r for r in reports)


# -- Mixxx -------------------------------------------------------------------------------------------------
def mixxx_events(host: MixxxHost, items: list[Any]) -> list[tuple[str, str, float]]:
    out = []
    for data in wire(items):
        assert (data[0], data[1]) in host.bindings, f"{data.hex(' ')} reaches no control in the installed mapping"
        out += [(e.group, e.key, round(e.value, 4)) for e in host.handle(data)]
    return out


@pytest.mark.parametrize("deck", list(Deck))
def test_mixxx_every_deck_action_sets_its_control(installed: dict[str, Path], deck: Deck) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    state = HostState()
    n = deck.index + 1
    ch = f"[Channel{n}]"
    unit = f"[EffectRack1_EffectUnit{n}]"

    def events(action: Action) -> list[tuple[str, str, float]]:
        return mixxx_events(host, target.render(action, state))

    assert events(act(ActionKind.PLAY, deck)) == [(ch, "play", 1.0)]
    assert events(act(ActionKind.PLAY, deck)) == [(ch, "play", 1.0)]  # set, never toggled off
    assert events(act(ActionKind.PAUSE, deck)) == [(ch, "play", 0.0)]
    assert events(act(ActionKind.CUE, deck)) == [(ch, "cue_default", 1.0), (ch, "cue_default", 0.0)]
    assert events(act(ActionKind.SYNC, deck)) == [(ch, "sync_enabled", 1.0)]
    assert events(act(ActionKind.EXIT_LOOP, deck)) == [(ch, "loop_enabled", 0.0)]
    for beats in LOOP_BEATS:
        key = f"beatloop_{beats:g}_activate"
        assert events(act(ActionKind.LOOP, deck, beats=beats)) == [(ch, key, 1.0), (ch, key, 0.0)]
    for k in range(1, 9):
        assert events(act(ActionKind.HOTCUE, deck, n=k))[0] == (ch, f"hotcue_{k}_activate", 1.0)
    assert events(act(ActionKind.LOAD, deck, query="x", scroll=3)) == \
        [("[Library]", "MoveVertical", 1.0)] * 3 + [(ch, "LoadSelectedTrack", 1.0), (ch, "LoadSelectedTrack", 0.0)]
    fx = events(act(ActionKind.FX, deck, name="echo", amount=0.5))
    assert fx[:2] == [(unit, "enabled", 1.0), (unit, f"group_[Channel{n}]_enable", 1.0)]
    assert fx[2][:2] == (unit, "super1") and fx[2][2] == pytest.approx(0.5, abs=0.01)
    assert events(act(ActionKind.FX_OFF, deck, name="all")) == [(unit, f"group_[Channel{n}]_enable", 0.0)]


def test_mixxx_parameters_reach_their_controls_with_their_values(installed: dict[str, Path]) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    assert target.capabilities().params == set(MIXXX_PARAMS)
    for name, (group, key) in MIXXX_PARAMS.items():
        decks = list(Deck) if PARAMS[name].per_deck else [None]
        for deck in decks:
            want_group = group.replace("{n}", str(deck.index + 1)) if deck else group
            for value in (0.0, 0.25, 0.5, 1.0):
                got = mixxx_events(host, target.render(act(ActionKind.CONTROL, deck, param=name, value=value),
                                                       HostState()))
                assert len(got) == 1 and got[0][:2] == (want_group, key), (name, got)
                want = value * 2 - 1 if name == "crossfader" else value
                precision = 1 / 16383 if PARAMS[name].fourteen_bit else 1 / 127
                assert got[0][2] == pytest.approx(want, abs=precision + 1e-4), (name, value)


def test_mixxx_neutral_values_land_exactly_on_mixxx_centre(installed: dict[str, Path]) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    for name in ("filter", "eq_low", "trim", "crossfader"):
        (event,) = mixxx_events(host, target.render(act(ActionKind.CONTROL, Deck.A, param=name, value=0.5),
                                                    HostState()))
        assert event[2] == (0.0 if name == "crossfader" else 0.5)  # exactly: MIDI 64 / 0x2000


def test_mixxx_tempo_sets_rate_for_the_bpm(installed: dict[str, Path]) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    state = HostState()
    state.apply_feedback(DeckUpdate(Deck.A, {"playing": True, "bpm": 120.0}))
    ((group, key, rate),) = mixxx_events(host, target.render(act(ActionKind.TEMPO, bpm=123.0), state))
    assert (group, key) == ("[Channel1]", "rate")
    assert rate == pytest.approx((123 / 120 - 1) / 0.08, abs=2e-4)  # +2.5 % on a ±8 % slider


def test_mixxx_panic_resets_filters_and_fx(installed: dict[str, Path]) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    panic = act(ActionKind.PANIC, None, None, neutral={n: p.neutral for n, p in PARAMS.items() if p.reset_on_panic})
    got = mixxx_events(host, target.render(panic, HostState()))
    for n in range(1, 5):
        assert (f"[QuickEffectRack1_[Channel{n}]]", "super1", 0.5) in got
        assert (f"[EffectRack1_EffectUnit{n}]", "super1", 0.0) in got
        assert (f"[EffectRack1_EffectUnit{n}]", "mix", 0.0) in got
        assert (f"[EffectRack1_EffectUnit{n}]", f"group_[Channel{n}]_enable", 0.0) in got


def test_tempo_uses_the_bpm_of_a_resolved_load(installed: dict[str, Path]) -> None:
    host = MixxxHost(installed["mixxx"])
    target = MixxxTarget({})
    state = HostState()
    load = act(ActionKind.LOAD, Deck.B, query="dubby", resolved={"path": "/x.wav", "bpm": 118.0})
    mixxx_events(host, target.render(load, state))
    state.apply_feedback(DeckUpdate(Deck.B, {"playing": True}))  # the host plays it (no BPM of its own)
    ((group, key, rate),) = mixxx_events(host, target.render(act(ActionKind.TEMPO, bpm=121.54), state))
    assert (group, key) == ("[Channel2]", "rate") and rate == pytest.approx((121.54 / 118 - 1) / 0.08, abs=2e-4)
    reports: list[str] = []
    from copilot.bridge.host import TargetContext

    target.open(TargetContext(report=reports.append))
    target.render(act(ActionKind.LOAD, Deck.B, query="unknown"), state)  # a new track, BPM unknown
    assert target.render(act(ActionKind.TEMPO, bpm=121.0), state) == []
    assert any("track BPM of deck(s) B is unknown" in r for r in reports)


def test_serato_loop_record_follows_the_wire_order_not_the_decision_order() -> None:
    target = SeratoTarget({})
    state = HostState()
    target.live[("loop", "A")] = True  # a loop is on
    exit_first = target.render(act(ActionKind.EXIT_LOOP, Deck.A, beat=5.0), state)
    loop_later = target.render(act(ActionKind.LOOP, Deck.A, beat=6.0, beats=4.0), state)
    exit_again = target.render(act(ActionKind.EXIT_LOOP, Deck.A, beat=7.0), state)
    # Sent in beat order: exit (loop on → pressed), new loop (always pressed), exit (the new loop → pressed).
    for items in (exit_first, loop_later, exit_again):
        down, up = (i.payload for i in items)
        assert target._toggle_due(down) and target._toggle_due(up)
    assert target.skipped == 0 and target.live[("loop", "A")] is False
