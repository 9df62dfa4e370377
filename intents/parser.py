"""Text → intent: the command grammar shared by scripts, OSC text and (after ASR) the voice.

    loop 4 on deck A · four beat loop · exit loop · play B · pause deck two · cue A · sync B
    hot cue 3 on A · load dubby 118 to deck B · drop · drop in 8 · eight bar build
    echo 50 percent · reverb off · fx off · filter down · filter up 30 percent
    tempo plus 2 · tempo minus two · tempo 124 · panic · yes · cancel
    key lock on A · key lock off B · key B up one · match key to A

The sentence is normalised (numbers to digits, symbols to words), the performer's aliases are
applied, and then it is aligned against every template in `commands.TABLE` with the forgiving
matcher in `grammar`: Whisper's near-misses ("loop four on neck A", "lube 4") still match, at a
cost. The cheapest reading becomes the intent; its cost becomes the confidence (1.0 for an exact
match). Below `ACCEPT` — or no reading at all — there is no intent and nothing is sent.

`parse` never raises: anything that is not a command gives `ParseResult(intent=None, reason=…)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .commands import COMMANDS, QUERY_WORD_COST, SLOTS, Command
from .grammar import WILDCARD, Match, align, could_match, could_match_present, present_words
from .lexicon import FX_NAMES
from .numbers import spell_symbols, words_to_numbers
from .schema import Intent, IntentError, IntentKind, Source

__all__ = ["ACCEPT", "FX_NAMES", "ParseResult", "apply_aliases", "normalise", "parse", "snap_title",
           "words_to_numbers"]

ACCEPT = 0.5  # below this confidence a reading is not a command (the scheduler's own floor is the same)
COST_SCALE = 1.2  # confidence = exp(-COST_SCALE · cost): one near-miss ≈ 0.7–0.85, one stray word ≈ 0.3
AMBIGUITY_MARGIN = 0.1  # a different reading this close to the best one halves the certainty left
MAX_WORDS = 16  # longer than this is talk, not a command
TITLE_SNAP = 80.0  # rapidfuzz score (0..100) at which a LOAD query becomes the known title it resembles

_JOINS = [
    (r"\bhot\s*(?:cue|queue|q|kew)\b", "hotcue"),
    (r"\bbit\s*crusher\b", "bitcrusher"),
    (r"\bf\s*x\b|\bfx's\b", "fx"),
    (r"\bb\s*p\s*m\b|\bbpms\b", "bpm"),
    (r"\bun\s*loop\b", "unloop"),
    (r"\bsync\s*up\b", "sync up"),
    (r"\bcross\s+fad(e|er)\b", r"crossfad\1"),  # Whisper writes "Cross Fader" for the crossfader
]


@dataclass(frozen=True)
class ParseResult:
    intent: Intent | None
    confidence: float
    reason: str
    text: str
    heard: str = ""  # the normalised words the grammar saw
    cost: float = 0.0  # alignment cost of the best reading (0 = exact)

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "intent": None if self.intent is None else {
                "kind": self.intent.kind.value,
                "deck": self.intent.deck.value if self.intent.deck else None,
                "args": dict(self.intent.args),
            },
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
        }


def normalise(text: str) -> str:
    """Lower case, symbols as words, numbers as digits, punctuation gone: 'Loop Four, Deck A.' → 'loop 4 deck a'."""
    text = spell_symbols(text.lower())
    text = re.sub(r"(?<=\w)['’](?=\w)", "", text)  # let's → lets, it's → its
    text = re.sub(r"[-_–—]", " ", text)
    text = re.sub(r"[^\w\s./]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # sentence dots, not decimal points
    text = re.sub(r"(?<!\d)/|/(?!\d)", " ", text)
    text = " ".join(text.split())
    for pattern, joined in _JOINS:
        text = re.sub(pattern, joined, text)
    return " ".join(words_to_numbers(text).split())


def apply_aliases(said: str, aliases: Mapping[str, str] | None) -> str:
    """The performer's aliases applied to normalised words: 'big drop' → 'drop in 8' (longest alias first)."""
    if not aliases:
        return said
    # longest first, so "big drop" wins over "drop"
    for alias, meaning in sorted(aliases.items(), key=lambda kv: -len(str(kv[0]))):
        alias_words = normalise(str(alias))
        if alias_words:
            said = re.sub(rf"(?<!\S){re.escape(alias_words)}(?!\S)", normalise(str(meaning)), said)
    return said


@dataclass(frozen=True)
class _Reading:
    command: Command
    match: Match


# The bounded first pass: most sentences (scripts, pads, phones, a clear voice) read within this cost,
# and then every rival that could matter (within AMBIGUITY_MARGIN of the best) is found too.
FAST_LIMIT = 0.25


ANCHOR_WORDS = frozenset(w for command in COMMANDS for clause in command.anchors for w in clause)


