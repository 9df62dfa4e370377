"""The one table loader, and the row table every MIDI DJ host (Serato, Mixxx) is driven by.

Every declarative table copilot ships is a TOML file in ``mappings/tables/`` named after its target
(``serato-dj-pro.toml``, ``mixxx.toml``, ``ableton-live.toml``, ``strudel.toml``). `read` is the only
code that parses them, and `TableError` the only error a broken table (or a performer's override of
one) raises; ``ableton.py`` and ``strudel.py`` build their own shapes from what `read` returns.

The row table: every message copilot may send to a DJ host, and the host function it drives. A performer corrects a row
without touching code: a file of the same name in the copilot config folder
(``<config>/mappings/<target>.toml``) may replace fields of rows by name, remove rows
(``remove = true``) or add new ones. The generators (``serato.py``, ``mixxx.py``) turn a table into
the host's mapping files, and the targets render actions with the same rows, so what is installed and
what is sent can never disagree.

``[table.defaults]`` gives host fields every row has unless it says otherwise.

A row is either an *action* row (``actions = ["PLAY"]``: a button press, or one message for an
action argument such as ``args = {beats = 4}``) or a *parameter* row (``param = "filter"``: a CC
carrying a normalised value). ``per_deck`` rows exist once per deck on the deck's channel (A = 1 …);
other rows sit on a fixed ``channel`` (1..16). ``{deck}`` in a host field is the deck number 1..4.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from copilot.intents.schema import Deck

# The status byte (channel 1) each message kind has in the hosts' own files (Mixxx's <status>, Serato's
# preset): data written into files. The bytes copilot sends are built by copilot.bridge.midi only.
MESSAGES = {"note": 0x90, "cc": 0xB0}
STATUSES = {"V": "seen in real host files or docs", "I": "inferred from several files",
            "U": "unverified: may not work in the host"}
FEEDBACK_FIELDS = ("playing", "loop", "loaded", "hotcue", "fx")
COMMON_KEYS = {"name", "actions", "param", "args", "per_deck", "channel", "message", "number", "fourteen_bit",
               "relative", "status", "feedback", "note", "remove"}


class TableError(ValueError):
    """A table (or a user's override of it) that cannot be used; the message names the row and the fix."""


@dataclass(frozen=True)
class Row:
    name: str
    actions: tuple[str, ...]
    param: str | None
    args: Mapping[str, Any]
    per_deck: bool
    channel: int | None  # 1..16 for rows that are not per deck
    message: str  # "note" | "cc"
    number: int
    fourteen_bit: bool
    relative: bool  # a relative encoder (two's complement: 1 = one step down, 127 = one step up)
    status: str  # V | I | U
    feedback: str | None  # the deck field the host's output for this control reports
    note: str
    host: Mapping[str, Any]  # host-specific fields (Serato function/deck_set…, Mixxx group/key…)

    @property
    def verified(self) -> bool:
        return self.status == "V"

    @property
    def what(self) -> str:
        """What the row is for, in the table's own words (``LOOP beats=4``, ``param filter``)."""
        if self.param:
            return f"param {self.param}"
        args = " ".join(f"{k}={_fmt(v)}" for k, v in self.args.items())
        return "/".join(self.actions) + (f" {args}" if args else "")


@dataclass(frozen=True)
class Control:
    """One row made concrete for one deck: the exact message on the wire."""

    row: Row
    deck: Deck | None
    channel: int  # 0..15 on the wire

    @property
    def status_byte(self) -> int:
        """The status number a host's mapping file lists for this control (kind and channel)."""
        return MESSAGES[self.row.message] | self.channel

    @property
    def number(self) -> int:
        return self.row.number

    def field(self, key: str, default: Any = None) -> Any:
        """A host field with ``{deck}`` filled in (strings, and lists of strings, are formatted)."""
        return _fill(self.row.host.get(key, default), self.deck)


@dataclass
class Table:
    target: str
    meta: dict[str, Any]
    rows: list[Row]
    decks: int = 4
    sources: list[str] = field(default_factory=list)  # where it came from (packaged file, override)

    def __post_init__(self) -> None:
        self._by_what: dict[tuple[str, Deck | None, tuple[tuple[str, Any], ...]], Control] = {}
        self._by_wire: dict[tuple[str, int, int], Control] = {}
        for control in self.controls():
            row = control.row
            keys = [row.param] if row.param else list(row.actions)
            for key in keys:
                self._by_what.setdefault((key, control.deck, _args_key(row.args)), control)
            wires = [(row.message, control.channel, row.number)]
            if row.fourteen_bit:
                wires.append((row.message, control.channel, row.number + 32))
            for wire in wires:
                other = self._by_wire.get(wire)
                if other is not None:
                    raise TableError(
                        f"{self.target}: rows '{other.row.name}' and '{row.name}' both use "
                        f"{row.message} {wire[2]} on channel {control.channel + 1}; give one another number"
                    )
                self._by_wire[wire] = control

    def controls(self) -> list[Control]:
        """Every row made concrete: per-deck rows once for each deck, in table order."""
        out: list[Control] = []
        for row in self.rows:
            if row.per_deck:
                out += [Control(row, Deck.from_index(i), i) for i in range(self.decks)]
            else:
                out.append(Control(row, None, (row.channel or 16) - 1))
        return out

    def find(self, what: str, deck: Deck | None = None, **args: Any) -> Control | None:
        """The control for an action kind (``"LOOP", beats=4``) or parameter name on a deck, or None."""
        return self._by_what.get((what, deck, _args_key(args)))

    def by_wire(self, message: str, channel: int, number: int) -> Control | None:
        """The control that owns a message ("note" | "cc", channel 0..15, number); a note off is a note."""
        return self._by_wire.get((message, channel, number))

    def row(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"{self.target} has no row {name!r}")

    def covers(self, what: str) -> bool:
        return any(what == r.param or what in r.actions for r in self.rows)

    def statuses(self, what: str) -> set[str]:
        return {r.status for r in self.rows if what == r.param or what in r.actions}


# -- loading ------------------------------------------------------------------------------------------
def packaged_path(target: str) -> Path:
    """The table copilot ships for `target` (mappings/tables/<target>.toml)."""
    return Path(str(resources.files("copilot.mappings.tables").joinpath(f"{target}.toml")))


def override_path(target: str) -> Path:
    """Where a performer's corrections live: ``<user config>/copilot/mappings/<target>.toml``."""
    import platformdirs

    return Path(platformdirs.user_config_dir("copilot")) / "mappings" / f"{target}.toml"


def load_table(target: str, override: Path | bool | None = True, required: Iterable[str] = ()) -> Table:
    """The packaged table for `target`, with the user's override applied (True = the default place,
    a path = that file, False/None = none). `required` names host fields every row must have."""
    base = packaged_path(target)
    data = read(base)
    sources = [str(base)]
    if isinstance(override, Path) and not override.exists():
        raise TableError(f"{target}: the table override {override} does not exist")
    if override is True:
        override = override_path(target)
    if isinstance(override, Path) and override.exists():
        data = merge(data, read(override), str(override))
        sources.append(str(override))
    return build(target, data, required, sources)


_READ: dict[tuple[str, int, int], dict[str, Any]] = {}  # (path, mtime, size) → parsed: each target reads often


def read(path: Path) -> dict[str, Any]:
    """One table file as plain data (a fresh copy: callers may change it); TableError (naming the file)
    if it cannot be read or parsed."""
    try:
        st = os.stat(path)
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in _READ:
            if len(_READ) > 64:
                _READ.clear()
            with open(path, "rb") as fh:
                _READ[key] = tomllib.loads(fh.read().decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise TableError(f"{path} is not a text file (a table is UTF-8 TOML)") from None
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None
    return copy.deepcopy(_READ[key])


def merge(base: dict[str, Any], override: dict[str, Any], where: str = "override") -> dict[str, Any]:
    """Apply an override: `[table]` keys replace, rows replace fields by name, `remove = true` drops one."""
    unknown = set(override) - {"table", "row"}
    if unknown:
        raise TableError(f"{where}: unknown section(s) {sorted(unknown)}; use [table] and [[row]]")
    meta = {**base.get("table", {}), **override.get("table", {})}
    rows = [dict(r) for r in base.get("row", [])]
    index = {r.get("name"): i for i, r in enumerate(rows)}
    drop: set[str] = set()
    for patch in override.get("row", []):
        name = patch.get("name")
        if not isinstance(name, str) or not name:
            raise TableError(f"{where}: every [[row]] needs a name (the row it replaces or adds)")
        if patch.get("remove"):
            if name not in index:
                raise TableError(f"{where}: cannot remove row '{name}': there is no such row")
            drop.add(name)
        elif name in index:
            rows[index[name]].update(patch)
        else:
            index[name] = len(rows)
            rows.append(dict(patch))
    return {"table": meta, "row": [r for r in rows if r.get("name") not in drop]}


def build(target: str, data: dict[str, Any], required: Iterable[str] = (), sources: list[str] | None = None) -> Table:
    meta = dict(data.get("table", {}))
    decks = meta.get("decks", 4)
    if not isinstance(decks, int) or not 1 <= decks <= 4:
        raise TableError(f"{target}: [table] decks must be 1..4, got {decks!r}")
    defaults = meta.get("defaults", {})
    if not isinstance(defaults, dict):
        raise TableError(f"{target}: [table.defaults] must be a table of host fields")
    rows: list[Row] = []
    names: set[str] = set()
    for i, raw in enumerate(data.get("row", [])):
        row = _row(target, i, {**defaults, **raw}, tuple(required))
        if row.name in names:
            raise TableError(f"{target}: two rows are named '{row.name}'; row names must be unique")
        names.add(row.name)
        rows.append(row)
    return Table(target, meta, rows, decks, sources or [])


def _row(target: str, index: int, raw: dict[str, Any], required: tuple[str, ...]) -> Row:
    name = raw.get("name")
    where = f"{target} row '{name}'" if name else f"{target} row {index + 1}"

    def fail(msg: str) -> TableError:
        return TableError(f"{where}: {msg}")

    if not isinstance(name, str) or not name:
        raise fail("needs a name")
    actions = raw.get("actions", [])
    if isinstance(actions, str):
        actions = [actions]
    param = raw.get("param")
    if bool(actions) == bool(param):
        raise fail("give either actions = [...] or param = \"...\" (exactly one)")
    message = raw.get("message")
    if message not in MESSAGES:
        raise fail(f"message must be 'note' or 'cc', not {message!r}")
    number = raw.get("number")
    if not isinstance(number, int) or not 0 <= number <= 127:
        raise fail(f"number must be 0..127, not {number!r}")
    fourteen = bool(raw.get("fourteen_bit", False))
    if fourteen and (message != "cc" or number > 31):
        raise fail("a 14-bit row must be a cc with an MSB number 0..31 (the LSB is number + 32)")
    per_deck = bool(raw.get("per_deck", False))
    channel = raw.get("channel")
    if per_deck and channel is not None:
        raise fail("a per-deck row takes the deck's channel; drop 'channel'")
    if not per_deck and (not isinstance(channel, int) or not 1 <= channel <= 16):
        raise fail(f"a row that is not per deck needs channel = 1..16, not {channel!r}")
    status = raw.get("status", "U")
    if status not in STATUSES:
        raise fail(f"status must be V, I or U, not {status!r}")
    feedback = raw.get("feedback")
    if feedback is not None and feedback not in FEEDBACK_FIELDS:
        raise fail(f"feedback must be one of {', '.join(FEEDBACK_FIELDS)}, not {feedback!r}")
    args = raw.get("args", {})
    if not isinstance(args, dict):
        raise fail("args must be a table, e.g. args = {beats = 4}")
    host = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
    missing = [k for k in required if k not in host]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    return Row(
        name=name, actions=tuple(str(a).upper() for a in actions), param=param, args=dict(args), per_deck=per_deck,
        channel=None if per_deck else channel, message=message, number=number, fourteen_bit=fourteen,
        relative=bool(raw.get("relative", False)), status=status, feedback=feedback, note=str(raw.get("note", "")),
        host=host,
    )


# -- helpers ------------------------------------------------------------------------------------------
def _args_key(args: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
                        for k, v in args.items()))


def _fill(value: Any, deck: Deck | None) -> Any:
    number = deck.index + 1 if deck is not None else 0
    if isinstance(value, str):
        return value.replace("{deck}", str(number))
    if isinstance(value, list):
        return [_fill(v, deck) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, deck) for k, v in value.items()}
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, float) and 0 < value < 1:
        return f"1/{round(1 / value)}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cells(table: Table, host_columns: list[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    """The table's headers and one list of cells per row (status last: V, or I/U for unverified rows)."""
    head = ["row", "for", "channel", "message", *[title for title, _ in host_columns], "status"]
    rows = []
    for row in table.rows:
        channel = "deck (A=1…)" if row.per_deck else str(row.channel)
        msg = f"{'Note' if row.message == 'note' else 'CC'} {row.number} (0x{row.number:02X})"
        if row.fourteen_bit:
            msg += f"/{row.number + 32} (14-bit)"
        if row.relative:
            msg += " relative"
        host = [str(row.host.get(key, "")) for _, key in host_columns]
        rows.append([row.name, row.what, channel, msg, *host, row.status])
    return head, rows


def describe(table: Table, host_columns: list[tuple[str, str]]) -> str:
    """The table as Markdown (for docs): one line per row, unverified rows marked."""
    head, rows = cells(table, host_columns)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        mark = row[-1] if row[-1] == "V" else f"**{row[-1]}** ⚠"
        lines.append("| " + " | ".join([*row[:-1], mark]) + " |")
    return "\n".join(lines) + "\n"
