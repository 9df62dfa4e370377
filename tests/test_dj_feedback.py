"""Host feedback decoded through the tables: the bytes each host's file says it sends back become deck
state; anything else (garbage, other controls, half messages) is ignored without a fuss."""

from __future__ import annotations

import pytest

from copilot.bridge.state import DeckUpdate, HostState, Truth
from copilot.intents.schema import Deck
from copilot.plugins.mixxx import MixxxTarget
from copilot.plugins.serato import SeratoTarget
from copilot.tests.fixtures_dj import SeratoHost


def test_serato_outputs_become_deck_state() -> None:
    target = SeratoTarget({})
    host = SeratoHost(target.mapping_files()[0].content)
    state = HostState()

    def feed(data: bytes) -> list[DeckUpdate]:
        updates = target.on_feedback(data)
        for u in updates:
            state.apply_feedback(u)
        return updates

    assert feed(host.output("play", "Default", 1, 0, True)) == [DeckUpdate(Deck.B, {"playing": True})]
    assert feed(host.output("auto_loop_enable", "Default", 0, 0, True)) == [DeckUpdate(Deck.A, {"loop": True})]
    assert feed(host.output("load_track_feedback", "Default", 3, 0, True)) == [DeckUpdate(Deck.D, {"loaded": True})]
    feed(host.output("cue_point_set", "Default", 0, 4, True))
    feed(host.output("cue_point_set", "Default", 0, 6, True))
    feed(host.output("cue_point_set", "Default", 0, 4, False))
    assert state.deck(Deck.A).hotcues == {7} and state.deck(Deck.A).truth is Truth.HOST
    # An FX slot's light is remembered by the target (it decides Serato's FX toggles), not deck state.
    assert feed(host.output("effect_level_1_slot_enable", "DJ Effects", 1, 3, True)) == []
    assert target.live[("fx", 1, 3)] is True
    # Note Off, and Note On velocity 0, both mean off.
    assert feed(bytes((0x81, 0x10, 0x40))) == [DeckUpdate(Deck.B, {"playing": False})]
    assert not state.deck(Deck.B).playing


@pytest.mark.parametrize("garbage", [b"", b"\x90", b"\x90\x10", b"\xf0\x7e\x00\xf7", b"\xf8", b"\x90\x10\x7f\x00",
                                     b"\x9f\x10\x7f", b"\xb0\x07\x40", b"\xe0\x00\x40", b"\x90\x7e\x7f", "text", None])
def test_garbage_is_ignored(garbage: object) -> None:
    for target in (SeratoTarget({}), MixxxTarget({})):
        assert target.on_feedback(garbage) == []  # type: ignore[arg-type]
    assert target.feedback_count == 0


def test_mixxx_outputs_become_deck_state() -> None:
    target = MixxxTarget({})
    assert target.on_feedback(bytes((0x92, 0x10, 0x7F))) == [DeckUpdate(Deck.C, {"playing": True})]
    assert target.on_feedback(bytes((0x90, 0x2F, 0x00))) == [DeckUpdate(Deck.A, {"loop": False})]
    assert target.on_feedback(bytes((0x91, 0x30, 0x7F))) == [DeckUpdate(Deck.B, {"loaded": True})]
    assert target.on_feedback(bytes((0x93, 0x47, 0x7F))) == [DeckUpdate(Deck.D, {"hotcue_set": (8, True)})]
    assert target.on_feedback(bytes((0x90, 0x12, 0x7F))) == []  # cue has no output: not feedback
