"""The command language: one declarative table of sentence templates per intent kind.

`DECK` is the deck phrase ("on deck A", "to B", "deck two", "on the deck see" …); slots in braces
are read by the `SLOTS` readers below (numbers that know their valid values, decks, FX names, free
text). Numbers reach the templates as digits (`numbers.words_to_numbers` ran first). Order matters
only for ties: the more specific template comes first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .fuzzy import word_distance
from .grammar import Node, anchors, compile_template
from .lexicon import BAND_WORDS, DECK_WORDS, FX_NAMES, NUMBER_WORDS, SIDE_WORDS, TEMPLATE_WORDS
from .schema import DECK_KINDS, HOTCUES, LOOP_BEATS, MAX_BARS, MAX_KEY_SHIFT, IntentKind

DECK = "[(on | to | onto | into | for | at | in | of)] [the] [deck] {deck}"
NUM = "{n}"
KEYLOCK = "(keylock | key lock | master tempo)"
SEMIS = "(semitone | semitones | step | steps)"
ON_DECK = "((on | for | of) [the] [deck] {deck} | deck {deck})"  # after a number: "up 1" is not deck A
PERCENT = "[(to | at | by | of)] {amount} [percent]"
LEVEL = "to {lvl} [percent]"
REF = "[the] [deck] {ref}"  # another deck, as an argument ("into B", "sync B to A")
BARS = "[(in | over | for | across)] {n} [(bar | bars)]"
INTO = "(into | to | onto | in to | over to)"

K = IntentKind
Args = Callable[[dict[str, Any]], dict[str, Any]]


def _none(c: dict[str, Any]) -> dict[str, Any]:
    return {}


def _amount(value: float | None, default: float) -> float:
    if value is None:
        return default
    return value / 100.0 if value > 1.0 else value


def _transition(c: dict[str, Any]) -> dict[str, Any]:
    """TRANSITION args from captures: the template (absent: the planner picks), decks, bars."""
    out: dict[str, Any] = {"template": c["tpl"]} if c.get("tpl") else {}
    for slot, key in (("ref", "to"), ("src", "from")):
        if c.get(slot) is not None:
            out[key] = c[slot]
    if c.get("n") is not None:
        out["bars"] = c["n"]
    return out


def _crossfade(c: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"to": c["ref"]} if c.get("ref") is not None else {"position": c.get("side", 0.5)}
    if c.get("n") is not None:
        out["bars"] = c["n"]
    return out


# (kind, templates, args from captures). A leading "deck X" works for every deck command too.
TABLE: list[tuple[IntentKind, tuple[str, ...], Args]] = [
    (K.PANIC, ("panic", "stop everything", "kill (it | everything)", "emergency stop", "panic stop"), _none),
    (K.CONFIRM, ("(yes | yep | confirm | affirmative | go)", "do it", "yes (please | do it | confirm)",
                 "go ahead"), _none),
    (K.CANCEL, ("(cancel | no | nope | abort | undo)", "never mind", "forget it", "no (cancel | thanks)",
                "cancel (that | it)"), _none),
    (K.EXIT_LOOP, (f"(exit | release | end | stop | kill | leave) [the] loop [{DECK}]",
                   f"loop (off | out | exit) [{DECK}]", f"unloop [{DECK}]"), _none),
    (K.LOOP, (f"loop [of] {{beats}} [(beat | beats)] [loop] [{DECK}]",
              f"{{beats}} (beat | beats) loop [{DECK}]",
              f"(set | make) [a] {{beats}} (beat | beats) loop [{DECK}]"),
     lambda c: {"beats": c["beats"]}),
    # "hot cue" survives normalising only when misheard ("heart cue"), hence both spellings
    (K.HOTCUE, (f"(hotcue | cue | hot cue) [number] {{cue}} [{DECK}]", f"(jump | go) to [hot] cue {{cue}} [{DECK}]"),
     lambda c: {"n": c["cue"]}),
    (K.PLAY, (f"(play | start) [{DECK}]",), _none),
    (K.PAUSE, (f"(pause | stop) [{DECK}]",), _none),
    (K.CUE, (f"cue [{DECK}]",), _none),
    (K.SYNC, (f"sync [up] [{DECK}]",), _none),
    (K.LOAD, (f"load {{query}} [{DECK}]", "load [the] [deck] {deck} with {query}"),
     lambda c: {"query": c["query"]}),
    (K.DROP, (f"drop in {NUM} [(bar | bars)]", f"drop (after | on) {NUM} (bar | bars)", "drop [(it | now)]"),
     lambda c: {"bars": c["n"]} if "n" in c else {}),
    (K.BUILD, (f"{NUM} (bar | bars) build [up]", f"build [up] [(for | over | in)] {NUM} [(bar | bars)]",
               "build [it] [up]"),
     lambda c: {"bars": c.get("n", 8)}),
    (K.FX_OFF, (f"(fx | effects | effect) off [{DECK}]", f"{{fx}} off [{DECK}]", f"kill [the] {{fx}} [{DECK}]",
                f"(all | every) (fx | effects) off [{DECK}]"),
     lambda c: {"name": c.get("fx", "all")}),
    (K.FX, (f"{{fx}} [on] [{PERCENT}] [{DECK}]", f"{{fx}} [{DECK}] [{PERCENT}]"),
     lambda c: {"name": c["fx"], "amount": _amount(c.get("amount"), 1.0)}),
    (K.FILTER, (f"filter {{dir}} [{PERCENT}] [{DECK}]", f"filter {{dir}} [{DECK}] [{PERCENT}]",
                f"{{dir}} [the] filter [{PERCENT}] [{DECK}]"),
     lambda c: {"direction": c["dir"], "amount": _amount(c.get("amount"), 0.5)}),
    (K.TEMPO, ("(tempo | bpm) {sign} {delta} [bpm]", "(speed up | faster) [by] {delta} [bpm]",
               "(slow down | slower) [by] {slowdelta} [bpm]"),
     lambda c: {"delta_bpm": c.get("sign", 1.0) * c["delta"]} if "delta" in c else {"delta_bpm": -c["slowdelta"]}),
    (K.TEMPO, ("(tempo | bpm) [to] {bpm} [bpm]", "{bpm} bpm", "(set | change) [the] tempo to {bpm} [bpm]"),
     lambda c: {"bpm": c["bpm"]}),
    # -- key-lock and key shift ("key lock on A", "key B up one", "match key to A") --------------------
    (K.KEYLOCK, (f"{KEYLOCK} {{onoff}} [{DECK}]", f"{KEYLOCK} [{DECK}] {{onoff}}"), lambda c: {"on": c["onoff"]}),
    (K.KEY, (f"key [{DECK}] {{dir}} [by] [{{semis}}] [{SEMIS}] [{ON_DECK}]",
             f"(transpose | shift) [the] key [{DECK}] {{dir}} [by] [{{semis}}] [{SEMIS}] [{ON_DECK}]"),
     lambda c: {"delta": (1 if c["dir"] == "up" else -1) * int(c.get("semis", 1))}),
    (K.KEY, (f"(reset | zero) [the] key [{DECK}]", f"key [{DECK}] (reset | zero)"), lambda c: {"semitones": 0}),
    (K.KEY, ("match [the] key [(of | on) [the] [deck] {deck}] (to | with) [the] [deck] {ref}",),
     lambda c: {"match": c["ref"]}),
    # -- mixing (issue 14): the words DJs use for the channel strip, the crossfader and transitions -----
    (K.EQ, (f"(kill | cut) [the] {{band}} [{DECK}]", f"{{band}} (out | off) [{DECK}]"),
     lambda c: {"band": c["band"], "level": 0.0}),
    (K.EQ, (f"[(bring | put)] [the] {{band}} back [in] [{DECK}]", f"(restore | return) [the] {{band}} [{DECK}]"),
     lambda c: {"band": c["band"], "level": 1.0}),
    (K.EQ, (f"[(set | put | turn)] [the] {{band}} [{DECK}] {LEVEL}",
            f"[(set | put | turn)] [the] {{band}} {LEVEL} [{DECK}]"),
     lambda c: {"band": c["band"], "level": _amount(c["lvl"], 1.0)}),
    (K.EQ, (f"(reset | flatten) [the] (eq | eqs) [{DECK}]", f"(eq | eqs) flat [{DECK}]"),
     lambda c: {"band": "all", "level": 1.0}),
    (K.FADER, (f"(fader | volume | channel) [{DECK}] {{dir}}", f"(fader | volume | channel) {{dir}} [{DECK}]"),
     lambda c: {"level": 1.0 if c["dir"] == "up" else 0.0}),
    (K.FADER, (f"(fader | volume) [{DECK}] {LEVEL}", f"(fader | volume) {LEVEL} [{DECK}]"),
     lambda c: {"level": _amount(c["lvl"], 1.0)}),
    (K.CROSSFADE, (f"(crossfade | cross fade | fade | cross) {INTO} {REF} [{BARS}]",), _crossfade),
    (K.CROSSFADE, (f"crossfader (to | in) {REF}", "crossfader (to | in) [the] {side}"),
     lambda c: {**_crossfade(c), "bars": 0}),
    (K.TRANSITION, (f"{{tpl}} {INTO} {REF} [{BARS}]", f"{{tpl}} [{BARS}] [(on | at) [the] next phrase]",
                    f"{{tpl}} (from | out of | of) [the] [deck] {{src}} [{INTO} {REF}] [{BARS}]",
                    f"mix {INTO} {REF} [{BARS}]"), _transition),
    (K.TRANSITION, (f"echo out [the] [deck] {{src}} [{INTO} {REF}]",), lambda c: _transition({**c, "tpl": "echo_out"})),
    (K.NEXT, ("next (track | one | 1 | tune | song | record)", "(mix | bring) in something {query}",
              "[(mix | bring | play)] [in] the next (one | 1 | track | tune) [in]"),
     lambda c: {"query": c["query"]} if c.get("query") else {}),
    (K.TEMPO, ("(speed up | faster) to {bpm} [bpm]", "(slow down | slower) to {bpm} [bpm]",
               "(speed | tempo) (up | down) to {bpm} [bpm]"),
     lambda c: {"bpm": c["bpm"]}),
    (K.SYNC, ("sync [the] [deck] {deck} (to | with | on) [the] [deck] {ref}",), lambda c: {"to": c["ref"]}),
    (K.CANCEL, ("(cancel | abort | stop | undo | kill) [the] (transition | mix | blend | fade)",
                "(cancel | abort) [the] (transition | mix) [now]"),
     lambda c: {"what": "transition"}),
]


@dataclass(frozen=True)
class Command:
    kind: IntentKind
    template: str
    node: Node
    args: Args
    anchors: tuple[frozenset[str], ...] = ()


def _variants(kind: IntentKind, template: str) -> list[str]:
    """Deck commands may also start with the deck: "deck B, play" as well as "play deck B"."""
    return [template, f"[the] deck {{deck}} {template}"] if kind in DECK_KINDS else [template]


def _command(kind: IntentKind, template: str, args: Args) -> Command:
    node = compile_template(f"[please] {template} [please]")
    return Command(kind, template, node, args, tuple(anchors(node)))


COMMANDS: tuple[Command, ...] = tuple(
    _command(kind, v, args) for kind, templates, args in TABLE for t in templates for v in _variants(kind, t)
)

# Words a command can start with: used to bias Whisper towards them (asr.prompt).
VOCABULARY: tuple[str, ...] = (
    "play", "pause", "cue", "sync", "loop", "exit loop", "load", "hot cue", "drop", "build", "echo", "reverb",
    "delay", "flanger", "phaser", "filter up", "filter down", "fx off", "tempo", "plus", "minus", "bpm",
    "percent", "bars", "beats", "deck A", "deck B", "deck C", "deck D", "panic", "yes", "cancel",
)


# -- slot readers: tokens[i:] → [(end, cost, value)] ----------------------------------------------------
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def read_number(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    if i >= len(tokens):
        return []
    tok = tokens[i]
    if _NUMBER.fullmatch(tok):
        return [(i + 1, 0.0, float(tok))]
    if tok in NUMBER_WORDS:
        value, cost = NUMBER_WORDS[tok]
        return [(i + 1, cost, value)]
    return []


# Whisper swaps -teen and -ty ("loop sixty" for sixteen): where a value cannot be right, its twin may be.
TEEN_TY = {13: 30, 14: 40, 15: 50, 16: 60, 17: 70, 18: 80, 19: 90}
TEEN_TY |= {ty: teen for teen, ty in TEEN_TY.items()}
INVALID_COST = 0.5  # a value the intent cannot take still reads (so the refusal can say why), dearly
TWIN_COST = 0.3


def valued(valid: Callable[[float], bool]) -> Callable[[Sequence[str], int], list[tuple[int, float, Any]]]:
    """A number slot that knows which values make sense (loop lengths, hot cues, bars)."""

    def read(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
        out = []
        for end, cost, value in read_number(tokens, i):
            if valid(value):
                out.append((end, cost, value))
                continue
            out.append((end, cost + INVALID_COST, value))
            twin = TEEN_TY.get(int(value)) if value == int(value) else None
            if twin is not None and valid(float(twin)):
                out.append((end, cost + TWIN_COST, float(twin)))
        return out

    return read


def read_deck(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    if i < len(tokens) and tokens[i] in DECK_WORDS:
        deck, cost = DECK_WORDS[tokens[i]]
        return [(i + 1, cost, deck)]
    return []


_FX_WORDS = {name: tuple(name.split()) for name in FX_NAMES}


def read_fx(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    out = []
    for name, words in _FX_WORDS.items():
        if i + len(words) > len(tokens):
            continue
        costs = [word_distance(tokens[i + k], w) for k, w in enumerate(words)]
        if all(c is not None for c in costs):
            out.append((i + len(words), float(sum(costs)), name))  # type: ignore[arg-type]
    return out


def read_direction(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    if i >= len(tokens):
        return []
    out = []
    for word, meaning in (("up", "up"), ("down", "down"), ("high", "up"), ("low", "down")):
        cost = word_distance(tokens[i], word)
        if cost is not None:
            out.append((i + 1, cost + (0.1 if word != meaning else 0.0), meaning))
    return out


def read_switch(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    """on / off (key lock)."""
    if i >= len(tokens):
        return []
    out = []
    for word, value in (("on", True), ("off", False)):
        cost = word_distance(tokens[i], word)
        if cost is not None:
            out.append((i + 1, cost, value))
    return out


def read_sign(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    if i >= len(tokens):
        return []
    out = []
    for word, sign in (("plus", 1.0), ("up", 1.0), ("minus", -1.0), ("down", -1.0), ("faster", 1.0),
                       ("slower", -1.0)):
        cost = word_distance(tokens[i], word)
        if cost is not None:
            out.append((i + 1, cost, sign))
    return out


def words_reader(table: dict[str, Any]) -> Callable[[Sequence[str], int], list[tuple[int, float, Any]]]:
    """A slot of named values, each said in one or more words (EQ bands, transition names, sides);
    near-misses of each word count."""
    phrases = [(tuple(words.split()), value) for words, value in table.items()]

    def read(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
        best: dict[tuple[int, Any], float] = {}
        for words, value in phrases:
            if i + len(words) > len(tokens):
                continue
            costs = [word_distance(tokens[i + k], w) for k, w in enumerate(words)]
            if all(c is not None for c in costs):
                key = (i + len(words), value)
                best[key] = min(best.get(key, 9.0), float(sum(costs)))  # type: ignore[arg-type]
        return [(end, cost, value) for (end, value), cost in best.items()]

    return read


def read_level(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    """A fader or EQ level: a number (percent or 0..1), or full / nothing."""
    if i < len(tokens) and tokens[i] in ("full", "max", "maximum"):
        return [(i + 1, 0.0, 1.0)]
    return read_number(tokens, i)


QUERY_WORD_COST = 0.001  # a hair per word, so "load x to deck b" keeps "to deck b" as the deck
MAX_QUERY_WORDS = 12
_LEADS_TO_DECK = frozenset(("to", "on", "onto", "into"))


def read_query(tokens: Sequence[str], i: int) -> list[tuple[int, float, Any]]:
    """1+ words of free text; never swallows a deck phrase ("… to neck B" is the deck, heard badly)."""
    out = []
    for end in range(i + 1, min(len(tokens), i + MAX_QUERY_WORDS) + 1):
        k = end - 1
        if k > i and tokens[k - 1] in _LEADS_TO_DECK and word_distance(tokens[k], "deck") is not None:
            break
        out.append((end, QUERY_WORD_COST * (end - i), " ".join(tokens[i:end])))
    return out


SLOTS = {
    "n": valued(lambda v: v == int(v) and 1 <= v <= MAX_BARS), "amount": read_number, "delta": read_number,
    "beats": valued(lambda v: any(abs(v - b) < 1e-9 for b in LOOP_BEATS)),
    "cue": valued(lambda v: v == int(v) and int(v) in HOTCUES),
    "slowdelta": read_number, "bpm": read_number, "deck": read_deck,
    "fx": read_fx, "dir": read_direction, "sign": read_sign, "query": read_query,
    "onoff": read_switch, "semis": valued(lambda v: v == int(v) and 1 <= v <= MAX_KEY_SHIFT), "ref": read_deck,
    "src": read_deck, "band": words_reader(BAND_WORDS), "tpl": words_reader(TEMPLATE_WORDS),
    "side": words_reader(SIDE_WORDS), "lvl": read_level,
}
