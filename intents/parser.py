"""Text → intent: the command grammar shared by scripts, OSC text and (after ASR) the voice.

    loop 4 on deck A · four beat loop · exit loop · play B · pause deck two · cue A · sync B
    hot cue 3 on A · load dubby 118 to deck B · drop · drop in 8 · eight bar build
    echo 50 percent · reverb off · fx off · filter down · filter up 30 percent
    tempo plus 2 · tempo minus two · tempo 124 · panic · yes · cancel

`parse` never raises: anything that is not a command gives `ParseResult(intent=None, reason=…)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .schema import Deck, Intent, IntentError, IntentKind, Source

FX_NAMES = ("echo", "delay", "reverb", "flanger", "phaser", "gate", "crush", "bitcrusher", "roll", "filter fx")

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_FRACTIONS = {"half": 0.5, "quarter": 0.25, "eighth": 0.125, "sixteenth": 0.0625}
_DECK_WORDS = {"a": Deck.A, "b": Deck.B, "c": Deck.C, "d": Deck.D, "1": Deck.A, "2": Deck.B, "3": Deck.C,
               "4": Deck.D, "one": Deck.A, "two": Deck.B, "three": Deck.C, "four": Deck.D}


@dataclass(frozen=True)
class ParseResult:
    intent: Intent | None
    confidence: float
    reason: str
    text: str

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


def words_to_numbers(text: str) -> str:
    """'loop thirty two' → 'loop 32'; 'one hundred eighteen' → '118'; 'a half' → '0.5'; '1/4' → '0.25'."""
    tokens = text.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if re.fullmatch(r"\d+/\d+", tok):
            num, den = tok.split("/")
            out.append(_fmt(int(num) / int(den)) if int(den) else tok)
            i += 1
            continue
        if tok in ("a", "one") and i + 1 < len(tokens) and tokens[i + 1] in _FRACTIONS:
            out.append(_fmt(_FRACTIONS[tokens[i + 1]]))
            i += 2
            continue
        if tok in _FRACTIONS:
            out.append(_fmt(_FRACTIONS[tok]))
            i += 1
            continue
        if tok in _UNITS or tok in _TENS or (tok == "hundred" and out and out[-1].isdigit()):
            value, i = _read_number(tokens, i)
            out.append(str(value))
            continue
        out.append(tok)
        i += 1
    return " ".join(out)


def _read_number(tokens: list[str], i: int) -> tuple[int, int]:
    total = 0
    current = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _UNITS:
            current += _UNITS[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok == "hundred":
            current = max(current, 1) * 100
        elif tok == "and" and total + current > 0 and i + 1 < len(tokens) and tokens[i + 1] in (_UNITS | _TENS):
            pass
        else:
            break
        i += 1
    return total + current, i


def _fmt(x: float) -> str:
    return f"{x:g}"


def normalise(text: str) -> str:
    text = text.lower().replace("%", " percent ").replace("-", " ")
    text = re.sub(r"[^\w\s./+]", " ", text)
    text = re.sub(r"(?<=\D)\.|\.(?=\D)|\.$", " ", text)  # sentence dots, not decimal points
    text = re.sub(r"\bhot\s*cue\b", "hotcue", text)
    text = re.sub(r"\bbpm\b", " bpm ", text)
    return " ".join(words_to_numbers(" ".join(text.split())).split())


_DECK = r"(?:(?:on|to|onto|into|for|at)\s+)?(?:(?:the\s+)?deck\s+)?(?P<deck>[abcd1-4])"
_NUM = r"(?P<n>\d+(?:\.\d+)?)"


def _deck_of(m: re.Match[str] | None) -> Deck | None:
    if m is None:
        return None
    raw = m.groupdict().get("deck")
    return _DECK_WORDS.get(raw) if raw else None


# (pattern, kind, builder(match) → args). Order matters: the more specific first.
_RULES: list[tuple[re.Pattern[str], IntentKind, object]] = []


def _rule(pattern: str, kind: IntentKind, args=lambda m: {}) -> None:
    _RULES.append((re.compile(rf"^(?:please\s+)?{pattern}(?:\s+please)?$"), kind, args))


_rule(r"(?:panic|stop everything|kill (?:it|everything))", IntentKind.PANIC)
_rule(r"(?:yes|yeah|yep|confirm|confirmed|do it|go)", IntentKind.CONFIRM)
_rule(r"(?:cancel|no|nope|abort|never ?mind|forget it)", IntentKind.CANCEL)
_rule(rf"(?:exit|release|end|stop|kill) (?:the )?loop(?: {_DECK})?", IntentKind.EXIT_LOOP)
_rule(rf"loop (?:off|out|exit)(?: {_DECK})?", IntentKind.EXIT_LOOP)
_rule(rf"(?:loop|loop of) {_NUM}(?: beats?)?(?: loop)?(?: {_DECK})?", IntentKind.LOOP,
      lambda m: {"beats": float(m["n"])})
_rule(rf"{_NUM} beats? loop(?: {_DECK})?", IntentKind.LOOP, lambda m: {"beats": float(m["n"])})
_rule(rf"hotcue {_NUM}(?: {_DECK})?", IntentKind.HOTCUE, lambda m: {"n": float(m["n"])})
_rule(rf"cue {_NUM}(?: {_DECK})?", IntentKind.HOTCUE, lambda m: {"n": float(m["n"])})
_rule(rf"(?:play|start)(?: {_DECK})?", IntentKind.PLAY)
_rule(rf"(?:pause|stop)(?: {_DECK})?", IntentKind.PAUSE)
_rule(rf"cue(?: {_DECK})?", IntentKind.CUE)
_rule(rf"sync(?: {_DECK})?", IntentKind.SYNC)
_rule(rf"load (?P<query>.+?)(?: {_DECK})?", IntentKind.LOAD, lambda m: {"query": m["query"]})
_rule(rf"drop in {_NUM}(?: bars?)?", IntentKind.DROP, lambda m: {"bars": float(m["n"])})
_rule(r"drop(?: it| now)?", IntentKind.DROP)
_rule(rf"{_NUM} bars? build", IntentKind.BUILD, lambda m: {"bars": float(m["n"])})
_rule(rf"build(?: (?:for|over|in))? {_NUM}(?: bars?)?", IntentKind.BUILD, lambda m: {"bars": float(m["n"])})
_rule(r"build(?: it)?(?: up)?", IntentKind.BUILD, lambda m: {"bars": 8})
_rule(rf"(?:fx|effects?) off(?: {_DECK})?", IntentKind.FX_OFF, lambda m: {"name": "all"})
_FX = "|".join(FX_NAMES)
_rule(rf"(?P<fx>{_FX}) off(?: {_DECK})?", IntentKind.FX_OFF, lambda m: {"name": m["fx"]})
_rule(rf"(?P<fx>{_FX})(?: (?:to|at))?(?: {_NUM}(?: percent)?)?(?: {_DECK})?", IntentKind.FX,
      lambda m: {"name": m["fx"], "amount": _amount(m["n"], 1.0)})
_rule(rf"filter (?P<dir>up|down)(?: (?:to|by))?(?: {_NUM}(?: percent)?)?(?: {_DECK})?", IntentKind.FILTER,
      lambda m: {"direction": m["dir"], "amount": _amount(m["n"], 0.5)})
_rule(r"(?:tempo|bpm) (?P<sign>plus|minus|up|down|\+|-)\s*(?P<n>\d+(?:\.\d+)?)(?: bpm)?", IntentKind.TEMPO,
      lambda m: {"delta_bpm": float(m["n"]) * (1 if m["sign"] in ("plus", "up", "+") else -1)})
_rule(r"(?:tempo|bpm) (?:to )?(?P<n>\d+(?:\.\d+)?)(?: bpm)?", IntentKind.TEMPO,
      lambda m: {"bpm": float(m["n"])})
_rule(r"(?P<n>\d+(?:\.\d+)?) bpm", IntentKind.TEMPO, lambda m: {"bpm": float(m["n"])})


def _amount(n: str | None, default: float) -> float:
    if n is None:
        return default
    value = float(n)
    return value / 100.0 if value > 1.0 else value


def parse(text: str, source: Source = Source.SCRIPT, aliases: Mapping[str, str] | None = None) -> ParseResult:
    """One command in words → an intent, or None with the reason. Never raises."""
    raw = text if isinstance(text, str) else ""
    try:
        said = normalise(raw)
        for alias, meaning in (aliases or {}).items():
            said = re.sub(rf"\b{re.escape(alias.lower())}\b", meaning.lower(), said)
        said = normalise(said)
        if not said:
            return ParseResult(None, 0.0, "nothing said", raw)
        for pattern, kind, build in _RULES:
            m = pattern.match(said)
            if m is None:
                continue
            try:
                intent = Intent(kind, deck=_deck_of(m), args=build(m), source=source, confidence=1.0, text=raw)
            except IntentError as exc:
                return ParseResult(None, 0.0, str(exc), raw)
            return ParseResult(intent, 1.0, f"matched {kind.value}", raw)
        return ParseResult(None, 0.0, f"not a command: '{said}'", raw)
    except Exception as exc:  # noqa: BLE001 - the parser must never take the show down
        return ParseResult(None, 0.0, f"could not read that ({type(exc).__name__})", raw)
