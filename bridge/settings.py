"""The shape of copilot.toml: every key with its type, range, allowed values and hard caps, as data.

Each area declares the tables it reads with these rules (the spine's below and in `safety.py`, each
target in its class's `config_rules`, the motion and voice inputs through the `copilot_settings` hook);
`validate` checks a whole document against them before anything starts, and the command line checks
its flags against the very same rules. The first problem is one sentence naming the key and what is
allowed: a NaN, a wrong type, an unknown key (with "did you mean"), a value over a hard cap.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class SettingError(ValueError):
    """One setting (or flag) that does not fit its rule; the message names it and what is allowed."""


def shown(value: Any, limit: int = 40) -> str:
    """A value as the performer wrote it (TOML-ish), cut short if long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if value != value else ("inf" if value > 0 else "-inf")
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, Mapping):
        text = "a table"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(shown(v, 12) for v in value[:4]) + (", …]" if len(value) > 4 else "]")
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_text(key: str) -> str:
    """A key as TOML writes it: bare, or quoted with its escapes (a newline stays on the line)."""
    return key if BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def did_you_mean(word: str, known: Sequence[str]) -> str:
    """ "did you mean 'x'?" for a near miss, else the list of what is known."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known: {', '.join(known)}" if known else "nothing is known here"


class Rule:
    """One setting's shape. `problem` says what is wrong with a value (None when it fits)."""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError

    def allowed(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Num(Rule):
    """A finite number in lo..hi (a hard cap when the limit is a safety limit); `above`: strictly over lo."""

    lo: float
    hi: float = math.inf
    unit: str = ""
    integer: bool = False
    above: bool = False
    note: str = ""  # why the range is what it is, e.g. "the built-in cap"

    def allowed(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        note = f" ({self.note})" if self.note else ""
        if math.isinf(self.hi):
            return f"{kind} {'above' if self.above else 'of at least'} {self.lo:g}{unit}{note}"
        if self.above:
            return f"{kind} above {self.lo:g} (up to {self.hi:g}{unit}){note}"
        return f"{kind} from {self.lo:g} to {self.hi:g}{unit}{note}"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be {self.allowed()}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be {self.allowed()}"
        if self.integer and not float(value).is_integer():
            return f"must be {self.allowed()}"
        if value < self.lo or value > self.hi or (self.above and value <= self.lo):
            return f"must be {self.allowed()}"
        return None

    def take(self, value: Any) -> float | int:
        """The checked value as its consumer wants it (an int for whole numbers)."""
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Switch(Rule):
    def allowed(self) -> str:
        return "true or false"

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else "must be true or false"


@dataclass(frozen=True)
class Choice(Rule):
    options: tuple[str, ...]
    fold: bool = False  # case does not matter

    def allowed(self) -> str:
        return "one of " + ", ".join(self.options)

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be {self.allowed()}"
        options = [o.lower() for o in self.options] if self.fold else list(self.options)
        if (value.lower() if self.fold else value) in options:
            return None
        close = difflib.get_close_matches(value, list(self.options), n=1, cutoff=0.6)
        return f"must be {self.allowed()}" + (f" (did you mean '{close[0]}'?)" if close else "")


@dataclass(frozen=True)
class Text(Rule):
    """Any short text (a name, a path); `check` may refuse it with a reason (e.g. an address parser)."""

    what: str = "text"
    check: Callable[[str], Any] | None = field(default=None, compare=False)
    empty: bool = False  # "" allowed (e.g. "off")
    numbers: bool = False  # a bare number is taken too (a port, a device index)

    def allowed(self) -> str:
        return self.what

    def problem(self, value: Any) -> str | None:
        if self.numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return f"must be {self.what}"
        if "\x00" in value or len(value) > 4096:
            return f"must be {self.what}"
        if not value.strip():
            return None if self.empty else f"must be {self.what}, not empty"
        if self.check is not None:
            try:
                self.check(value)
            except (ValueError, OSError) as exc:
                return f"must be {self.what}" + (f" ({exc})" if str(exc) else "")
        return None


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    single: bool = False  # one value may stand for a list of one
    most: int = 256

    def allowed(self) -> str:
        return f"a list of {self.item.allowed()}" + (" (or just one)" if self.single else "")

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            if self.single and not isinstance(value, Mapping):
                why = self.item.problem(value)
                return None if why is None else f"must be {self.allowed()}: {why}"
            return f"must be {self.allowed()}"
        if len(value) > self.most:
            return f"must be {self.allowed()} (at most {self.most})"
        for i, item in enumerate(value):
            why = self.item.problem(item)
            if why is not None:
                return f"item {i + 1} ({shown(item)}) {why}"
        return None


@dataclass(frozen=True)
class AnyOf(Rule):
    rules: tuple[Rule, ...]

    def allowed(self) -> str:
        return " or ".join(r.allowed() for r in self.rules)

    def problem(self, value: Any) -> str | None:
        if any(r.problem(value) is None for r in self.rules):
            return None
        return f"must be {self.allowed()}"


@dataclass(frozen=True)
class Table(Rule):
    """A TOML table: its known keys, or (`each`) any key of a kind, e.g. a device pattern. `names`
    restricts those keys (a known parameter); `check` runs the area's own checks on the whole table
    (a SettingError/ValueError there names what is wrong)."""

    fields: Mapping[str, Rule] = field(default_factory=dict)
    each: Rule | None = None
    names: Sequence[str] | None = None
    fold: bool = False  # key case does not matter (grid kinds)
    required: tuple[str, ...] = ()
    check: Callable[[dict[str, Any]], Any] | None = field(default=None, compare=False)
    what: str = "a table"

    def allowed(self) -> str:
        return self.what

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, Mapping) else f"must be {self.what} ([section] or {{ … }})"

    def rule_for(self, key: str) -> Rule | None:
        if key in self.fields:
            return self.fields[key]
        if self.each is not None:
            if self.names is None:
                return self.each
            names = {n.lower() if self.fold else n for n in self.names}
            if (key.lower() if self.fold else key) in names:
                return self.each
        return None

    def known(self) -> list[str]:
        return [*self.fields, *(self.names or [])]


def where_text(path: Sequence[str]) -> str:
    """['safety', 'params', 'trim', 'hi'] → "[safety.params.trim] hi"; a whole table → "[safety.params]"."""
    if not path:
        return "the file"
    *tables, key = path
    if not tables:
        return f"[{key_text(key)}]"
    return f"[{'.'.join(key_text(t) for t in tables)}] {key_text(key)}"


def validate(value: Any, rule: Rule, path: Sequence[str] = ()) -> None:
    """Check `value` against `rule`, depth first; the first problem raises SettingError (one line)."""
    why = rule.problem(value)
    if why is not None:
        where = where_text(path)
        if isinstance(rule, Table) and path:
            raise SettingError(f"{where} {why}, not {shown(value)}")
        raise SettingError(f"{where} = {shown(value)}: {why}")
    if isinstance(rule, AnyOf):  # the first shape that fits is held to in depth (a table's keys too)
        validate(value, next(r for r in rule.rules if r.problem(value) is None), path)
        return
    if not isinstance(rule, Table):
        return
    for key, item in value.items():
        sub = rule.rule_for(str(key))
        if sub is None:
            inside = f"[{'.'.join(key_text(p) for p in path)}]" if path else "copilot.toml"
            hint = did_you_mean(str(key), rule.known())
            raise SettingError(f"{inside} has no setting {shown(str(key), 60)} ({hint})")
        validate(item, sub, [*path, str(key)])
    missing = [k for k in rule.required if k not in value]
    if missing:
        inside = f"[{'.'.join(key_text(p) for p in path)}]" if path else "copilot.toml"
        raise SettingError(f"{inside} needs {' and '.join(repr(k) for k in missing)}")
    if rule.check is not None:
        try:
            rule.check(dict(value))
        except (ValueError, TypeError, KeyError) as exc:
            inside = f"[{'.'.join(key_text(p) for p in path)}]" if path else "copilot.toml"
            raise SettingError(f"{inside}: {exc}") from None


def check_flag(flag: str, value: Any, rule: Rule) -> None:
    """A command-line flag against the rule of the setting it stands for: '--tempo 0: must be …'.
    A repeatable flag is held to its list's item rule, one value at a time."""
    if isinstance(rule, ListOf) and isinstance(value, list | tuple):
        for item in value:
            check_flag(flag, item, rule.item)
        return
    why = rule.problem(value)
    if why is not None:
        said = f"{value:g}" if isinstance(value, float) else shown(value, 60)
        raise SettingError(f"{flag} {said}: {why}")


def leaves(rule: Rule, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Rule]]:
    """Every key under `rule`: tables by their known fields, `each` tables under "*" (any name)."""
    if isinstance(rule, AnyOf):
        tables = [r for r in rule.rules if isinstance(r, Table)]
        return [(path, rule)] + [leaf for t in tables for leaf in leaves(t, path)[0 if t.fields else 1:]]
    if not isinstance(rule, Table):
        return [(path, rule)]
    out: list[tuple[tuple[str, ...], Rule]] = []
    for key, sub in rule.fields.items():
        out += leaves(sub, (*path, key))
    if rule.each is not None:
        out += leaves(rule.each, (*path, "*"))
    return out


# Shapes several areas share.
PORT_NAME = Text("a MIDI port name")
PATH = Text("a path")
UDP_PORT = Num(1, 65535, integer=True)
