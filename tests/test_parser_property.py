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
