"""Transition templates: crossfader/EQ/filter curves in normalised time, warped onto the bar grid.

A template (templates/*.json) says what happens over a transition of `bars` bars, with time t
running 0 → 1 and decks named by role: "out" (the track leaving) and "in" (the track arriving).
Crossfader values mean "how far toward the incoming deck" (0 = only the outgoing one). `realize`
turns a template into `copilot.bridge.envelope.Envelope`s in absolute beats for real decks:
t · bars · beats-per-bar after the start bar, each breakpoint snapped to the beat (or bar) grid,
crossfader values mirrored when the incoming deck sits on the left. The result goes straight to
`SafetyScheduler.envelope()`, which caps and slew-limits it like any other envelope.

Besides the bundled templates, the performer's own live in the user data folder (`transitions/`,
written by `copilot transitions learn`, see learn.py); `templates()` reads them again whenever that
folder changes, so a template learned a moment ago is one the planner can use at once. A learned
template carries the `context` it was learned in (key distance, tempo change, energies, phrase roles),
which the planner compares with the pair it is mixing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from copilot.bridge.envelope import Breakpoint, Curve, Envelope
from copilot.bridge.params import PARAMS
from copilot.intents.schema import Deck

ROLES = ("out", "in")
GRIDS = ("beat", "bar", "none")


class TemplateError(ValueError):
    """A template file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Curve01:
    param: str
    role: str | None  # "out" | "in" | None (mixer-wide: crossfader)
    points: tuple[tuple[float, float, Curve], ...]


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    bars: int
    grid: str
    curves: tuple[Curve01, ...]
    context: dict[str, Any] = field(default_factory=dict, compare=False)  # where a learned one came from
    learned: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "description": self.description, "bars": self.bars, "grid": self.grid,
            "curves": [{"param": c.param, "deck": c.role, "points": [[t, v, k.value] for t, v, k in c.points]}
                       for c in self.curves]}
        if self.context:
            out["context"] = dict(self.context)
        if self.learned:
            out["learned"] = True
        return out

    @classmethod
    def from_dict(cls, ident: str, data: dict[str, Any]) -> Template:
        where = f"transition template {ident!r}"
        try:
            bars = int(data.get("bars", 16))
            grid = str(data.get("grid", "beat"))
            curves = []
            for c in data["curves"]:
                param = str(c["param"])
                role = c.get("deck")
                if param not in PARAMS:
                    raise TemplateError(f"{where}: unknown parameter {param!r}")
                if role not in (*ROLES, None):
                    raise TemplateError(f"{where}: deck must be 'out', 'in' or absent, not {role!r}")
                if PARAMS[param].per_deck and role is None:
                    raise TemplateError(f"{where}: {param} belongs to a deck: say 'out' or 'in'")
                pts = tuple((float(p[0]), float(p[1]), Curve(p[2] if len(p) > 2 else "linear")) for p in c["points"])
                ts = [p[0] for p in pts]
                if not pts or ts != sorted(ts) or ts[0] < 0 or ts[-1] > 1:
                    raise TemplateError(f"{where}: {param} times must rise within 0..1")
                if any(not 0.0 <= p[1] <= 1.0 for p in pts):
                    raise TemplateError(f"{where}: {param} values must lie in 0..1")
                curves.append(Curve01(param, role, pts))
        except (KeyError, TypeError, IndexError) as exc:
            raise TemplateError(f"{where}: malformed ({exc})") from None
        except ValueError as exc:
            if isinstance(exc, TemplateError):
                raise
            raise TemplateError(f"{where}: {exc}") from None
        if bars <= 0 or grid not in GRIDS:
            raise TemplateError(f"{where}: bars must be positive and grid one of {', '.join(GRIDS)}")
        context = data.get("context") or {}
        if not isinstance(context, dict):
            raise TemplateError(f"{where}: context must be a table of facts")
        return cls(ident, str(data.get("name", ident)), str(data.get("description", "")), bars, grid, tuple(curves),
                   dict(context), bool(data.get("learned", False)))


