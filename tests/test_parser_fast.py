"""The bounded first pass of the parser gives exactly what the full search gives, only sooner."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.intents import parser
from copilot.intents.lexicon import NEAR_MISSES

WORDS = sorted(
    {"loop", "play", "pause", "stop", "cue", "sync", "load", "hotcue", "drop", "in", "build", "bar", "bars",
     "beat", "echo", "reverb", "delay", "filter", "up", "down", "off", "fx", "tempo", "plus", "minus", "bpm",
     "deck", "on", "to", "a", "b", "c", "d", "one", "two", "four", "eight", "sixteen", "half", "percent",
     "fifty", "panic", "yes", "cancel", "exit", "the", "please", "uh", "dubby", "roller", "118", "4", "8",
     "2", "30", "neck", "check", "lube", "look", "really", "weather", "night"}
    | set(list(NEAR_MISSES)[:40])
)


def both(text: str, monkeypatch) -> tuple[dict, dict]:
    fast = parser.parse(text).to_dict()
    monkeypatch.setattr(parser, "FAST_LIMIT", -1.0)  # no bounded pass: always the full search
    full = parser.parse(text).to_dict()
    monkeypatch.setattr(parser, "FAST_LIMIT", 0.25)
    return fast, full


@pytest.mark.parametrize("text", ["loop 4 on deck A", "lube four on neck a", "play b", "load dubby 118 to deck B",
                                  "echo fifty percent", "the weather is nice", "uh loop uh four", "filter down"])
def test_known_sentences(text, monkeypatch):
    fast, full = both(text, monkeypatch)
    assert fast == full


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=7))
def test_any_sentence_reads_the_same_with_and_without_the_bounded_pass(words):
    from _pytest.monkeypatch import MonkeyPatch

    mp = MonkeyPatch()
    try:
        fast, full = both(" ".join(words), mp)
    finally:
        mp.undo()
    assert fast == full
