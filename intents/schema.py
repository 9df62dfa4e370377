"""The intent: what a performer (or a planner, a pad, a phone) wants to happen, before anyone decides when.

Intents are plain, immutable, JSON-friendly objects. Every source builds them the same way, so the
safety scheduler never has to know whether a loop came from a voice, a pad or a script line.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class IntentKind(StrEnum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    CUE = "CUE"
    SYNC = "SYNC"  # args: to (the deck to follow; absent: the tempo master)
    LOOP = "LOOP"  # args: beats
    EXIT_LOOP = "EXIT_LOOP"
    LOAD = "LOAD"  # args: query
    HOTCUE = "HOTCUE"  # args: n (1..8)
    DROP = "DROP"  # args: bars
    BUILD = "BUILD"  # args: bars
    FX = "FX"  # args: name, amount (0..1)
    FX_OFF = "FX_OFF"  # args: name
    FILTER = "FILTER"  # args: direction ("up" | "down"), amount (0..1)
    TEMPO = "TEMPO"  # args: delta_bpm | bpm
    # key-lock and key shift (engines that can stretch: the built-in one)
    KEYLOCK = "KEYLOCK"  # args: on (bool)
    KEY = "KEY"  # args: delta (semitones, ±) | semitones (absolute) | match (the deck whose key to meet)
    # mixing: the channel strip, the crossfader, whole transitions and the planner's next track
    EQ = "EQ"  # args: band (low | mid | high | all), level (0 = kill … 1 = flat)
    FADER = "FADER"  # args: level (0..1, the channel fader)
    CROSSFADE = "CROSSFADE"  # args: to (deck) | position (0..1), bars (0 = a quick move; absent: a fade)
    TRANSITION = "TRANSITION"  # args: template (absent: the planner picks), to, from (decks), bars
    NEXT = "NEXT"  # args: query (optional): the planner picks the next track, its template and phrase
    PANIC = "PANIC"
    CONFIRM = "CONFIRM"  # args: id (optional): confirm that intent only, not simply the latest question
    CANCEL = "CANCEL"  # args: what ("transition") | id (optional)


class Deck(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"

    @property
    def index(self) -> int:
        """0-based deck number (A = 0), the way MIDI channels and engine arrays count."""
        return "ABCD".index(self.value)

    @classmethod
    def from_index(cls, index: int) -> Deck:
        return cls("ABCD"[index])


class Source(StrEnum):
    VOICE = "voice"
    MOTION = "motion"
    PAD = "pad"
    PLANNER = "planner"
    SCRIPT = "script"
    REMOTE = "remote"


class IntentError(ValueError):
    """An intent whose kind and arguments do not fit together; the message says why, in plain words."""


# Loop lengths a DJ can ask for: 1/32 … 32 beats, powers of two.
LOOP_BEATS: tuple[float, ...] = tuple(2.0**e for e in range(-5, 6))
FILTER_DIRECTIONS = ("up", "down")
MAX_BARS = 64
HOTCUES = range(1, 9)
MAX_KEY_SHIFT = 12  # semitones either way
EQ_BANDS = ("low", "mid", "high", "all")
TRANSITION_BARS = (1, 128)  # a transition lasts one bar at least, 32 phrases at most

# Kinds that act on one deck. A missing deck is allowed: the scheduler picks the sensible one and says so.
DECK_KINDS = frozenset(
    {
        IntentKind.PLAY,
        IntentKind.PAUSE,
        IntentKind.CUE,
        IntentKind.SYNC,
        IntentKind.LOOP,
        IntentKind.EXIT_LOOP,
        IntentKind.LOAD,
        IntentKind.HOTCUE,
        IntentKind.FX,
        IntentKind.FX_OFF,
        IntentKind.FILTER,
        IntentKind.KEYLOCK,
        IntentKind.KEY,
        IntentKind.EQ,
        IntentKind.FADER,
    }
)


def _number(args: Mapping[str, Any], key: str, kind: IntentKind) -> float:
    if key not in args:
        raise IntentError(f"{kind} needs '{key}'")
    value = args[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntentError(f"{kind} '{key}' must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise IntentError(f"{kind} '{key}' must be finite, got {value!r}")
    return value


def _text(args: Mapping[str, Any], key: str, kind: IntentKind) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise IntentError(f"{kind} needs a non-empty '{key}'")
    return value.strip()


def normalise_args(kind: IntentKind, args: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise the arguments of one intent kind; raise IntentError with a readable reason."""
    if kind is IntentKind.LOOP:
        beats = _number(args, "beats", kind)
        if not any(math.isclose(beats, b) for b in LOOP_BEATS):
            raise IntentError(f"a loop must be a power of two from 1/32 to 32 beats, not {beats:g}")
        return {"beats": min(LOOP_BEATS, key=lambda b: abs(b - beats))}
    if kind is IntentKind.LOAD:
        return {"query": _text(args, "query", kind)}
    if kind is IntentKind.HOTCUE:
        n = _number(args, "n", kind)
        if n != int(n) or int(n) not in HOTCUES:
            raise IntentError(f"hot cues are numbered 1 to 8, not {n:g}")
        return {"n": int(n)}
    if kind in (IntentKind.DROP, IntentKind.BUILD):
        if kind is IntentKind.DROP and "bars" not in args:
            return {}  # "drop" alone: on the next phrase
        bars = _number(args, "bars", kind)
        if bars != int(bars) or not 1 <= bars <= MAX_BARS:
            raise IntentError(f"{kind.lower()} takes 1 to {MAX_BARS} whole bars, not {bars:g}")
        return {"bars": int(bars)}
    if kind is IntentKind.FX:
        amount = _number(args, "amount", kind) if "amount" in args else 1.0
        if not 0.0 <= amount <= 1.0:
            raise IntentError(f"an FX amount is 0 to 100 %, not {amount * 100:g} %")
        return {"name": _text(args, "name", kind).lower(), "amount": amount}
    if kind is IntentKind.FX_OFF:
        return {"name": _text(args, "name", kind).lower()} if args.get("name") else {"name": "all"}
    if kind is IntentKind.FILTER:
        direction = args.get("direction")
        if direction not in FILTER_DIRECTIONS:
            raise IntentError(f"a filter goes 'up' or 'down', not {direction!r}")
        amount = _number(args, "amount", kind) if "amount" in args else 0.5
        if not 0.0 <= amount <= 1.0:
            raise IntentError(f"a filter amount is 0 to 100 %, not {amount * 100:g} %")
        return {"direction": direction, "amount": amount}
    if kind is IntentKind.TEMPO:
        has_delta, has_bpm = "delta_bpm" in args, "bpm" in args
        if has_delta == has_bpm:
            raise IntentError("a tempo change gives either 'delta_bpm' or 'bpm'")
        if has_bpm:
            bpm = _number(args, "bpm", kind)
            if not 20.0 <= bpm <= 999.0:
                raise IntentError(f"a tempo must be 20 to 999 BPM, not {bpm:g}")
            return {"bpm": bpm}
        delta = _number(args, "delta_bpm", kind)
        if not -100.0 <= delta <= 100.0 or delta == 0.0:
            raise IntentError(f"a tempo change must be a non-zero step within ±100 BPM, not {delta:g}")
        return {"delta_bpm": delta}
    if kind is IntentKind.KEYLOCK:
        if not isinstance(args.get("on"), bool):
            raise IntentError("key lock is switched 'on' (true) or 'off' (false)")
        return {"on": args["on"]}
    if kind is IntentKind.KEY:
        return _key_args(args)
    if kind in MIX_ARGS:
        return MIX_ARGS[kind](args)
    if args:
        raise IntentError(f"{kind} takes no arguments, got {sorted(args)}")
    return {}


