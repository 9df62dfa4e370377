"""Property: any text at all gives a valid intent or none — never an exception, never a bad intent."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.intents.commands import VOCABULARY
from copilot.intents.lexicon import DECK_WORDS, FX_NAMES, NEAR_MISSES
from copilot.intents.parser import parse
from copilot.intents.schema import Intent, Source

WORDS = sorted({w for phrase in VOCABULARY for w in phrase.lower().split()} | set(NEAR_MISSES) | set(DECK_WORDS)
               | set(FX_NAMES) | {"one", "twenty", "hundred", "and", "half", "percent", "%", "+", "-", "1/4",
                                  "to", "on", "in", "bars", "nan", "inf", "1e309", "-0", "9" * 30, ".", ","})
command_like = st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join)


def _check(text: str) -> None:
    result = parse(text, Source.VOICE, aliases={"wobble": "filter down", "x": "loop 4"})
    assert 0.0 <= result.confidence <= 1.0
    json.dumps(result.to_dict())  # always printable as JSON
    if result.intent is not None:
        # a valid intent survives its own round trip through the schema
        again = Intent.from_dict(result.intent.to_dict())
        assert again.kind is result.intent.kind and dict(again.args) == dict(result.intent.args)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_an_intent_or_none(text: str) -> None:
    _check(text)


@settings(max_examples=250, deadline=None)
@given(command_like)
def test_command_like_word_salad_gives_an_intent_or_none(text: str) -> None:
    _check(text)


def test_non_strings_are_not_commands() -> None:
    for value in (None, 42, b"loop 4", ["play"]):
        result = parse(value)  # type: ignore[arg-type]
        assert result.intent is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(command_like, st.text(max_size=60)), min_size=0, max_size=5))
def test_any_readings_give_valid_sentences_to_score_and_a_bounded_decision(readings: list[str]) -> None:
    from copilot.voice.constrained import MAX_CANDIDATES, decide, propose

    found = propose(readings, aliases={"wobble": "filter down"}, titles=["Sunrise", "Dubby 118"])
    assert len(found) <= MAX_CANDIDATES and len({c.text for c in found}) == len(found)
    for cand in found:
        assert cand.text and cand.text.endswith(".") and "*" not in cand.text
        assert Intent.from_dict(cand.intent.to_dict()).kind is cand.intent.kind
    decision = decide(found, [(-3.0 - i, 6) for i in range(len(found))])
    assert 0.0 <= decision.confidence <= 1.0 and (decision.intent is None) == (not found)
