"""`mixxx`: Mixxx through a generated controller mapping (Copilot.midi.xml + Copilot-scripts.js).

Mixxx's whole mixer is mappable, so this target takes everything a DJ host can: transport, loops, hot
cues, load, library scroll, one effect unit per deck (routing, meta knob, dry/wet), channel fader,
trim, three-band EQ, the quick-effect filter, crossfader and master gain, with 14-bit CCs where the
parameter deserves them. Buttons that Mixxx would toggle (play, sync, loop exit, FX routing) go
through the generated script, which *sets* the state, so PLAY never stops a playing deck.

Feedback: Mixxx sends play_latched, loop_enabled, track_loaded, hotcue_X_status and FX routing back
on the target's input port, if Mixxx pairs our two ports into one controller. Mixxx pairs an input
and an output only when their names match its rules (same name, "… MIDI 1 …", "… in"/"… out" from
its own point of view…), and "Copilot Out"/"Copilot In" match none of them: so this target opens
"Copilot MIDI 1 Out" / "Copilot MIDI 1 In" by default, which Mixxx links (see `mixxx_pairs`).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from copilot.bridge.actions import Action, ActionKind, Timed
from copilot.bridge.host import Capabilities, Check, MappingFile, hookimpl
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import Num, Rule, Switch
from copilot.bridge.state import HostState
from copilot.bridge.surroundings import Surroundings
from copilot.intents.schema import Deck
from copilot.mappings import mixxx as mixxx_files

from .midi_table import TableTarget

NAME = "mixxx"
RATE_RANGE = 0.08  # Mixxx's default pitch/rate slider range: ±8 %


class MixxxTarget(TableTarget):
    name = NAME
    description = "Mixxx via a generated controller mapping ('Copilot') on 'Copilot MIDI 1 Out'"
    table_name = NAME
    host_name = "Mixxx"
    auto_priority = 20
    host_programs = ("mixxx",)  # process names as the OS lists them (lower case)

    def detect(self, around: Surroundings) -> str | None:
        """Proof: our mapping's output blocks on its feedback port (Mixxx sends them when the mapping
        loads and whenever a mapped control changes, e.g. beat_active while a deck plays)."""
        return self.mapping_answered(around) or self.program_running(around, self.host_programs)
    required = mixxx_files.REQUIRED
    default_port = "Copilot MIDI 1 Out"
    default_feedback_port = "Copilot MIDI 1 In"
    config_rules: ClassVar[dict[str, Rule]] = {
        **TableTarget.config_rules, "rate_range": Num(0.01, 1.0, note="0.08 = ±8 %"), "rate_inverted": Switch(),
    }

    def __init__(self, config: dict[str, Any] | None = None, table: Any = None) -> None:
        super().__init__(config, table)
        self.rate_range = float(self.config.get("rate_range", RATE_RANGE))
        self.rate_direction = -1.0 if self.config.get("rate_inverted", False) else 1.0

    def capabilities(self) -> Capabilities:
        return self.table_capabilities({ActionKind.PANIC})

    def where_pick_is(self, pick: dict[str, Any]) -> str:
        # A running Mixxx takes no file from outside: no engine.loadTrack, no library re-read
        # (shared/reference/hosts-loading.md).
        return f"a running Mixxx cannot be handed a file: find {pick['path']} in its library"

    # -- files ---------------------------------------------------------------------------------------
    def mapping_files(self) -> list[MappingFile]:
        files = [MappingFile(mixxx_files.mapping_name(self.table), mixxx_files.generate_xml(self.table),
                             "Mixxx controller mapping (Preferences › Controllers)")]
        if mixxx_files.scripted(self.table):
            files.append(MappingFile(mixxx_files.script_name(self.table), mixxx_files.generate_script(self.table),
                                     "its script: sets play/sync/loop/FX instead of toggling them"))
        return files

    def mapping_folders(self) -> list[Path]:
        home = Path.home()
        if sys.platform.startswith("win"):
            base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
            return [base / "Mixxx" / "controllers"]
        if sys.platform == "darwin":
            return [home / "Library" / "Containers" / "org.mixxx.mixxx" / "Data" / "Library" / "Application Support"
                    / "Mixxx" / "controllers"]
        folders = [home / ".mixxx" / "controllers"]
        flatpak = home / ".var" / "app" / "org.mixxx.Mixxx"
        if flatpak.exists():
            folders.append(flatpak / ".mixxx" / "controllers")
        return folders

    def install_steps(self) -> list[str]:
        preset = self.table.meta.get("preset", "Copilot")
        return [
            "Start copilot first (`copilot run --target mixxx`), so its ports exist, then start Mixxx "
            "(Mixxx lists MIDI devices when it starts).",
            f"Mixxx › Preferences › Controllers: select '{self.port_name}', tick Enabled, load the mapping "
            f"'{preset}' and press Apply.",
            f"Feedback needs nothing more: Mixxx pairs '{self.port_name}' with '{self.feedback_port}' and sends "
            "deck state there.",
            "Mixxx has no Ableton Link: copilot keeps its own clock, so press sync on a deck (or say 'sync') "
            "to lock Mixxx's decks together.",
        ]

    show_columns: ClassVar[list[tuple[str, str]]] = [("group", "group"), ("key", "key"), ("script", "script")]

    # -- rendering -------------------------------------------------------------------------------------
    def render_action(self, action: Action, state: HostState) -> list[Timed]:
        k, deck, p = action.kind, action.deck, action.params
        if k in (ActionKind.PLAY, ActionKind.PAUSE, ActionKind.CUE, ActionKind.SYNC, ActionKind.EXIT_LOOP):
            return self.press_row(action, k.value, deck)
        if k is ActionKind.LOOP:
            return self.press_row(action, "LOOP", deck, beats=float(p["beats"]))
        if k is ActionKind.HOTCUE:
            return self.press_row(action, "HOTCUE", deck, n=int(p["n"]))
        if k is ActionKind.LOAD:
            return self.load(action)
        if k is ActionKind.FX:
            out = self.press_row(action, "FX", deck)
            depth = self.control("fx_depth", deck)
            if out and depth is not None and p.get("amount") is not None:
                out += self.value_row(action.beat, action, depth, float(p["amount"]))
            return out
        if k is ActionKind.FX_OFF:
            return self.press_row(action, "FX_OFF", deck)
        if k is ActionKind.TEMPO:
            return self._tempo(action, state)
        if k in (ActionKind.CONTROL, ActionKind.ENVELOPE):
            return self.param_row(action, p["param"], deck)
        if k is ActionKind.PANIC:
            return self._panic(action)
        self.report(f"Mixxx has no control for {k.value}; nothing sent")
        return []

    def rate_value(self, bpm: float, track_bpm: float) -> float:
        """The normalised 14-bit value that puts Mixxx's rate control at `bpm` for a track of `track_bpm`.

        Mixxx reads a 14-bit pair as v / 128 (0..128) and maps MIDI 0..64..127 piecewise onto its
        −1..0..1 control (64 is exactly the centre), so the inverse is piecewise too.
        """
        rate = self.rate_direction * (bpm / track_bpm - 1.0) / self.rate_range
        rate = min(1.0, max(-1.0, rate))
        parameter = (rate + 1.0) / 2.0
        midi = parameter * 128.0 if parameter <= 0.5 else 64.0 + (parameter - 0.5) * 126.0
        return min(1.0, midi * 128.0 / 16383.0)

    def _tempo(self, action: Action, state: HostState) -> list[Timed]:
        return self.tempo_faders(action, state, self.rate_range, self.rate_value, "rate",
                                 "say 'sync' to lock decks together")

    def _panic(self, action: Action) -> list[Timed]:
        out: list[Timed] = []
        decks = [Deck.from_index(i) for i in range(self.table.decks)]
        for name, value in dict(action.params.get("neutral", {})).items():
            spec = PARAMS.get(name)
            if spec is None:
                continue
            for deck in decks if spec.per_deck else [None]:
                control = self.control(name, deck)
                if control is not None:
                    out += self.value_row(None, action, control, value)
        for deck in decks:
            if self.control("FX_OFF", deck) is not None:
                out += self.press_row(action, "FX_OFF", deck)  # PANIC has no beat: both go out at once
        return out


# -- Mixxx's device pairing, so our two ports show up as one controller ---------------------------------
_MIDI_N = re.compile(r"^(.*) MIDI (\d+)( .*)?$")
_IN = re.compile(r"^(.*) in( \d+)?( .*)?$", re.IGNORECASE)
_OUT = re.compile(r"^(.*) out( \d+)?( .*)?$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(.*) (\d+)( [^0-9]+)?$")


def mixxx_pairs(mixxx_input: str, mixxx_output: str) -> bool:
    """Would Mixxx link these two MIDI devices into one controller? (Its PortMidi/libremidi enumerator
    rules, from Mixxx's point of view: its input is our output port, its output our input port.)"""
    if mixxx_input == mixxx_output:
        return True
    a = mixxx_input[4:] if mixxx_input.lower().startswith("from") else mixxx_input
    b = mixxx_output[2:] if mixxx_output.lower().startswith("to") else mixxx_output
    if a != b:
        a = re.sub(r"(?i) input ", " ", a, count=1)
        b = re.sub(r"(?i) output ", " ", b, count=1)

    def same(rx_in: re.Pattern[str], x: str, rx_out: re.Pattern[str], y: str) -> bool:
        m, n = rx_in.match(x), rx_out.match(y)
        return bool(m and n and m.group(1).lower() == n.group(1).lower() and m.group(2) == n.group(2))

    return a == b or any(same(ri, x, ro, y) for ri, ro in ((_MIDI_N, _MIDI_N), (_IN, _OUT), (_NUMBERED, _NUMBERED))
                         for x, y in ((a, b), (mixxx_input, mixxx_output)))


@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[MixxxTarget]:
    return [MixxxTarget(config.get(NAME))]


@hookimpl
def copilot_doctor(config: dict[str, Any]) -> list[Check]:
    from .dj_doctor import checks

    cfg = config.get(NAME) or {}
    out = checks(MixxxTarget, cfg, "Mixxx", "nothing to select in Mixxx: keep the port names pairable, e.g.")
    port = str(cfg.get("port", MixxxTarget.default_port))
    back = str(cfg.get("feedback_port", MixxxTarget.default_feedback_port))
    if not mixxx_pairs(port, back):
        out.append(Check("mixxx ports", False, f"Mixxx will not pair '{port}' with '{back}', so it cannot send "
                         "deck state back", "use names like 'Copilot MIDI 1 Out' / 'Copilot MIDI 1 In'"))
    from .host_evidence import session_evidence

    out.append(session_evidence(NAME, "Mixxx", f"copilot mappings install {NAME}; in Mixxx › Preferences › "
                                f"Controllers select '{port}', tick Enabled and load the mapping 'Copilot'"))
    return out