@cache
def bundled() -> dict[str, Template]:
    """Every bundled template by id (file name without .json)."""
    found = {}
    for entry in resources.files("copilot.phrase_db").joinpath("templates").iterdir():
        if entry.name.endswith(".json"):
            ident = entry.name[:-5]
            found[ident] = Template.from_dict(ident, json.loads(entry.read_text()))
    return dict(sorted(found.items()))


def user_folder() -> Path:
    """Where learned templates live (COPILOT_TRANSITIONS overrides: tests, a shared folder)."""
    override = os.environ.get("COPILOT_TRANSITIONS")
    return Path(override).expanduser() if override else _default_folder()


@cache
def _default_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("copilot")) / "transitions"


_learned_cache: dict[str, Any] = {"key": None, "found": {}, "problems": []}


def learned(folder: Path | None = None) -> dict[str, Template]:
    """The performer's templates, read again whenever the folder changes (`learn` writes each file
    through a new name, so the folder's own time moves: one stat per call). A broken file is skipped
    (and named in `problems()`), never fatal."""
    folder = folder or user_folder()
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return {}
    if key == _learned_cache["key"]:
        return dict(_learned_cache["found"])
    files = sorted(folder.glob("*.json"))
    found: dict[str, Template] = {}
    problems: list[str] = []
    for f in files:
        try:
            tpl = Template.from_dict(f.stem, json.loads(f.read_text()))
        except (OSError, ValueError) as exc:
            problems.append(f"{f.name}: {exc}")
            continue
        found[f.stem] = Template(tpl.id, tpl.name, tpl.description, tpl.bars, tpl.grid, tpl.curves, tpl.context,
                                 learned=True)
    _learned_cache.update(key=key, found=found, problems=problems)
    return dict(found)


def problems() -> list[str]:
    """Learned template files that could not be read, last time they were looked at."""
    return list(_learned_cache["problems"])


def templates() -> dict[str, Template]:
    """Every template by id: the bundled ones, then the performer's own (a learned one never replaces a
    bundled one of the same name)."""
    return {**learned(), **bundled()}


def template(name: str) -> Template:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return templates()[key]
    except KeyError:
        from copilot.bridge.settings import did_you_mean

        raise TemplateError(f"no transition {name!r}; {did_you_mean(key, list(templates()))}") from None


def realize(tpl: Template | str, start_beat: float, out_deck: Deck | str = "A", in_deck: Deck | str = "B",
            bars: int | None = None, beats_per_bar: int = 4, grid: str | None = None) -> list[Envelope]:
    """The template as envelopes in absolute beats, starting on `start_beat` (a bar line).

    `bars` stretches or squeezes the whole shape (a 16-bar blend done in 8); `grid` overrides the
    template's snapping ("beat", "bar" or "none").
    """
    tpl = template(tpl) if isinstance(tpl, str) else tpl
    out_deck, in_deck = Deck(str(out_deck).upper()), Deck(str(in_deck).upper())
    if out_deck == in_deck:
        raise ValueError("a transition needs two different decks")
    span = (bars or tpl.bars) * beats_per_bar
    step = {"beat": 1.0, "bar": float(beats_per_bar), "none": 0.0}[grid or tpl.grid]
    mirror = in_deck.index % 2 == 0  # the incoming deck is on the crossfader's left (A or C)
    envs = []
    for c in tpl.curves:
        points = []
        for t, v, curve in c.points:
            offset = t * span
            if step:
                offset = round(offset / step) * step
            value = 1.0 - v if c.param == "crossfader" and mirror else v
            points.append(Breakpoint(start_beat + offset, value, curve))
        deck = None if c.role is None else (out_deck if c.role == "out" else in_deck).value
        envs.append(Envelope(c.param, tuple(points), deck))
    return envs