def _readings(tokens: Sequence[str], limit: float = math.inf) -> list[_Reading]:
    memo: dict = {}
    found = []
    present = present_words(ANCHOR_WORDS, tokens) if WILDCARD not in tokens else None
    for command in COMMANDS:
        if present is not None:
            if not could_match_present(command.anchors, present):
                continue
        elif not could_match(command.anchors, tokens):
            continue
        m = align(command.node, tokens, SLOTS, memo, limit)
        if m is not None:
            found.append(_Reading(command, m))
    found.sort(key=lambda r: r.match.cost)  # stable: table order breaks ties
    return found


def _all_readings(tokens: Sequence[str]) -> list[_Reading]:
    """Every reading that can decide the parse: a cheap bounded search first, the full one if needed.

    Costs only add up, so the bounded search finds exactly the readings under its limit; when its best
    plus the ambiguity margin is still under the limit, no reading outside it can change the result.
    """
    fast = _readings(tokens, FAST_LIMIT)
    if fast and fast[0].match.cost + AMBIGUITY_MARGIN <= FAST_LIMIT:
        return [r for r in fast if r.match.cost <= fast[0].match.cost + AMBIGUITY_MARGIN]
    return _readings(tokens)


def snap_title(query: str, titles: Sequence[str]) -> tuple[str, float]:
    """A LOAD query → the library title it most resembles, and the extra cost of that guess."""
    from rapidfuzz import fuzz, process, utils

    best = process.extractOne(query, titles, scorer=fuzz.WRatio, processor=utils.default_process)
    if best is None:
        return query, 0.3
    title, score = best[0], float(best[1])
    if score >= TITLE_SNAP:
        return title, (100.0 - score) / 100.0
    return query, 0.3  # the library knows no such track: say it, but less sure


def _intent(reading: _Reading, source: Source, raw: str, confidence: float,
            titles: Sequence[str] | None) -> tuple[Intent, float]:
    captures = dict(reading.match.captures)
    args = reading.command.args(captures)
    extra = 0.0
    if reading.command.kind is IntentKind.LOAD and titles:
        args["query"], extra = snap_title(args["query"], titles)
    conf = confidence * math.exp(-COST_SCALE * extra)
    intent = Intent(reading.command.kind, deck=captures.get("deck"), args=args, source=source,
                    confidence=round(conf, 4), text=raw)
    return intent, conf


def _same(a: _Reading, b: _Reading) -> bool:
    ca, cb = a.match.captures, b.match.captures
    return a.command.kind is b.command.kind and ca.get("deck") == cb.get("deck") and \
        a.command.args(dict(ca)) == b.command.args(dict(cb))


def parse(
    text: str,
    source: Source = Source.SCRIPT,
    aliases: Mapping[str, str] | None = None,
    *,
    titles: Sequence[str] | None = None,
    threshold: float = ACCEPT,
    prior: float = 1.0,
) -> ParseResult:
    """One command in words → an intent, or None with the reason. Never raises.

    `titles`: the performer's track titles/artists; a LOAD query snaps to the one it resembles.
    `prior`: how much the words themselves can be trusted (the ASR's own certainty, 0..1).
    """
    raw = text if isinstance(text, str) else ""
    try:
        said = apply_aliases(normalise(raw), aliases)
        tokens = said.split()
        if not tokens:
            return ParseResult(None, 0.0, "nothing said", raw, said)
        if len(tokens) > MAX_WORDS:
            return ParseResult(None, 0.0, f"too long for a command ({len(tokens)} words)", raw, said)
        readings = _all_readings(tokens)
        if not readings:
            return ParseResult(None, 0.0, f"not a command: '{said}'", raw, said)
        best = readings[0]
        cost = best.match.cost
        if "query" in best.match.captures:  # the tie-break hair is not doubt
            cost = max(0.0, cost - QUERY_WORD_COST * len(str(best.match.captures["query"]).split()))
        confidence = math.exp(-COST_SCALE * cost) * max(0.0, min(1.0, float(prior)))
        rival = next((r for r in readings[1:] if not _same(r, best)), None)
        if rival is not None and rival.match.cost - cost < AMBIGUITY_MARGIN:
            confidence *= 0.5 + 0.5 * (rival.match.cost - cost) / AMBIGUITY_MARGIN
        if confidence < threshold:
            return ParseResult(None, confidence, f"not sure enough ({confidence:.0%}) that '{said}' is "
                               f"{best.command.kind.value}", raw, said, cost)
        errors = []
        for reading in readings:
            if reading.match.cost > best.match.cost + 1e-9:
                break
            try:
                intent, conf = _intent(reading, source, raw, confidence, titles)
            except IntentError as exc:
                errors.append(str(exc))
                continue
            if conf < threshold:
                return ParseResult(None, conf, f"not sure enough ({conf:.0%}): no track like "
                                   f"'{reading.match.captures.get('query')}'", raw, said, cost)
            how = "matched" if cost == 0 else f"read '{said}' as"
            return ParseResult(intent, conf, f"{how} {intent.kind.value}", raw, said, cost)
        return ParseResult(None, 0.0, errors[0], raw, said, cost)
    except Exception as exc:  # noqa: BLE001 - the show goes on: a bad sentence is never a crash
        return ParseResult(None, 0.0, f"could not read that ({type(exc).__name__})", raw)
