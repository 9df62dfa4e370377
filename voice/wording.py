"""A command alignment back into words, the way Whisper would write the sentence.

`constrained` scores whole sentences against the audio, so a proposal must be spelled the way the
model would write it: the grammar's own words where the heard word was a near-miss ("neck" →
"deck"), the reading's style for numbers (digits if Whisper used digits, "one twenty four" or "one
hundred and twenty four" as it did), "deck" before a deck letter, fillers kept, stray words
dropped, a capital and a full stop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from copilot.intents.commands import SLOTS
from copilot.intents.fuzzy import word_distance
from copilot.intents.lexicon import FILLERS
from copilot.intents.numbers import fmt
from copilot.intents.schema import Deck

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_FRACTION_WORDS = {0.5: "half", 0.25: "a quarter", 0.125: "an eighth", 0.0625: "a sixteenth",
                   0.03125: "a thirty second"}
_WORD_FORMS = {"hotcue": "hot cue", "fx": "effects", "bpm": "BPM"}  # grammar tokens → how they are said
_DECK_NUMBERS = {Deck.A: "one", Deck.B: "two", Deck.C: "three", Deck.D: "four"}
# Slots whose values are not words (an EQ band, a crossfader side): how each value is said
_SAID = {"band": {"low": "bass", "mid": "mids", "high": "highs", "all": "EQ"},
         "side": {0.5: "middle", 0.0: "left", 1.0: "right"}, "onoff": {True: "on", False: "off"}}
DECK_SLOTS = ("deck", "ref", "src")  # slots that hold a deck
_NUMBER_DECK_WORDS = frozenset(("1", "2", "3", "4", "one", "two", "three", "four", "won", "to", "too", "for",
                                "fore"))


def say_number(value: float, hundreds: bool = False) -> str:
    """4 → 'four', 32 → 'thirty two', 124 → 'one twenty four' (DJ style) or 'one hundred and twenty four'."""
    if value in _FRACTION_WORDS:
        return _FRACTION_WORDS[value]
    if value != int(value) or value < 0:
        whole, _, frac = fmt(value).partition(".")
        return f"{say_number(float(whole))} point {' '.join(_UNITS[int(d)] for d in frac)}"
    n = int(value)
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        tens, units = divmod(n, 10)
        return _TENS[tens] + (f" {_UNITS[units]}" if units else "")
    if n < 1000:
        h, rest = divmod(n, 100)
        if rest == 0:
            return f"{_UNITS[h]} hundred"
        if hundreds or rest < 10:
            return f"{_UNITS[h]} hundred and {say_number(rest)}"
        return f"{_UNITS[h]} {say_number(rest)}"
    return fmt(value)


@dataclass(frozen=True)
class Style:
    """How Whisper wrote this reading: digits or words, '%' or 'percent', 'hundred and'."""

    digits: bool = False
    percent_sign: bool = False
    hundreds: bool = False

    @staticmethod
    def of(raw: str) -> Style:
        low = raw.lower()
        return Style(bool(re.search(r"\d", raw)), "%" in raw, "hundred" in low)

    def number(self, value: float) -> str:
        if self.digits:
            if value in (0.5, 0.25):
                return _FRACTION_WORDS[value]  # Whisper writes "half", not "0.5"
            return fmt(value)
        return say_number(value, self.hundreds)


def render(pieces: Sequence[tuple[Any, ...]], values: Mapping[int, Any], style: Style) -> str:
    """Pieces of an alignment (with slot values overridden by index) → 'Loop four on deck B.'."""
    words: list[str] = []
    skip_percent = False
    for n, piece in enumerate(pieces):
        tag = piece[0]
        if tag == "x":
            if piece[1] in FILLERS:
                words.append(piece[1])  # "please", "uh": part of the command language
            # any other stray word is not: the sentence is scored without it
        elif tag == "w":
            word, heard = piece[1], piece[2]
            if skip_percent and word == "percent":
                skip_percent = False
                continue
            if heard is not None and heard != word and word_distance(heard, word) == 0.0:
                words.append(heard)  # 'effects' for fx, 'yeah' for yes: Whisper's own equivalent
            else:
                words.append(_WORD_FORMS.get(word, word))
        else:  # slot
            name, value, heard = piece[1], values.get(n, piece[2]), piece[3]
            if value is None:
                return ""
            said, skip_percent = _say_slot(name, value, heard, style)
            if name in DECK_SLOTS and (not words or words[-1] != "deck"):
                while words and words[-1] in ("the", "that", "a"):
                    words.pop()  # "play that key" → "play deck A", the way decks are said
                words.append("deck")
            words.append(said)
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:] + "." if text else ""


def _say_slot(name: str, value: Any, heard: tuple[str, ...], style: Style) -> tuple[str, bool]:
    """A slot value in words the way this reading would say it; True if it carries its own '%'."""
    if name in DECK_SLOTS:
        by_number = bool(heard) and heard[0] in _NUMBER_DECK_WORDS
        if by_number:
            return (str(Deck(value).index + 1) if style.digits else _DECK_NUMBERS[Deck(value)]), False
        return Deck(value).value, False
    if name in ("beats", "cue", "n", "delta", "slowdelta", "bpm", "lvl", "semis"):
        return style.number(float(value)), False
    if name == "amount":
        if style.digits and style.percent_sign:
            return f"{fmt(float(value))}%", True
        return style.number(float(value)), False
    if name == "fx":
        return ("filter effect" if value == "filter fx" else str(value)), False
    if name == "sign":
        return ("plus" if value > 0 else "minus"), False
    if name in _SAID or name == "tpl":
        if heard and any(end == len(heard) and v == value for end, _, v in SLOTS[name](heard, 0)):
            return " ".join(heard), False  # the words Whisper heard for this very value
        return (_SAID[name].get(value, str(value)) if name in _SAID else str(value).replace("_", " ")), False
    return str(value), False