def _key_args(args: Mapping[str, Any]) -> dict[str, Any]:
    given = [k for k in ("delta", "semitones", "match") if k in args]
    if len(given) != 1:
        raise IntentError("a key change gives one of 'delta', 'semitones' or 'match'")
    if given[0] == "match":
        try:
            return {"match": Deck(str(args["match"]).upper()).value}
        except ValueError:
            raise IntentError(f"match the key of which deck? not {args['match']!r}") from None
    n = _number(args, given[0], IntentKind.KEY)
    if n != int(n) or abs(n) > MAX_KEY_SHIFT or (given[0] == "delta" and n == 0):
        raise IntentError(f"a key shift is a whole number of semitones within ±{MAX_KEY_SHIFT}, not {n:g}")
    return {given[0]: int(n)}


def _level(args: Mapping[str, Any], kind: IntentKind) -> float:
    level = _number(args, "level", kind)
    if not 0.0 <= level <= 1.0:
        raise IntentError(f"a {kind.lower()} level is 0 to 100 %, not {level * 100:g} %")
    return level


def _deck_arg(args: Mapping[str, Any], key: str, what: str) -> str:
    try:
        return Deck(str(args[key]).upper()).value
    except ValueError:
        raise IntentError(f"{what} which deck? not {args[key]!r}") from None


def _bars(args: Mapping[str, Any], kind: IntentKind, lo: int = TRANSITION_BARS[0]) -> int:
    bars = _number(args, "bars", kind)
    if bars != int(bars) or not lo <= bars <= TRANSITION_BARS[1]:
        raise IntentError(f"{kind.lower()} takes {lo} to {TRANSITION_BARS[1]} whole bars, not {bars:g}")
    return int(bars)


