"""Ableton Live: the CC table (`tables/ableton-live.toml`) and the User Remote Script generated from it.

Live binds a plain MIDI controller through a *User Remote Script*: a folder in its preferences'
`User Remote Scripts/` holding one `UserConfiguration.txt`. Live reads that file with Python's
`ConfigParser` (keys as in Ableton's own `_UserScript`: [Globals], [DeviceControls], [MixerControls],
[TransportControls]; channels 0-based, -1 = unassigned, every control a CC). Inline comments would break
its `getint`, so every comment here sits on a line of its own.

The same table tells the `ableton-live` target which CC carries which parameter, so the file and the
bytes on the wire cannot drift apart.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .table import TableError, packaged_path, read

TABLE_PATH = packaged_path("ableton-live")
STRIPS = 8  # channel strips a user script drives (the current mixer bank)
ENCODERS = 16  # Live 11+ reads Encoder1…16; older versions stop at 8
PADS = 16
# Map modes Live's user scripts understand (ableton.v3.control_surface.MapMode).
MAP_MODES = (
    "Absolute", "Absolute14Bit",
    "AccelSignedBit", "AccelSignedBit2", "AccelBinaryOffset", "AccelTwoCompliment",
    "LinearSignedBit", "LinearSignedBit2", "LinearBinaryOffset", "LinearTwoCompliment",
)
# Transport buttons Live's generic script knows (key + "Button" in [TransportControls]).
TRANSPORT_KEYS = ("Stop", "Play", "Rec", "SessionRec", "Over", "Metro", "Loop", "Rwd", "Ffwd",
                  "PunchIn", "PunchOut", "NudgeUp", "NudgeDown", "TapTempo")
LOOP_LENGTH = "loop_length"  # the one macro that is not a copilot parameter: Beat Repeat's grid


@dataclass(frozen=True)
class Binding:
    """One control in Live: which CC on which channel carries which copilot parameter."""

    param: str
    channel: int
    cc: int
    fourteen_bit: bool
    where: str  # in Live's words, for docs and `copilot mappings show`
    scale: float = 1.0  # copilot value × scale = Live's control value (mixer 0 dB points)

    def wire_ccs(self) -> tuple[int, ...]:
        return (self.cc, self.cc + 32) if self.fourteen_bit else (self.cc,)


@dataclass(frozen=True)
class AbletonTable:
    folder: str
    input_port: str
    output_port: str
    channel: int
    device_map_mode: str
    volume_map_mode: str
    sends_map_mode: str
    crossfader_map_mode: str
    macros: tuple[Binding, ...]
    volume: tuple[Binding, ...]
    send1: tuple[Binding, ...]
    send2: tuple[Binding, ...]
    master: Binding | None
    crossfader: Binding | None
    transport: dict[str, int]
    loop_beats: tuple[float, ...]
    osc: dict[str, Any]
    fx: dict[str, tuple[int, int]] = field(default_factory=dict)

    # -- lookups for the target -----------------------------------------------------------------
    def binding(self, param: str, deck_index: int | None = None) -> Binding | None:
        """The control that carries `param` (for a deck's strip when the parameter is per track)."""
        for b in self.macros:
            if b.param == param:
                return b
        strip = 0 if deck_index is None else deck_index
        if param == "volume" and strip < len(self.volume):
            return self.volume[strip]
        if param == "fx_send" and strip < len(self.send1):
            return self.send1[strip]
        if param == "master_gain":
            return self.master
        if param == "crossfader":
            return self.crossfader
        return None

    def params(self) -> frozenset[str]:
        names = {b.param for b in self.macros if b.param != LOOP_LENGTH} | {"volume", "fx_send"}
        if self.master:
            names.add("master_gain")
        if self.crossfader:
            names.add("crossfader")
        return frozenset(names)

    def all_bindings(self) -> Iterator[Binding]:
        yield from self.macros
        yield from self.volume
        yield from self.send1
        yield from self.send2
        if self.master:
            yield self.master
        if self.crossfader:
            yield self.crossfader
        for key, cc in self.transport.items():
            yield Binding(key.lower(), self.channel, cc, False, f"transport {key}")

    def loop_value(self, beats: float) -> float:
        """The loop-length macro position for a loop of `beats` (the nearest length Beat Repeat has)."""
        grid = self.loop_beats
        i = min(range(len(grid)), key=lambda k: abs(math.log2(grid[k]) - math.log2(beats)))
        return i / (len(grid) - 1) if len(grid) > 1 else 0.0


# -- loading and checking ------------------------------------------------------------------------------
def load_table(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
               known_params: Collection[str] | None = None) -> AbletonTable:
    """The table from TOML, with copilot.toml's [targets.ableton-live] `osc`/`fx`/`script` overrides.

    `known_params`: copilot's parameter names (the target passes them; this floor knows no bridge).
    """
    raw = read(path or TABLE_PATH)
    for section in ("script", "osc", "fx"):
        if overrides and isinstance(overrides.get(section), Mapping):
            raw.setdefault(section, {}).update(overrides[section])
    try:
        table = _build(raw)
    except (KeyError, TypeError) as exc:
        raise TableError(f"ableton table: missing or malformed entry {exc}") from exc
    check(table, known_params)
    return table


def _build(raw: dict[str, Any]) -> AbletonTable:
    script, device, mixer = raw["script"], raw["device"], raw["mixer"]
    dev14 = device["map_mode"] == "Absolute14Bit"
    vol14 = mixer["volume_map_mode"] == "Absolute14Bit"
    send14 = mixer["sends_map_mode"] == "Absolute14Bit"
    xf14 = mixer.get("crossfader_map_mode", "Absolute") == "Absolute14Bit"
    g = int(script["channel"])
    macros = tuple(
        Binding(str(m["param"]), int(device["channel"]), int(m["cc"]), dev14, f"device parameter {int(m['macro'])}")
        for m in device["macros"]
    )
    vol_ch = int(mixer["volume_channel"])
    volume = tuple(Binding("volume", vol_ch, int(cc), vol14, f"track {i + 1} volume", float(mixer["volume_scale"]))
                   for i, cc in enumerate(mixer["volume_cc"]))
    send1 = tuple(Binding("fx_send", g, int(cc), send14, f"track {i + 1} send A")
                  for i, cc in enumerate(mixer["send1_cc"]))
    send2 = tuple(Binding("send_b", g, int(cc), send14, f"track {i + 1} send B")
                  for i, cc in enumerate(mixer.get("send2_cc", [])))
    master = None
    if mixer.get("master_volume_cc", -1) >= 0:
        master = Binding("master_gain", int(mixer["master_volume_channel"]), int(mixer["master_volume_cc"]), vol14,
                         "master volume", float(mixer["master_scale"]))
    crossfader = None
    if mixer.get("crossfader_cc", -1) >= 0:
        crossfader = Binding("crossfader", int(mixer["crossfader_channel"]), int(mixer["crossfader_cc"]), xf14,
                             "crossfader")
    fx = {str(name).lower(): (int(v["device"]), int(v["parameter"])) for name, v in raw.get("fx", {}).items()}
    return AbletonTable(
        folder=str(script["folder"]), input_port=str(script["input_port"]), output_port=str(script["output_port"]),
        channel=g, device_map_mode=device["map_mode"], volume_map_mode=mixer["volume_map_mode"],
        sends_map_mode=mixer["sends_map_mode"], crossfader_map_mode=mixer.get("crossfader_map_mode", "Absolute"),
        macros=macros, volume=volume, send1=send1, send2=send2, master=master, crossfader=crossfader,
        transport={str(k): int(v) for k, v in raw.get("transport", {}).items()},
        loop_beats=tuple(float(b) for b in raw["loop"]["beats"]), osc=dict(raw.get("osc", {})), fx=fx,
    )


def check(table: AbletonTable, known_params: Collection[str] | None = None) -> None:
    """Everything Live would silently ignore or mis-map becomes a TableError naming the entry."""
    if not table.folder or not table.folder[0].isalpha():
        raise TableError(f"the script folder must start with a letter (Live skips others): {table.folder!r}")
    for mode in (table.device_map_mode, table.volume_map_mode, table.sends_map_mode, table.crossfader_map_mode):
        if mode not in MAP_MODES:
            raise TableError(f"unknown map mode {mode!r}; Live knows {', '.join(MAP_MODES)}")
    if len(table.macros) > 8:
        raise TableError("a device bank has 8 parameters; the table binds more")
    if len(table.volume) > STRIPS or len(table.send1) > STRIPS or len(table.send2) > STRIPS:
        raise TableError(f"Live's user script drives {STRIPS} channel strips")
    for key in table.transport:
        if key not in TRANSPORT_KEYS:
            raise TableError(f"unknown transport button {key!r}; Live knows {', '.join(TRANSPORT_KEYS)}")
    for b in table.macros:
        if known_params is not None and b.param not in known_params and b.param != LOOP_LENGTH:
            raise TableError(f"{b.where} rides unknown parameter {b.param!r}")
    if not table.loop_beats or any(b <= 0 for b in table.loop_beats):
        raise TableError("[loop] beats must be positive lengths")
    if not 0 <= table.channel <= 15:
        raise TableError(f"channel {table.channel} is not 0..15")
    taken: dict[tuple[int, int], str] = {}
    for b in table.all_bindings():
        if not 0 <= b.channel <= 15:
            raise TableError(f"{b.where}: channel {b.channel} is not 0..15")
        if b.fourteen_bit and not 0 <= b.cc <= 31:
            raise TableError(f"{b.where}: a 14-bit control needs its MSB on CC 0..31, not {b.cc}")
        for cc in b.wire_ccs():
            if not 0 <= cc <= 127:
                raise TableError(f"{b.where}: CC {cc} is not 0..127")
            other = taken.get((b.channel, cc))
            if other is not None:
                raise TableError(f"{b.where} and {other} both use CC {cc} on channel {b.channel + 1}")
            taken[(b.channel, cc)] = b.where


# -- UserConfiguration.txt -----------------------------------------------------------------------------
def user_configuration(table: AbletonTable) -> str:
    """The file Live reads: every key written out (-1 where unassigned), so no Live version guesses."""
    out: list[str] = [
        f"# {table.folder}: a User Remote Script for Ableton Live, written by copilot",
        "# (`copilot mappings install ableton-live`). Change copilot's table, not this file: it is regenerated.",
        f"# Live: Settings > Link, Tempo & MIDI > Control Surface \"{table.folder}\",",
        f"# Input \"{table.input_port}\", Output \"{table.output_port}\".",
        "# Channels are 0-based (15 = MIDI channel 16); -1 = unassigned.",
        "",
        "[Globals]",
        f"GlobalChannel: {table.channel}",
        f"InputName: {table.input_port}",
        f"OutputName: {table.output_port}",
    ]
    for i in range(1, PADS + 1):
        out += [f"Pad{i}Note: -1", f"Pad{i}Channel: -1"]

    out += ["", "[DeviceControls]",
            "# The selected device's parameters (an Audio Effect Rack's macros): copilot's envelopes."]
    for i in range(1, ENCODERS + 1):
        b = table.macros[i - 1] if i <= len(table.macros) else None
        if b is not None:
            out.append(f"# Encoder{i}: {_describe(b)}")
        out += [f"Encoder{i}: {b.cc if b else -1}", f"EncoderChannel{i}: {b.channel if b else -1}"]
    out.append(f"EncoderMapMode: {table.device_map_mode}")
    for i in range(1, 9):
        out.append(f"Bank{i}Button: -1")
    out += ["NextBankButton: -1", "PrevBankButton: -1", "LockButton: -1", "OnOffButton: -1"]

    out += ["", "[MixerControls]",
            "# Strip n = track n of the current mixer bank: deck A = track 1, deck B = track 2 …"]
    for i in range(1, STRIPS + 1):
        b = table.volume[i - 1] if i <= len(table.volume) else None
        if b is not None:
            out.append(f"# VolumeSlider{i}: {_describe(b)}")
        out += [f"VolumeSlider{i}: {b.cc if b else -1}", f"Slider{i}Channel: {b.channel if b else -1}"]
    out.append(f"VolumeMapMode: {table.volume_map_mode}")
    for n, sends in ((1, table.send1), (2, table.send2)):
        out.append(f"# Send{n}Knob: send {'AB'[n - 1]} of each strip, on the global channel")
        for i in range(1, STRIPS + 1):
            out.append(f"Send{n}Knob{i}: {sends[i - 1].cc if i <= len(sends) else -1}")
    out.append(f"SendsMapMode: {table.sends_map_mode}")
    out.append("# Arm buttons stay unassigned: with one bound, Live skips that strip's sends.")
    for key in ("TrackArmButton", "TrackMuteButton", "TrackSoloButton", "TrackSelectButton"):
        for i in range(1, STRIPS + 1):
            out.append(f"{key}{i}: -1")
    if table.master:
        out.append(f"# MasterVolumeSlider: {_describe(table.master)}")
    out += [f"MasterVolumeSlider: {table.master.cc if table.master else -1}",
            f"MasterSliderChannel: {table.master.channel if table.master else -1}",
            "CueVolumeSlider: -1", "CueSliderChannel: -1"]
    if table.crossfader:
        out.append(f"# CrossfaderSlider: {_describe(table.crossfader)}")
    out += [f"CrossfaderSlider: {table.crossfader.cc if table.crossfader else -1}",
            f"CrossfaderSliderChannel: {table.crossfader.channel if table.crossfader else -1}",
            f"CrossfaderMapMode: {table.crossfader_map_mode}",
            "NextBankButton: -1", "PrevBankButton: -1"]

    out += ["", "[TransportControls]", "# Buttons on the global channel: CC value 127 = press, 0 = release."]
    for key in TRANSPORT_KEYS:
        out.append(f"{key}Button: {table.transport.get(key, -1)}")
    return "\n".join(out) + "\n"


def _describe(b: Binding) -> str:
    wire = f"CC {b.cc} MSB + CC {b.cc + 32} LSB (14-bit)" if b.fourteen_bit else f"CC {b.cc}"
    return f"{b.where} = copilot '{b.param}', {wire}, MIDI channel {b.channel + 1}"


def describe_table(table: AbletonTable) -> str:
    """The table as Markdown (docs, `copilot mappings show ableton-live`)."""
    lines = ["| copilot | Live | CC | resolution | channel |", "|---|---|---|---|---|"]
    for b in table.all_bindings():
        res = f"14-bit (LSB CC {b.cc + 32})" if b.fourteen_bit else "7-bit"
        lines.append(f"| {b.param} | {b.where} | {b.cc} | {res} | {b.channel + 1} |")
    return "\n".join(lines) + "\n"


# -- where Live looks ----------------------------------------------------------------------------------
def live_preference_folders(platform: str | None = None, home: Path | None = None,
                            appdata: str | None = None) -> list[Path]:
    """Every installed Live version's preferences folder ("Live 12.1.5" …), newest name last.

    macOS: ~/Library/Preferences/Ableton/Live x.y.z; Windows: %APPDATA%\\Ableton\\Live x.y.z\\Preferences.
    Linux has no Live: [].
    """
    platform = platform or sys.platform
    home = home or Path.home()
    if platform == "darwin":
        base, tail = home / "Library" / "Preferences" / "Ableton", None
    elif platform.startswith("win"):
        root = appdata if appdata is not None else os.environ.get("APPDATA", "")
        if not root:
            return []
        base, tail = Path(root) / "Ableton", "Preferences"
    else:
        return []
    if not base.is_dir():
        return []
    found = [p for p in sorted(base.iterdir()) if p.is_dir() and p.name.startswith("Live ")]
    return [p / tail if tail else p for p in found]


def user_script_folders(platform: str | None = None, home: Path | None = None,
                        appdata: str | None = None) -> list[Path]:
    """`User Remote Scripts/` of every installed Live version (the folder may not exist yet)."""
    return [p / "User Remote Scripts" for p in live_preference_folders(platform, home, appdata)]
