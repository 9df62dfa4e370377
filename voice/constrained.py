"""Grammar-constrained recognition: which command sentence does the audio itself support?

Whisper's free transcription of a short robotic or noisy command is often wrong in one word
("Sync deck B." for deck D, "Billy off." for "delay off", "Loop 42." for thirty-two), while the
same model, asked about a *given* sentence, often knows better. In the spirit of Picovoice Rhino
(the command language is finite, so recognise within it) this module

1. `propose`s command sentences from Whisper's readings: each reading aligned against the templates
   of `commands.TABLE` — as heard, and with one heard word replaced by (or one missing word filled
   with) a wildcard — rewritten in the grammar's own words in the reading's style (digits or
   words), with each slot varied over the values it can take (decks, loop lengths, hot cues, bars,
   FX names, amounts, directions, tempo steps), nearest values first;
2. has them scored by the caller (`asr.Transcriber.score`: Whisper's decoder teacher-forced over
   the encoder output the transcription already computed, with the same prompt);
3. `decide`s: an intent's score is its best sentence's log-probability (end of text included)
   less a small prior for fillers and unknown track titles; "none of these" scores a flat
   `NONE_PER_TOKEN` nats per token of the best sentence. The confidence is the best intent's
   share of that posterior (at temperature `TEMPERATURE`): a rival intent ("deck B" vs "deck D")
   or a sentence the audio supports only weakly (noise, chatter) takes it away.

`understand` calls `rescue` only when the free readings did not make a confident command: the
scoring costs about one decoder pass per sentence, so it is kept for the utterances that need it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from copilot.intents.commands import COMMANDS, SLOTS, TEEN_TY, Command
from copilot.intents.fuzzy import word_distance
from copilot.intents.grammar import WILDCARD, Alt, Match, Node, Opt, Seq, Word, align, could_match
from copilot.intents.lexicon import (
    BAND_WORDS,
    DECK_WORDS,
    FILLER_COST,
    FILLERS,
    FX_NAMES,
    NUMBER_WORDS,
    SIDE_WORDS,
    TEMPLATE_WORDS,
)
from copilot.intents.parser import apply_aliases, normalise, snap_title
from copilot.intents.schema import HOTCUES, Deck, Intent, IntentError, IntentKind, Source

from .wording import DECK_SLOTS, Style, render

# -- proposals ----------------------------------------------------------------------------------------
MAX_STRUCTURES = 6  # command structures kept per reading (cheapest grammar alignments)
COST_MARGIN = 2.5  # structures within this alignment cost of the reading's best are kept
MAX_CANDIDATES = 8  # sentences scored per utterance (12 or 48 found no more on the corpus, and cost more)
MAX_EDITS = 2  # wildcards plus stray words a structure may have
MAX_WORDS = 16
MAX_WILD_WORDS = 6  # wildcards are tried in readings up to this long (commands are short; chatter is not)
MAX_WILD_TRIES = 4  # wildcard placements tried per reading (each is a parse of the whole grammar)
# -- the decision (set on the espeak corpus, on a plateau: see docs/voice.md) ------------------------------
PRIOR_NATS = 1.0  # per unit of grammar prior (fillers 0.12, a track title the library does not know 0.3)
NONE_PER_TOKEN = 1.5  # "none of these": a sentence the audio supports worse than this per token is noise
TEMPERATURE = 3.0  # the decoder's log-probabilities are sharp; this spreads them into a usable confidence

Key = tuple[IntentKind, Deck | None, tuple[tuple[str, str], ...]]


def intent_key(intent: Intent) -> Key:
    return intent.kind, intent.deck, tuple(sorted((k, str(v).lower()) for k, v in intent.args.items()))


@dataclass(frozen=True)
class Candidate:
    intent: Intent
    text: str  # the sentence scored against the audio
    prior: float  # what the acoustics cannot judge: fillers kept, a track title the library lacks
    reading: int  # rank of the Whisper reading it came from

    @property
    def key(self) -> Key:
        return intent_key(self.intent)


# Words that mean the same in a template ("(play | start)"): a wildcard guessed one, try them all.
SAME_WORDS = {"play": ("play", "start"), "pause": ("pause", "stop"), "exit": ("exit", "release", "end"),
              "hotcue": ("hotcue", "cue"), "yes": ("yes", "confirm"), "cancel": ("cancel", "abort", "no")}


# -- slot variants --------------------------------------------------------------------------------------
# Values tried for a slot, the most used first (an unheard slot gets them in this order).
_BEATS = (4.0, 8.0, 16.0, 2.0, 1.0, 32.0, 0.5, 0.25)
_BARS = (8.0, 16.0, 4.0, 32.0, 2.0, 1.0)
_STEPS = (1.0, 2.0, 5.0, 3.0, 4.0, 10.0, 0.5, 6.0, 8.0)
_SEMIS = (1.0, 2.0, 3.0, 5.0, 7.0, 12.0)
_AMOUNTS = (50.0, 25.0, 75.0, 100.0, 30.0, 20.0, 80.0, 10.0, 40.0, 60.0, 70.0, 90.0)


def _near_numbers(value: float | None, pool: Sequence[float]) -> list[float]:
    """The heard value, its -teen/-ty twin, then the pool nearest first (in ratio: 8 is near 16)."""
    if value is None or value <= 0:
        return list(pool)
    out = [float(value)]
    twin = TEEN_TY.get(int(value)) if value == int(value) else None
    if twin is not None:
        out.append(float(twin))
    out += sorted(pool, key=lambda v: abs(math.log(v / value)) if v > 0 else 99.0)
    return list(dict.fromkeys(out))


def variants(name: str, value: Any, titles: Sequence[str] | None) -> list[Any]:
    """The values a slot is tried with (the heard one first)."""
    if name in DECK_SLOTS:
        return list(Deck)
    if name in ("band", "tpl", "side"):  # named values: the heard one first, then the others
        table = {"band": BAND_WORDS, "tpl": TEMPLATE_WORDS, "side": SIDE_WORDS}[name]
        return list(dict.fromkeys([value, *table.values()] if value is not None else table.values()))
    if name == "lvl":
        return _near_numbers(value, (0.5, 0.25, 0.75, 50.0, 25.0, 75.0, 100.0))
    if name == "beats":
        return _near_numbers(value, _BEATS)
    if name == "cue":
        return _near_numbers(value, [float(c) for c in HOTCUES])
    if name == "semis":
        return _near_numbers(value, _SEMIS)
    if name == "n":
        return _near_numbers(value, _BARS)
    if name == "amount":
        out = _near_numbers(value, _AMOUNTS)
        if value is not None and 1 < value < 10:  # "eight percent" is more likely eighty, heard short
            out.insert(1, float(value) * 10)
        return list(dict.fromkeys(out))
    if name in ("delta", "slowdelta"):
        return _near_numbers(value, _STEPS)
    if name == "bpm":
        base = [120.0, 122.0, 124.0, 125.0, 126.0, 128.0, 130.0]
        if value is not None:
            base = [value + d for d in (1, -1, 2, -2, 10, -10)] + base
        return _near_numbers(value, [b for b in base if 20 <= b <= 999])
    if name == "fx":
        return [v for v in FX_NAMES if v != "filter fx"]
    if name == "dir":
        return ["up", "down"]
    if name == "sign":
        return [1.0, -1.0]
    if name == "query":
        if value is None:
            return list(titles or ())[:3]
        if titles:
            snapped, extra = snap_title(str(value), titles)
            return list(dict.fromkeys([snapped, value] if extra < 0.2 else [value, snapped]))
        return [value]
    return [value]


# -- proposals --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Structure:
    """One reading aligned with one template: the pieces to rewrite, and how Whisper wrote it."""

    command: Command
    match: Match
    reading: int
    style: Style
    prior: float


def _prior(match: Match) -> float:
    """Fillers kept in the sentence ("please play deck A") cost a little; nothing else is judged here."""
    return sum(FILLER_COST for piece in match.path if piece[0] == "x" and piece[1] in FILLERS)


def _edits(match: Match) -> int:
    """Wildcards used plus heard words the structure had no place for (fillers aside)."""
    return sum(1 for p in match.path if (p[0] == "w" and p[2] == WILDCARD) or (p[0] == "s" and p[2] is None)
               or (p[0] == "x" and p[1] not in FILLERS))


def _anchored(match: Match) -> bool:
    """A wildcard structure must rest on a template word or slot value that was really heard."""
    return any((p[0] == "w" and p[2] != WILDCARD) or (p[0] == "s" and p[2] is not None and WILDCARD not in p[3])
               for p in match.path)


def _clean(match: Match) -> bool:
    names = [p[1] for p in match.path if p[0] == "s"]
    if len(names) != len(set(names)):
        return False  # "deck A load … to deck B" is two decks: not one command
    # a wildcard standing for "load" would make any chatter a track query
    return not any(p[0] == "w" and p[1] == "load" and p[2] == WILDCARD for p in match.path)


def _parse_all(tokens: list[str], rank: int, style: Style, wild: bool) -> list[_Structure]:
    memo: dict = {}
    found = []
    for command in COMMANDS:
        if not could_match(command.anchors, tokens):
            continue
        m = align(command.node, tokens, SLOTS, memo)
        if m is None or not _clean(m):
            continue
        if not wild or (_anchored(m) and any(p[0] != "x" and WILDCARD in _heard(p) for p in m.path)):
            found.append(_Structure(command, m, rank, style, _prior(m)))
    return found


def _heard(piece: tuple[Any, ...]) -> tuple[str, ...]:
    return (piece[2],) if piece[0] == "w" else piece[3] if piece[0] == "s" else (piece[1],)


def _structures(raw: str, rank: int, aliases: Mapping[str, str] | None, wild: bool) -> list[_Structure]:
    """The cheapest template alignments of one reading (with a wildcard if nothing fits as heard)."""
    said = apply_aliases(normalise(raw), aliases)
    tokens = said.split()
    if not tokens or len(tokens) > MAX_WORDS:
        return []
    style = Style.of(raw)
    found = _parse_all(tokens, rank, style, False)
    if wild and len(tokens) <= MAX_WILD_WORDS and not any(_edits(st.match) == 0 for st in found):
        # a word that is not the grammar's own was misheard (a wildcard in its place); if every word
        # is, one was not heard at all (a wildcard between two)
        strange = [i for i, t in enumerate(tokens) if not known_word(t)]
        tries = ([[*tokens[:i], WILDCARD, *tokens[i + 1:]] for i in strange] if strange else
                 [[*tokens[:i], WILDCARD, *tokens[i:]] for i in range(len(tokens) + 1)])
        for guess in tries[:MAX_WILD_TRIES]:
            found += _parse_all(guess, rank, style, True)
    found = [st for st in found if _edits(st.match) <= MAX_EDITS]
    if not found:
        return []
    best = min(st.match.cost for st in found)
    found = [st for st in found if st.match.cost <= best + COST_MARGIN]
    found.sort(key=lambda st: st.match.cost)
    return found[:MAX_STRUCTURES]


def _template_words(node: Node) -> set[str]:
    if isinstance(node, Word):
        return {node.word}
    if isinstance(node, Seq | Alt):
        return set().union(*(_template_words(n) for n in (node.items if isinstance(node, Seq) else node.options)))
    return _template_words(node.item) if isinstance(node, Opt) else set()


_VOCABULARY = frozenset(set().union(*(_template_words(c.node) for c in COMMANDS))
                        | {w for name in FX_NAMES for w in name.split()} | {"up", "down", "plus", "minus"})


@lru_cache(maxsize=4096)
def known_word(token: str) -> bool:
    """A word of the command language as it is (not a near-miss), a number, a deck or a filler."""
    if token in FILLERS or token in DECK_WORDS or token in NUMBER_WORDS or re.fullmatch(r"[\d./]+", token):
        return True
    return any(word_distance(token, w) == 0.0 for w in _VOCABULARY)


def _make_intent(command: Command, captures: dict[str, Any], raw: str) -> Intent | None:
    try:
        args = command.args(captures)
        return Intent(command.kind, deck=captures.get("deck"), args=args, source=Source.VOICE, text=raw)
    except (IntentError, KeyError, TypeError, ValueError):
        return None


def _expand(st: _Structure, raw: str, titles: Sequence[str] | None) -> list[list[Candidate]]:
    """Streams of sentences for one structure: first as heard (an unknown slot: each of its values),
    then one stream per slot varied on its own, nearest values first."""
    pieces = tuple((*p[:2], None, p[3]) if p[0] == "s" and WILDCARD in p[3] else p for p in st.match.path)
    slots = [(n, p) for n, p in enumerate(pieces) if p[0] == "s"]
    unknown = [(n, p) for n, p in slots if p[2] is None]
    if len(unknown) > 1:
        return []  # two unknown slots would be too many guesses to score

    def make(values: dict[int, Any]) -> Candidate | None:
        captures = {p[1]: values.get(n, p[2]) for n, p in slots}
        prior = st.prior
        if st.command.kind is IntentKind.LOAD:
            if captures.get("query") is None:
                return None
            if titles:  # the heard words and the title they resemble are one intent, said two ways
                captures["query"], extra = snap_title(str(captures["query"]), titles)
                prior += extra
        intent = _make_intent(st.command, captures, raw)
        text = render(pieces, values, st.style) if intent is not None else ""
        return Candidate(intent, text, prior, st.reading) if intent is not None and text else None

    streams: list[list[Candidate]] = []
    wild = [n for n, p in enumerate(pieces) if p[0] == "w" and p[2] == WILDCARD and p[1] in SAME_WORDS]
    if wild and not unknown:  # a guessed verb: its synonyms are the same intent, said another way
        n = wild[0]
        forms = [(*pieces[:n], ("w", w, None), *pieces[n + 1:]) for w in SAME_WORDS[pieces[n][1]]]
        base = make({})
        if base is not None:
            streams.append([replace(base, text=t) for f in forms if (t := render(f, {}, st.style))])
            streams[0].sort(key=lambda c: c.text != base.text)
    if unknown:
        n, p = unknown[0]
        streams.append([c for v in variants(p[1], None, titles) if (c := make({n: v})) is not None])
        return streams
    if not streams:
        base = make({})
        streams.append([base] if base is not None else [])
    for n, p in slots:
        streams.append([c for v in variants(p[1], p[2], titles) if v != p[2] and (c := make({n: v})) is not None])
    return streams


def _interleave(streams: Sequence[Sequence[Candidate]]) -> list[Candidate]:
    out: list[Candidate] = []
    for k in range(max((len(s) for s in streams), default=0)):
        out.extend(s[k] for s in streams if k < len(s))
    return out


def propose(readings: Sequence[str], aliases: Mapping[str, str] | None = None,
            titles: Sequence[str] | None = None, wild_readings: int = 1,
            limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """Command sentences worth scoring against the audio, most promising first: every structure as
    heard, then their variants taken in turns (so a long list of loop lengths cannot crowd out the
    deck letters of another reading)."""
    structures: list[_Structure] = []
    for rank, raw in enumerate(readings):
        structures.extend(_structures(raw, rank, aliases, rank < wild_readings))
    structures.sort(key=lambda st: (st.match.cost, st.reading))
    heads: list[Candidate] = []
    tails: list[list[Candidate]] = []
    for st in structures:
        streams = _expand(st, readings[st.reading], titles)
        if streams:
            heads.extend(streams[0][:1])
            tails.append(streams[0][1:] + _interleave(streams[1:]))
    out: list[Candidate] = []
    seen: set[str] = set()
    for cand in heads + _interleave(tails):
        if cand.text not in seen:
            seen.add(cand.text)
            out.append(cand)
    return out[:limit]


# -- the decision -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    intent: Intent | None
    confidence: float
    best: Candidate | None = None
    score: float = -math.inf  # the best intent's score (nats)
    rival: float = -math.inf  # the second intent's score (nats)
    none: float = -math.inf  # "none of these" (nats)


def decide(candidates: Sequence[Candidate], scores: Sequence[tuple[float, int]]) -> Decision:
    """The best intent and its posterior share among all proposed intents and "none of these".

    `scores`: per candidate, Whisper's log-probability of its sentence and the sentence's tokens."""
    by_intent: dict[Key, tuple[float, int, Candidate]] = {}
    for cand, (logp, tokens) in zip(candidates, scores, strict=False):
        if not math.isfinite(logp):
            continue
        total = logp - PRIOR_NATS * cand.prior
        old = by_intent.get(cand.key)
        if old is None or total > old[0]:
            by_intent[cand.key] = (total, tokens, cand)
    if not by_intent:
        return Decision(None, 0.0)
    ranked = sorted(by_intent.values(), key=lambda x: -x[0])
    best_score, tokens, best = ranked[0]
    none = -NONE_PER_TOKEN * tokens
    logits = [v[0] / TEMPERATURE for v in ranked] + [none / TEMPERATURE]
    top = max(logits)
    confidence = math.exp(best_score / TEMPERATURE - top) / sum(math.exp(x - top) for x in logits)
    rival = ranked[1][0] if len(ranked) > 1 else -math.inf
    return Decision(best.intent, confidence, best, best_score, rival, none)


def rescue(readings: Sequence[str], scorer: Scorer, aliases: Mapping[str, str] | None = None,
           titles: Sequence[str] | None = None) -> Decision:
    """Propose command sentences from the readings, score them against the audio, decide."""
    candidates = propose([r for r in readings if r.strip()], aliases, titles)
    if not candidates:
        return Decision(None, 0.0)
    return decide(candidates, scorer([c.text for c in candidates]))


Scorer = Callable[[Sequence[str]], list[tuple[float, int]]]