def _eq_args(args: Mapping[str, Any]) -> dict[str, Any]:
    band = str(args.get("band", "")).lower()
    if band not in EQ_BANDS:
        raise IntentError(f"an EQ band is {', '.join(EQ_BANDS)}, not {args.get('band')!r}")
    return {"band": band, "level": _level(args, IntentKind.EQ)}


def _crossfade_args(args: Mapping[str, Any]) -> dict[str, Any]:
    if ("to" in args) == ("position" in args):
        raise IntentError("a crossfade goes 'to' a deck or to a 'position' (0..1)")
    out: dict[str, Any] = {}
    if "to" in args:
        out["to"] = _deck_arg(args, "to", "crossfade to")
    else:
        position = _number(args, "position", IntentKind.CROSSFADE)
        if not 0.0 <= position <= 1.0:
            raise IntentError(f"the crossfader goes from 0 (left) to 1 (right), not {position:g}")
        out["position"] = position
    if "bars" in args:
        out["bars"] = _bars(args, IntentKind.CROSSFADE, lo=0)
    return out


def _transition_args(args: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.get("template") is not None:
        out["template"] = _text(args, "template", IntentKind.TRANSITION).lower().replace(" ", "_").replace("-", "_")
    for key, what in (("to", "mix into"), ("from", "mix out of")):
        if args.get(key) is not None:
            out[key] = _deck_arg(args, key, what)
    if "to" in out and out["to"] == out.get("from"):
        raise IntentError("a transition needs two different decks")
    if args.get("bars") is not None:
        out["bars"] = _bars(args, IntentKind.TRANSITION)
    return out


def _one_optional(name: str, kind: IntentKind, check: Callable[[Mapping[str, Any]], Any] | None = None
                  ) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def read(args: Mapping[str, Any]) -> dict[str, Any]:
        extra = sorted(set(args) - {name})
        if extra:
            raise IntentError(f"{kind} takes only '{name}', got {extra}")
        if args.get(name) is None:
            return {}
        return {name: check(args) if check else _text(args, name, kind)}

    return read


def _cancel_args(args: Mapping[str, Any]) -> dict[str, Any]:
    if not args:
        return {}
    if set(args) == {"what"} and args["what"] == "transition":
        return {"what": "transition"}
    if set(args) == {"id"}:
        return {"id": _text(args, "id", IntentKind.CANCEL)}
    raise IntentError(f"cancel takes what='transition' or an intent 'id', got {dict(args)!r}")


MIX_ARGS: dict[IntentKind, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    IntentKind.EQ: _eq_args,
    IntentKind.FADER: lambda args: {"level": _level(args, IntentKind.FADER)},
    IntentKind.CROSSFADE: _crossfade_args,
    IntentKind.TRANSITION: _transition_args,
    IntentKind.NEXT: _one_optional("query", IntentKind.NEXT),
    IntentKind.SYNC: _one_optional("to", IntentKind.SYNC, lambda a: _deck_arg(a, "to", "sync to")),
    IntentKind.CONFIRM: _one_optional("id", IntentKind.CONFIRM),
    IntentKind.CANCEL: _cancel_args,
}


MAX_LAMPORT = 2**53  # a stamp any JSON reader keeps exactly; a sender claiming more is broken or hostile


def _lamport(value: Any) -> int:
    integer = isinstance(value, int) and not isinstance(value, bool)
    whole = integer or (isinstance(value, float) and value.is_integer())
    if not whole or not 0 <= value <= MAX_LAMPORT:
        raise IntentError(f"a Lamport stamp is a whole number from 0 to 2^53, not {value!r}")
    return int(value)


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Intent:
    """One wish. `at_beat` None means "the next safe moment"; the scheduler decides what that is."""

    kind: IntentKind
    deck: Deck | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    source: Source = Source.SCRIPT
    confidence: float = 1.0
    at_beat: float | None = None
    text: str = ""
    id: str = field(default_factory=_new_id)
    lamport: int = 0  # 0 until the scheduler stamps it (bridge.lamport); a remote sender's stamp otherwise

    def __post_init__(self) -> None:
        kind = IntentKind(self.kind)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "source", Source(self.source))
        if self.deck is not None:
            object.__setattr__(self, "deck", Deck(self.deck))
            if kind not in DECK_KINDS:
                raise IntentError(f"{kind} is not a deck action; drop the deck")
        object.__setattr__(self, "args", MappingProxyType(normalise_args(kind, dict(self.args))))
        if not (isinstance(self.confidence, int | float) and 0.0 <= self.confidence <= 1.0):
            raise IntentError(f"confidence must be within 0..1, got {self.confidence!r}")
        if self.at_beat is not None and not math.isfinite(self.at_beat):
            raise IntentError(f"at_beat must be finite, got {self.at_beat!r}")

    @property
    def order(self) -> tuple[int, str]:
        """Total order for racing intents: Lamport stamp first, id breaks ties the same way everywhere."""
        return (self.lamport, self.id)

    def with_deck(self, deck: Deck) -> Intent:
        return replace(self, deck=deck)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "deck": self.deck.value if self.deck else None,
            "args": dict(self.args),
            "source": self.source.value,
            "confidence": self.confidence,
            "at_beat": self.at_beat,
            "text": self.text,
            "id": self.id,
            "lamport": self.lamport,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        """Rebuild an intent (e.g. from another machine). Its Lamport stamp is kept as sent; the scheduler
        merges it into ours when it decides."""
        try:
            kind = IntentKind(str(data["kind"]).upper())
        except (KeyError, ValueError) as exc:
            raise IntentError(f"unknown intent kind {data.get('kind')!r}") from exc
        extra: dict[str, Any] = {}
        if "lamport" in data:
            extra["lamport"] = _lamport(data["lamport"])
        if data.get("id"):
            extra["id"] = str(data["id"])
        return cls(
            kind=kind,
            deck=Deck(str(data["deck"]).upper()) if data.get("deck") else None,
            args=dict(data.get("args") or {}),
            source=Source(data.get("source", Source.REMOTE)),
            confidence=float(data.get("confidence", 1.0)),
            at_beat=data.get("at_beat"),
            text=str(data.get("text", "")),
            **extra,
        )

    def describe(self) -> str:
        """The intent in a performer's words, for confirmations and logs."""
        a = self.args
        deck = f" on deck {self.deck}" if self.deck else ""
        match self.kind:
            case IntentKind.LOOP:
                beats = a["beats"]
                length = f"{int(beats)}" if beats >= 1 else f"1/{round(1 / beats)}"
                return f"{length}-beat loop{deck}"
            case IntentKind.LOAD:
                return f"load '{a['query']}'{' to deck ' + self.deck if self.deck else ''}"
            case IntentKind.HOTCUE:
                return f"hot cue {a['n']}{deck}"
            case IntentKind.DROP:
                if "bars" not in a:
                    return "drop on the next phrase"
                return f"drop in {a['bars']} bar{'s' if a['bars'] != 1 else ''}"
            case IntentKind.BUILD:
                return f"{a['bars']}-bar build"
            case IntentKind.FX:
                return f"{a['name']} at {round(a['amount'] * 100)} %{deck}"
            case IntentKind.FX_OFF:
                return f"{a['name']} off{deck}"
            case IntentKind.FILTER:
                return f"filter {a['direction']} {round(a['amount'] * 100)} %{deck}"
            case IntentKind.KEYLOCK:
                return f"key lock {'on' if a['on'] else 'off'}{deck}"
            case IntentKind.KEY:
                if "match" in a:
                    return f"match key{deck} to deck {a['match']}"
                if "delta" in a:
                    return f"key {a['delta']:+d} semitone{'s' if abs(a['delta']) != 1 else ''}{deck}"
                return f"key shift {a['semitones']:+d}{deck}"
            case IntentKind.EQ:
                band = "EQ" if a["band"] == "all" else {"low": "bass", "mid": "mids", "high": "highs"}[a["band"]]
                if a["level"] == 0:
                    return f"kill the {band}{deck}" if a["band"] != "all" else f"EQ killed{deck}"
                if a["level"] == 1:
                    return f"{band} back{deck}" if a["band"] != "all" else f"EQ flat{deck}"
                return f"{band} to {round(a['level'] * 100)} %{deck}"
            case IntentKind.FADER:
                return f"fader to {round(a['level'] * 100)} %{deck}"
            case IntentKind.CROSSFADE:
                where = f"deck {a['to']}" if "to" in a else f"{round(a['position'] * 100)} %"
                bars = a.get("bars")
                over = "" if bars == 0 else f" over {bars} bar{'s' if bars != 1 else ''}" if bars else ""
                return f"{'crossfader' if bars == 0 else 'crossfade'} to {where}{over}"
            case IntentKind.TRANSITION:
                name = str(a.get("template", "mix")).replace("_", " ")
                into = f" into deck {a['to']}" if "to" in a else ""
                out_of = f" out of deck {a['from']}" if "from" in a else ""
                bars = f" over {a['bars']} bars" if "bars" in a else ""
                return f"{name}{out_of}{into}{bars}"
            case IntentKind.NEXT:
                return "the next track" + (f" like '{a['query']}'" if "query" in a else "")
            case IntentKind.SYNC if "to" in a:
                return f"sync{deck} to deck {a['to']}"
            case IntentKind.CANCEL if a.get("what") == "transition":
                return "cancel the transition"
            case IntentKind.TEMPO:
                if "bpm" in a:
                    return f"tempo to {a['bpm']:g} BPM"
                return f"tempo {a['delta_bpm']:+g} BPM"
            case _:
                return f"{self.kind.value.lower().replace('_', ' ')}{deck}"
