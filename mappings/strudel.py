"""Strudel: the CC table (`tables/strudel.toml`) and the snippet generated from it.

Strudel has no Link, no OSC input and no MIDI clock; its one live input is MIDI CC through WebMIDI
(`midin`). So copilot gives Strudel a port of its own carrying CC only, and a snippet to paste: `midin`
on that port, one named constant per CC, `setcpm` from the current tempo, and an example pattern that
rides them. When the tempo changes copilot prints a fresh `setcpm` line (`tempo_line`).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .table import TableError, packaged_path, read

TABLE_PATH = packaged_path("strudel")
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# Words the snippet itself uses: a control may not take them.
_TAKEN = {"cc", "note", "s", "setcpm", "midin", "lowpass", "highpass", "let", "const", "await"}


@dataclass(frozen=True)
class Control:
    name: str  # the constant in the snippet
    cc: int
    param: str  # the copilot parameter that feeds it
    doc: str = ""


@dataclass(frozen=True)
class TempoCC:
    """The session tempo on two CCs: coarse = floor(v·127), fine = the remainder in 127ths, v = the
    tempo's place between min_bpm and max_bpm (0 is never sent: the snippet reads it as "not yet")."""

    cc: int
    fine_cc: int
    min_bpm: float = 60.0
    max_bpm: float = 200.0

    def values(self, bpm: float) -> tuple[int, int]:
        v = min(max((bpm - self.min_bpm) / (self.max_bpm - self.min_bpm), 0.0), 1.0)
        steps = max(1, round(v * 127 * 127))  # 1..16129: never (0, 0)
        return min(steps // 127, 127), steps % 127

    def bpm(self, coarse: int, fine: int) -> float:
        return self.min_bpm + (coarse + fine / 127) / 127 * (self.max_bpm - self.min_bpm)


@dataclass(frozen=True)
class StrudelTable:
    port: str
    channel: int
    step_beats: float
    controls: tuple[Control, ...]
    tempo: TempoCC | None = None

    def by_param(self, param: str) -> Control | None:
        return next((c for c in self.controls if c.param == param), None)

    def by_name(self, name: str) -> Control | None:
        return next((c for c in self.controls if c.name == name), None)


def load_table(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
               known_params: Collection[str] | None = None) -> StrudelTable:
    """The table from TOML; copilot.toml may rename the port (`port`) or the channel.

    `known_params`: copilot's parameter names (the target passes them; this floor knows no bridge).
    """
    raw = read(path or TABLE_PATH)
    try:
        port = dict(raw["port"])
        if overrides:
            if "port" in overrides:
                port["name"] = overrides["port"]
            if "channel" in overrides:
                port["channel"] = overrides["channel"]
        table = StrudelTable(
            port=str(port["name"]), channel=int(port.get("channel", 0)),
            step_beats=float(raw.get("rate", {}).get("step_beats", 1 / 16)),
            controls=tuple(Control(str(c["name"]), int(c["cc"]), str(c["param"]), str(c.get("doc", "")))
                           for c in raw["controls"]),
            tempo=_tempo(raw.get("tempo")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TableError(f"strudel table: missing or malformed entry {exc}") from exc
    check(table, known_params)
    return table


def _tempo(raw: Any) -> TempoCC | None:
    if not raw:
        return None
    return TempoCC(int(raw["cc"]), int(raw["fine_cc"]), float(raw.get("min_bpm", 60.0)),
                   float(raw.get("max_bpm", 200.0)))


def check(table: StrudelTable, known_params: Collection[str] | None = None) -> None:
    if not table.port or "'" in table.port or "\\" in table.port:
        raise TableError(f"the Strudel port name {table.port!r} must be non-empty, without quotes or backslashes")
    if not 0 <= table.channel <= 15:
        raise TableError(f"channel {table.channel} is not 0..15")
    if not 0 < table.step_beats <= 1:
        raise TableError(f"step_beats {table.step_beats} must be within (0, 1]")
    names: set[str] = set()
    ccs: set[int] = set()
    for c in table.controls:
        if not _IDENT.match(c.name) or keyword.iskeyword(c.name) or c.name in _TAKEN:
            raise TableError(f"control name {c.name!r} cannot be a constant in the snippet")
        if known_params is not None and c.param not in known_params:
            raise TableError(f"control {c.name!r} is fed by unknown parameter {c.param!r}")
        if not 0 <= c.cc <= 127:
            raise TableError(f"control {c.name!r}: CC {c.cc} is not 0..127")
        if c.name in names or c.cc in ccs:
            raise TableError(f"control {c.name!r}: name or CC {c.cc} used twice")
        names.add(c.name)
        ccs.add(c.cc)
    t = table.tempo
    if t is not None:
        if {t.cc, t.fine_cc} & ccs or t.cc == t.fine_cc or not (0 <= t.cc <= 127 and 0 <= t.fine_cc <= 127):
            raise TableError(f"tempo CCs {t.cc}/{t.fine_cc} must be two free CCs 0..127")
        if not 0 < t.min_bpm < t.max_bpm:
            raise TableError(f"tempo range {t.min_bpm}..{t.max_bpm} BPM is empty")


# -- the snippet ---------------------------------------------------------------------------------------
def cycles_per_minute(bpm: float, beats_per_cycle: float = 4.0) -> float:
    """One Strudel cycle = one bar of `beats_per_cycle` beats (the Link quantum)."""
    if not (bpm > 0 and beats_per_cycle > 0):
        raise ValueError("tempo and beats per cycle must be positive")
    return bpm / beats_per_cycle


def tempo_line(bpm: float, beats_per_cycle: float = 4.0) -> str:
    """The line to paste (or re-evaluate) after a tempo change: `setcpm(124/4)` = 124 BPM, a bar a cycle."""
    return f"setcpm({_num(bpm)}/{_num(beats_per_cycle)})"


def snippet(table: StrudelTable, bpm: float = 120.0, beats_per_cycle: float = 4.0) -> str:
    """The whole snippet: tempo, `midin` on the copilot port, named controls, an example pattern."""
    width = max((len(c.name) for c in table.controls), default=0)
    lines = [
        "// copilot → Strudel. Paste into the Strudel REPL and evaluate (Ctrl+Enter).",
        f"// Written by copilot at {_num(bpm)} BPM: when the tempo changes copilot prints a new setcpm line.",
        tempo_line(bpm, beats_per_cycle),
        f"let cc = await midin('{table.port}')",
        "",
    ]
    if table.tempo is not None:
        t = table.tempo
        lo, hi = t.min_bpm / 60 / beats_per_cycle, t.max_bpm / 60 / beats_per_cycle
        now = bpm / 60 / beats_per_cycle
        lines += [
            f"// the session tempo, live from copilot (CC {t.cc} + CC {t.fine_cc}), in cycles per second;",
            "// a pattern follows it with .cps(tempo) (from its next onset); before the first message: the line above",
            f"const tempo = cc({t.cc}).add(cc({t.fine_cc}).div(127))"
            f".fmap(v => v > 0 ? {_num(lo, 6)} + v * {_num(hi - lo, 6)} : {_num(now, 6)})",
            "",
        ]
    lines.append("// copilot's controls, each 0..1, moved by your body and your voice")
    for c in table.controls:
        doc = f"  // {c.doc}" if c.doc else ""
        lines.append(f"const {c.name.ljust(width)} = cc({c.cc}){doc}")
    lines += ["", "// an example that rides them: change anything below"]
    lines += _example(table)
    return "\n".join(lines) + "\n"


def _example(table: StrudelTable) -> list[str]:
    has = {c.name for c in table.controls}
    out: list[str] = []
    chain = ['note("<c2 [c2 eb2] g1 [bb1 c2]>*2").s("sawtooth")']
    if "filter" in has:
        out += [
            "// the one-knob filter: below 0.5 a low-pass closes, above 0.5 a high-pass opens",
            "const lowpass  = filter.fmap(v => v >= 0.5 ? 20000 : 100 * 200 ** (v * 2))",
            "const highpass = filter.fmap(v => v <= 0.5 ? 20 : 20 * 100 ** ((v - 0.5) * 2))",
        ]
        chain.append(".lpf(lowpass).hpf(highpass)")
    if "tension" in has:
        chain.append(".lpq(tension.range(1, 12))")
    if "room" in has:
        chain.append(".room(room)")
    if "fx" in has:
        chain.append(".delay(fx)")
    if "pan" in has:
        chain.append(".pan(pan)")
    if "gain" in has:
        chain.append(".gain(gain)")
    if table.tempo is not None:
        chain.append(".cps(tempo)")
    out.append(chain[0])
    out += [f"  {part}" for part in chain[1:]]
    return out


def _num(x: float, places: int = 3) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.{places}f}".rstrip("0")


def describe_table(table: StrudelTable) -> str:
    lines = [f"Port '{table.port}', CC only, 7-bit, channel {table.channel + 1}.", "",
             "| constant | CC | copilot parameter | meaning |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.cc} | {c.param} | {c.doc} |" for c in table.controls]
    return "\n".join(lines) + "\n"
