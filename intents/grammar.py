"""A tiny sentence-template language and a forgiving matcher for it.

Templates read like Home Assistant's hassil / Rhasspy's sentences.ini:

    loop {beats} [beat | beats] [<deck>]        words, (a | b) alternatives, [optional], {slot}

but instead of exact matching, every heard sentence is aligned against every template with costs:
a near-miss word costs its `fuzzy.word_distance`, an unexpected word costs `UNKNOWN_COST` (a filler
such as "please" or "uh" far less), a missing required word is not allowed. The cheapest alignment
wins; its total cost becomes the confidence. Matching is memoised per (node, position), so a whole
command grammar takes about a millisecond on a short sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fuzzy import word_distance
from .lexicon import FILLER_COST, FILLERS, UNKNOWN_COST

Captures = dict[str, Any]
# A slot reads tokens[i:] and offers (end, cost, value) readings.
SlotReader = Callable[[Sequence[str], int], list[tuple[int, float, Any]]]
MAX_SKIPS = 2  # unexpected words tolerated in a row between two template parts
# A wildcard token (put in by `constrained`, never heard) stands for any one template word or slot
# at this cost: "Billy off" with "*" for "Billy" reads as "{fx} off", whatever the effect was.
WILDCARD = "*"
WILDCARD_COST = 1.0

# How the heard words lined up with a template, piece by piece (for rewriting the sentence):
#   ("w", template word, heard word)   ("s", slot, value | None, heard words)   ("x", skipped word)
Piece = tuple[Any, ...]


class TemplateError(ValueError):
    """A template that does not parse; the message points at it."""


# -- template tree ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Node:
    pass


@dataclass(frozen=True, eq=False)
class Word(Node):
    word: str


@dataclass(frozen=True, eq=False)
class Slot(Node):
    name: str


@dataclass(frozen=True, eq=False)
class Seq(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Alt(Node):
    options: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Opt(Node):
    item: Node


_TOKEN = re.compile(r"\s*(\(|\)|\[|\]|\||\{[a-z_]+\}|[^\s()\[\]|{}]+)")


def compile_template(text: str) -> Node:
    """'loop {beats} [beat|beats]' → a node tree. Raises TemplateError with the template in the message."""
    tokens = [t for t in _TOKEN.findall(text) if t.strip()]
    pos = 0

    def alternatives(closing: str | None) -> Node:
        nonlocal pos
        options = [sequence()]
        while pos < len(tokens) and tokens[pos] == "|":
            pos += 1
            options.append(sequence())
        if closing is not None:
            if pos >= len(tokens) or tokens[pos] != closing:
                raise TemplateError(f"missing '{closing}' in template {text!r}")
            pos += 1
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence() -> Node:
        nonlocal pos
        items: list[Node] = []
        while pos < len(tokens) and tokens[pos] not in ("|", ")", "]"):
            tok = tokens[pos]
            pos += 1
            if tok == "(":
                items.append(alternatives(")"))
            elif tok == "[":
                items.append(Opt(alternatives("]")))
            elif tok.startswith("{"):
                items.append(Slot(tok[1:-1]))
            else:
                items.append(Word(tok.lower()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    node = alternatives(None)
    if pos != len(tokens):
        raise TemplateError(f"unexpected {tokens[pos]!r} in template {text!r}")
    return node


def anchors(node: Node) -> list[frozenset[str]]:
    """Words a sentence must contain for `node` to match: each set needs one member (near-misses count).

    A cheap filter before the alignment: "what time is it" never reaches the LOOP templates.
    """
    if isinstance(node, Word):
        return [frozenset((node.word,))]
    if isinstance(node, Seq):
        return [clause for item in node.items for clause in anchors(item)]
    if isinstance(node, Alt):
        firsts = [anchors(option) for option in node.options]
        if all(firsts):
            return [frozenset().union(*(f[0] for f in firsts))]
    return []  # Opt, Slot: nothing required


def present_words(vocabulary: frozenset[str], tokens: Sequence[str]) -> frozenset[str]:
    """The vocabulary words some token could be (itself or a near-miss): one pass per sentence."""
    return frozenset(w for w in vocabulary if any(word_distance(t, w) is not None for t in tokens))


def could_match_present(clauses: Sequence[frozenset[str]], present: frozenset[str]) -> bool:
    """`could_match`, given `present_words` over every anchor word: a set test per clause."""
    return all(not clause.isdisjoint(present) for clause in clauses)


def could_match(clauses: Sequence[frozenset[str]], tokens: Sequence[str]) -> bool:
    if WILDCARD in tokens:  # a wildcard may be any one anchor
        missing = [c for c in clauses if not any(word_distance(t, w) is not None for t in tokens for w in c)]
        return len(missing) <= tokens.count(WILDCARD)
    return all(any(word_distance(tok, w) is not None for tok in tokens for w in clause) for clause in clauses)


# -- matching --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    cost: float
    captures: Captures
    fuzzy: int  # words read as near-misses or skipped
    path: tuple[Piece, ...] = ()


@dataclass
class _Run:
    tokens: Sequence[str]
    slots: Mapping[str, SlotReader]
    memo: dict[tuple[int, int], dict[int, Match]] = field(default_factory=dict)
    limit: float = math.inf  # readings dearer than this are cut early (costs only ever add up)

    def skip_cost(self, i: int) -> float:
        return FILLER_COST if self.tokens[i] in FILLERS else UNKNOWN_COST


def _better(table: dict[int, Match], end: int, match: Match) -> None:
    old = table.get(end)
    if old is None or match.cost < old.cost - 1e-9:
        table[end] = match


def _join(a: Match, b: Match) -> Match:
    return Match(a.cost + b.cost, {**a.captures, **b.captures} if b.captures else a.captures, a.fuzzy + b.fuzzy,
                 a.path + b.path)


def _match(node: Node, i: int, run: _Run) -> dict[int, Match]:
    key = (id(node), i)
    found = run.memo.get(key)
    if found is not None:
        return found
    out: dict[int, Match] = {}
    tokens = run.tokens
    limit = run.limit
    if isinstance(node, Word):
        if i < len(tokens):
            cost = WILDCARD_COST if tokens[i] == WILDCARD else word_distance(tokens[i], node.word)
            if cost is not None and cost <= limit:
                out[i + 1] = Match(cost, {}, int(cost > 0), (("w", node.word, tokens[i]),))
    elif isinstance(node, Slot):
        reader = run.slots.get(node.name)
        if reader is None:
            raise TemplateError(f"no reader for slot {{{node.name}}}")
        for end, cost, value in reader(tokens, i):
            if cost <= limit:
                _better(out, end, Match(cost, {node.name: value}, int(cost > 0),
                                        (("s", node.name, value, tuple(tokens[i:end])),)))
        if i < len(tokens) and tokens[i] == WILDCARD and limit >= WILDCARD_COST:
            _better(out, i + 1, Match(WILDCARD_COST, {node.name: None}, 1, (("s", node.name, None, (WILDCARD,)),)))
    elif isinstance(node, Opt):
        out[i] = Match(0.0, {}, 0)
        for end, m in _match(node.item, i, run).items():
            _better(out, end, m)
    elif isinstance(node, Alt):
        for option in node.options:
            for end, m in _match(option, i, run).items():
                _better(out, end, m)
    elif isinstance(node, Seq):
        states = {i: Match(0.0, {}, 0)}
        for n, item in enumerate(node.items):
            if n:  # unexpected words between two parts ("loop, uh, four")
                states = _with_skips(states, run)
            nxt: dict[int, Match] = {}
            for start, so_far in states.items():
                for end, m in _match(item, start, run).items():
                    if so_far.cost + m.cost <= limit:
                        _better(nxt, end, _join(so_far, m))
            states = nxt
            if not states:
                break
        out = states
    run.memo[key] = out
    return out


def _with_skips(states: dict[int, Match], run: _Run) -> dict[int, Match]:
    out = dict(states)
    frontier = states
    for _ in range(MAX_SKIPS):
        nxt: dict[int, Match] = {}
        for pos, m in frontier.items():
            if pos < len(run.tokens) and m.cost + run.skip_cost(pos) <= run.limit:
                _better(nxt, pos + 1, Match(m.cost + run.skip_cost(pos), m.captures, m.fuzzy + 1,
                                            (*m.path, ("x", run.tokens[pos]))))
        for pos, m in nxt.items():
            _better(out, pos, m)
        frontier = nxt
    return out


def align(node: Node, tokens: Sequence[str], slots: Mapping[str, SlotReader],
          memo: dict[tuple[int, int], dict[int, Match]] | None = None, limit: float = math.inf) -> Match | None:
    """The cheapest reading of the whole sentence as `node` (leading/trailing stray words cost too).

    With a `limit`, only readings costing at most that are found, far faster; the best of them is the
    true best whenever one is found. A memo must not be shared between different limits.
    """
    run = _Run(tokens, slots, memo if memo is not None else {}, limit)
    best: Match | None = None
    n = len(tokens)
    lead = 0.0
    for start in range(n):
        if start:
            lead += run.skip_cost(start - 1)
        if (best is not None and lead >= best.cost) or lead > limit:
            break
        for end, m in _match(node, start, run).items():
            if end == start:
                continue  # the template must read at least one word
            tail = sum(run.skip_cost(k) for k in range(end, n))
            if m.cost + lead + tail > limit:
                continue
            path = tuple(("x", t) for t in tokens[:start]) + m.path + tuple(("x", t) for t in tokens[end:])
            total = Match(m.cost + lead + tail, m.captures, m.fuzzy + start + (n - end), path)
            if best is None or total.cost < best.cost - 1e-9:
                best = total
    return best
