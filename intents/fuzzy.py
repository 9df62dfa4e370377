"""How far a heard word is from the word the grammar expects there: 0 = the same, None = not it.

Three views, the cheapest wins: the near-miss table (what Whisper really writes), spelling
(normalised Levenshtein) and sound (metaphone codes with voiced/unvoiced consonants merged, so
"lube" ≈ "loop" and "dec" ≈ "deck"). Short words get no spelling/sound slack: "a" is not "the".
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish
from rapidfuzz.distance import Levenshtein

from .lexicon import NEAR_MISSES

MAX_COST = 0.45  # beyond this a word is not a near-miss of another
LENGTH_SLACK = 0.34  # a near-miss is at most a third longer or shorter than the word
_SOUND_CLASSES = str.maketrans({"B": "P", "D": "T", "G": "K", "V": "F", "Z": "S", "X": "S", "J": "K", "0": "T",
                                "Q": "K", "C": "K"})


# What is remembered is bounded in count and in bytes: only words that could be near-misses of a grammar
# word reach these caches (a few letters either side of its length), so a sender's garbage words — however
# many, however long — are refused by the cheap checks in `word_distance` and never kept.
CACHED_PAIRS = 1 << 14
CACHED_SOUNDS = 1 << 12


@lru_cache(maxsize=CACHED_SOUNDS)
def sound(word: str) -> str:
    """A coarse sound key: metaphone with voiced and unvoiced consonants folded together."""
    letters = "".join(ch for ch in word if ch.isalpha())
    return jellyfish.metaphone(letters).translate(_SOUND_CLASSES) if letters else ""


def word_distance(heard: str, expected: str) -> float | None:
    """Cost of reading `heard` as `expected` (0..MAX_COST), or None when they are different words."""
    if heard == expected:
        return 0.0
    table = NEAR_MISSES.get(heard)
    if table and expected in table:
        return table[expected]
    if len(expected) <= 3 or len(heard) <= 2 or not heard.isalpha():
        return None
    if abs(len(heard) - len(expected)) > LENGTH_SLACK * len(expected):
        return None  # "really" is not "roll", however alike they start
    return _by_spelling_and_sound(heard, expected)


@lru_cache(maxsize=CACHED_PAIRS)
def _by_spelling_and_sound(heard: str, expected: str) -> float | None:
    spelling = Levenshtein.normalized_distance(heard, expected)
    if spelling > 0.6:
        return None  # sounding alike is not enough: "let" is not "load"
    a, b = sound(heard), sound(expected)
    by_sound = Levenshtein.normalized_distance(a, b) if a and b else 1.0
    if a[:1] != b[:1]:
        by_sound += 0.2  # first sounds carry most of a word
    # both views must agree: "let" sounds like "load" (LT) but is spelled nothing like it
    cost = 0.5 * spelling + 0.5 * min(1.0, by_sound) + 0.05
    return round(cost, 3) if cost <= MAX_COST else None
