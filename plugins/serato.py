"""`serato-dj-pro`: Serato DJ Pro through a custom MIDI preset generated from the serato-dj-pro table.

What Serato can take is what its MIDI mapping can reach, and the target says so exactly: transport,
loops, hot cues, load, library scroll, FX slots and depth, pitch fader and master gain are verified;
the channel strip (EQ, filter, fader, trim) is declared *unconfirmed*; there is no crossfader at all,
so crossfader moves are refused here (the session hands them to the built-in engine as adornment when
that is on, and tells the performer either way).

Serato cannot be handed a file over MIDI. When a LOAD arrives with a track the session looked up, the
target writes the crate "copilot suggestions" (the pick first, then the runners-up) into Serato's
library on a worker thread of its own, so the pick is one click away; rendering itself never waits.

Serato's play, loop and FX-slot buttons are toggles. A toggle is pressed only when the deck is not
already where the action wants it, judged when the message goes out from Serato's own feedback on
"Copilot In" (select that port as the device's MIDI output in Serato), or, without feedback, from
copilot's record of what it sent.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
from pathlib import Path
from typing import Any, ClassVar

from copilot.bridge.actions import Action, ActionKind, Timed
from copilot.bridge.host import Capabilities, Check, MappingFile, hookimpl
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import Num, Rule, Table
from copilot.bridge.state import HostState
from copilot.bridge.surroundings import Surroundings
from copilot.intents.schema import Deck
from copilot.mappings import serato as serato_xml
from copilot.mappings.table import Control

from .midi_table import TableTarget

NAME = "serato-dj-pro"
PITCH_RANGE = 0.08  # Serato's default pitch range: ±8 %
DEFAULT_FX_SLOTS = {"echo": 1, "delay": 1, "reverb": 2, "flanger": 3, "phaser": 3, "filter": 3}


class SeratoTarget(TableTarget):
    name = NAME
    description = "Serato DJ Pro via a generated MIDI preset ('Copilot') on 'Copilot Out'"
    table_name = NAME
    host_name = "Serato"
    auto_priority = 30
    host_programs = ("serato dj pro", "serato dj")  # process names as the OS lists them (lower case)

    def detect(self, around: Surroundings) -> str | None:
        """Proof: our preset's output blocks on 'Copilot In' (Serato sends them only when the user
        picked that port as the device's output in Setup › MIDI). Serato answers no query."""
        return self.mapping_answered(around) or self.program_running(around, self.host_programs)
    required = serato_xml.REQUIRED
    config_rules: ClassVar[dict[str, Rule]] = {
        **TableTarget.config_rules, "pitch_range": Num(0.01, 1.0, note="0.08 = ±8 %"),
        "fx_slots": Table(each=Num(1, 3, integer=True), what="a table of effect name → slot 1-3"),
    }

    def __init__(self, config: dict[str, Any] | None = None, table: Any = None) -> None:
        super().__init__(config, table)
        self.fx_units = int(self.table.meta.get("fx_units", 2))
        self.pitch_range = float(self.config.get("pitch_range", PITCH_RANGE))
        self.fx_slots = {**DEFAULT_FX_SLOTS, **{str(k).lower(): int(v) for k, v in
                                                 dict(self.config.get("fx_slots", {})).items()}}
        self._crates: cf.ThreadPoolExecutor | None = None  # writes suggestion crates off the deciding thread

    def close(self) -> None:
        if self._crates is not None:
            self._crates.shutdown(wait=True)  # a crate half written would confuse Serato
            self._crates = None
        super().close()

    # -- what Serato can take ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return self.table_capabilities({ActionKind.PANIC})

    # -- files ---------------------------------------------------------------------------------------
    def mapping_files(self) -> list[MappingFile]:
        return [MappingFile(serato_xml.filename(self.table), serato_xml.generate(self.table),
                            "Serato DJ Pro MIDI preset (Setup › MIDI › Presets)")]

    def mapping_folders(self) -> list[Path]:
        if sys.platform == "darwin" or sys.platform.startswith("win"):
            return [Path.home() / "Music" / "_Serato_" / "MIDI" / "Xml"]
        raise LookupError("Serato DJ Pro runs on macOS and Windows only, so this system has no Serato "
                          "folder; pass --dest with the MIDI/Xml folder of the machine that runs Serato")

    def install_steps(self) -> list[str]:
        preset = self.table.meta.get("preset", "Copilot")
        steps = [
            "Start copilot first (`copilot run --target serato-dj-pro`), so its ports exist, then open Serato.",
            f"Serato › Setup › MIDI: select the device '{self.port_name}', choose the preset '{preset}' and "
            "press Load.",
            f"For deck feedback (safer loads), select '{self.feedback_port}' as that device's MIDI output in the "
            "same panel. Never use one loopback port for both directions: it echoes endlessly.",
            "Assign FX unit 1 to decks 1/3 and FX unit 2 to decks 2/4, in multi-FX mode (copilot's FX slots "
            "1-3 are the unit's three effects).",
            "Turn on Ableton Link in Serato's setup, so copilot and Serato share one beat grid.",
        ]
        if sys.platform.startswith("win"):
            steps.insert(0, f"Windows has no app-made MIDI ports: create two loopMIDI ports named "
                            f"'{self.port_name}' and '{self.feedback_port}' first.")
        unconfirmed = sorted(r.name for r in self.table.rows if r.status == "U")
        if unconfirmed:
            steps.append("Rows marked unverified may do nothing in your Serato version: " + ", ".join(unconfirmed)
                         + " (`copilot mappings show serato-dj-pro`).")
        return steps

    show_columns: ClassVar[list[tuple[str, str]]] = [
        ("function", "function"), ("deck_set", "deck_set"), ("slot", "slot"), ("on", "action_on"),
        ("behaviour", "behaviour"),
    ]

    # -- feedback --------------------------------------------------------------------------------------
    def fx_key(self, control: Control) -> tuple[Any, ...]:
        unit = serato_xml.deck_id(control, self.fx_units)
        return ("fx", unit, int(control.row.args.get("slot", 1)))

    # -- rendering -------------------------------------------------------------------------------------
    def render_action(self, action: Action, state: HostState) -> list[Timed]:
        k, deck, p = action.kind, action.deck, action.params
        if k in (ActionKind.PLAY, ActionKind.PAUSE):
            control = self.control(k.value, deck)
            if control is None:
                return self.missing(k.value, deck)
            self._seed(("playing", deck.value), state.deck(deck).playing)
            return self.toggle_row(action, control, ("playing", deck.value), k is ActionKind.PLAY)
        if k is ActionKind.EXIT_LOOP:
            control = self.control("EXIT_LOOP", deck)
            if control is None:
                return self.missing("EXIT_LOOP", deck)
            self._seed(("loop", deck.value), state.deck(deck).loop)
            return self.toggle_row(action, control, ("loop", deck.value), False)
        if k is ActionKind.LOOP:
            control = self.control("LOOP", deck, beats=float(p["beats"]))
            if control is None:
                return self.missing("LOOP", deck, beats=float(p["beats"]))
            # Not a toggle, but it turns the loop on: the record follows when the press goes out.
            return self.toggle_row(action, control, ("loop", deck.value), True, always=True)
        if k in (ActionKind.CUE, ActionKind.SYNC):
            return self.press_row(action, k.value, deck)
        if k is ActionKind.HOTCUE:
            return self.press_row(action, "HOTCUE", deck, n=int(p["n"]))
        if k is ActionKind.LOAD:
            self.suggest(action)
            return self.load(action)
        if k is ActionKind.FX:
            return self._fx_on(action, deck, str(p.get("name", "")), p.get("amount"))
        if k is ActionKind.FX_OFF:
            return self._fx_off(action, deck, str(p.get("name", "all")))
        if k is ActionKind.TEMPO:
            return self._tempo(action, state)
        if k in (ActionKind.CONTROL, ActionKind.ENVELOPE):
            name = p["param"]
            if name == "fx_depth":
                return self._fx_depth(action, deck)
            return self.param_row(action, name, deck)
        if k is ActionKind.PANIC:
            return self._panic(action)
        self.report(f"Serato has no control for {k.value}; nothing sent")
        return []

    # -- the suggestions crate -----------------------------------------------------------------------
    def where_pick_is(self, pick: dict[str, Any]) -> str:
        # Serato takes no file over MIDI; it may show an external crate edit only after a restart
        # (shared/reference/hosts-loading.md).
        from copilot.phrase_db.serato import CRATE_NAME

        return f"it goes first in the crate '{CRATE_NAME}'; Serato may show that crate only after a restart"

    def suggest(self, action: Action) -> cf.Future[str] | None:
        """A LOAD with a looked-up track: write the crate on the target's worker (never on the thread that
        renders); the performer hears where to find it, or why it could not be written."""
        pick = action.params.get("resolved")
        if not isinstance(pick, dict) or not pick.get("path"):
            return None
        if self._crates is None:
            self._crates = cf.ThreadPoolExecutor(1, thread_name_prefix="copilot-serato-crate")
        extra = dict((self.context.options if self.context else {}).get("extra") or {})
        return self._crates.submit(self._write_crate, pick, extra.get("serato_folder"))

    def _write_crate(self, pick: dict[str, Any], folder: str | None) -> str:
        from copilot.mappings.install import keep_before_replacing, remember
        from copilot.phrase_db import serato

        where = Path(folder) if folder else serato.default_serato_folder()
        tracks = [pick["path"], *(a["path"] for a in pick.get("alternatives", []) if a.get("path"))]
        title = pick.get("title") or Path(pick["path"]).stem
        try:  # a crate of that name that is not copilot's own last one is the DJ's: backed up first
            keep_before_replacing(where / "Subcrates" / f"{serato.CRATE_NAME}.crate", NAME)
            crate = serato.write_crate(where, tracks)
            remember(crate, NAME)
        except OSError as exc:
            message = f"load '{title}' by hand ({exc})"
        else:
            message = f"'{title}' is first in the crate '{crate.stem}': load it by hand"
        self.report(message)
        return message

    def _seed(self, key: tuple[Any, ...], value: bool) -> None:
        """Start the toggle record from the shared deck state the first time a toggle is used."""
        self.live.setdefault(key, value)

    def _unit(self, deck: Deck) -> int:
        return deck.index % self.fx_units

    def _slot(self, name: str) -> int:
        return self.fx_slots.get(name.lower(), 1)

    def _fx_on(self, action: Action, deck: Deck, name: str, amount: Any) -> list[Timed]:
        slot = self._slot(name)
        control = self.control("FX", deck, slot=slot)
        if control is None:
            return self.missing("FX", deck, slot=slot)
        out = self.toggle_row(action, control, ("fx", self._unit(deck), slot), True)
        depth = self.control("fx_depth", deck, slot=slot)
        if amount is not None and depth is not None:
            out += self.value_row(action.beat, action, depth, float(amount))
        return out

    def _fx_off(self, action: Action, deck: Deck, name: str) -> list[Timed]:
        slots = [1, 2, 3] if name in ("all", "") else [self._slot(name)]
        out: list[Timed] = []
        for slot in slots:
            control = self.control("FX_OFF", deck, slot=slot)
            if control is not None:
                out += self.toggle_row(action, control, ("fx", self._unit(deck), slot), False)
        return out or self.missing("FX_OFF", deck)

    def _fx_depth(self, action: Action, deck: Deck | None) -> list[Timed]:
        """FX depth moves the depth of every slot that is on in the deck's unit (slot 1 if none is)."""
        if deck is None:
            return self.cannot("fx_depth without a deck")
        unit = self._unit(deck)
        slots = [s for s in (1, 2, 3) if self.live.get(("fx", unit, s))] or [1]
        out: list[Timed] = []
        for slot in slots:
            out += self.param_row(action, "fx_depth", deck, slot=slot)
        return out

    def _tempo(self, action: Action, state: HostState) -> list[Timed]:
        return self.tempo_faders(action, state, self.pitch_range, self.pitch_value, "pitch",
                                 "with Link on, Serato follows the session tempo itself")

    def pitch_value(self, bpm: float, track_bpm: float) -> float:
        """Serato's pitch fader (0..1, centre 0.5) for a track at `track_bpm` to play at `bpm`."""
        pitch = (bpm / track_bpm - 1.0) / self.pitch_range  # −1..1 over the fader
        return min(1.0, max(0.0, 0.5 + pitch / 2))

    def _panic(self, action: Action) -> list[Timed]:
        """FX off, and every neutral value Serato can take, now."""
        out: list[Timed] = []
        for name, value in dict(action.params.get("neutral", {})).items():
            spec = PARAMS.get(name)
            if spec is None:
                continue
            decks = [Deck.from_index(i) for i in range(self.table.decks)] if spec.per_deck else [None]
            for deck in decks:
                slots = [{"slot": s} for s in (1, 2, 3)] if name == "fx_depth" else [{}]
                for args in slots:
                    control = self.control(name, deck, **args)
                    if control is not None:
                        out += self.value_row(None, action, control, value)
        for deck in (Deck.from_index(i) for i in range(min(self.table.decks, self.fx_units))):
            for slot in (1, 2, 3):
                control = self.control("FX_OFF", deck, slot=slot)
                if control is not None:
                    out += self.toggle_row(action, control, ("fx", self._unit(deck), slot), False)
        return out


@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[SeratoTarget]:
    return [SeratoTarget(config.get(NAME))]


@hookimpl
def copilot_doctor(config: dict[str, Any]) -> list[Check]:
    from .dj_doctor import checks
    from .host_evidence import session_evidence

    cfg = config.get(NAME) or {}
    back = str(cfg.get("feedback_port", SeratoTarget.default_feedback_port))
    return [*checks(SeratoTarget, cfg, "Serato", "Serato › Setup › MIDI: pick as the device's MIDI output", levels=2),
            session_evidence(NAME, "Serato", f"copilot mappings install {NAME}; in Serato › Setup › MIDI load the "
                             f"preset 'Copilot' and pick '{back}' as the device's MIDI output")]
