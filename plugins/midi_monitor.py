"""`midi-monitor`: renders every action as documented MIDI on "Copilot Out".

It is the spine's own target: no host needed, every action visible on the wire, so a MIDI monitor
(or a test) can watch exactly what copilot decided and when. The table below *is* the documentation
(`copilot mappings show midi-monitor` prints it). Feedback in the same notes on "Copilot In"
(velocity 127 = on, 0 = off) updates deck state, so the safety rules can be tried against a "host".
"""

from __future__ import annotations

from typing import Any, ClassVar

from copilot.bridge.actions import Action, ActionKind, Timed
from copilot.bridge.host import Capabilities, MappingFile, Target, TargetContext, hookimpl
from copilot.bridge.midi import cc_value, decode, envelope_stream, press
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import PORT_NAME, Rule
from copilot.bridge.state import DeckUpdate, HostState
from copilot.intents.schema import LOOP_BEATS, Deck

GLOBAL_CHANNEL = 15  # channel 16: session-wide actions (drop, tempo, panic, crossfader, macros)

# Notes (per deck on channel = deck index: A = 1, B = 2 …).
NOTES: dict[str, int] = {
    "PLAY": 0x10,
    "PAUSE": 0x11,
    "CUE": 0x12,
    "SYNC": 0x13,
    "EXIT_LOOP": 0x2F,
    "LOAD": 0x30,
    "FX": 0x50,
    "FX_OFF": 0x51,
    "DROP": 0x60,  # global channel
    "PANIC": 0x7F,  # global channel
}
LOOP_NOTE_BASE = 0x20  # 0x20 + i for LOOP_BEATS[i]: 1/32 beat … 32 beats → 0x20 … 0x2A
HOTCUE_NOTE_BASE = 0x40  # hot cue n → 0x40 + n − 1
FX_AMOUNT_CC = 20
TEMPO_CC = 1  # 14-bit (CC 1 MSB, 33 LSB) on channel 16: (BPM − 20) / 979 of full scale
# Continuous parameters: CC number (14-bit ones also use n + 32 for the LSB).
CCS: dict[str, int] = {
    "volume": 7,
    "crossfader": 8,
    "trim": 9,
    "eq_low": 10,
    "eq_mid": 11,
    "eq_high": 12,
    "filter": 13,
    "fx_depth": 14,
    "fx_send": 15,
    "pan": 16,
    "tremolo": 17,
    "roll": 18,
    "energy": 19,
    "tension": 21,
    "room": 22,
    "phase": 23,
    "master_gain": 24,
}
TEMPO_SPAN = (20.0, 999.0)


def loop_note(beats: float) -> int:
    return LOOP_NOTE_BASE + min(range(len(LOOP_BEATS)), key=lambda i: abs(LOOP_BEATS[i] - beats))


def tempo_value(bpm: float) -> float:
    lo, hi = TEMPO_SPAN
    return (bpm - lo) / (hi - lo)


class MidiMonitor(Target):
    name = "midi-monitor"
    description = "every action as documented MIDI on 'Copilot Out' (no host needed)"
    auto_fallback = 1  # plays when nothing else is there and the built-in engine is not installed
    config_rules: ClassVar[dict[str, Rule]] = {**Target.config_rules, "port": PORT_NAME}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.port_name = self.config.get("port", "Copilot Out")
        self._out: Any = None

    def open(self, context: TargetContext) -> None:
        super().open(context)
        if context.ports is None:
            return
        try:
            self._out = context.ports.output(self.port_name)
        except Exception as exc:  # noqa: BLE001 - the set goes on; the session log still shows every send
            context.report(f"{self.name}: cannot open '{self.port_name}' ({exc}); sends are logged only")

    def send(self, payload: Any) -> None:
        if self._out is not None:  # offline runs have no port: the session log still records the send
            self._out.send(payload.data)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset(ActionKind),
            params=frozenset(CCS),
            feedback=True,
            decks=4,
        )

    def render(self, action: Action, state: HostState) -> list[Timed]:
        k = action.kind
        ch = action.deck.index if action.deck else GLOBAL_CHANNEL
        if k in (ActionKind.PLAY, ActionKind.PAUSE, ActionKind.CUE, ActionKind.SYNC, ActionKind.EXIT_LOOP,
                 ActionKind.LOAD, ActionKind.FX_OFF):
            return press(action, ch, NOTES[k.value])
        if k is ActionKind.LOOP:
            return press(action, ch, loop_note(action.params["beats"]))
        if k is ActionKind.HOTCUE:
            return press(action, ch, HOTCUE_NOTE_BASE + action.params["n"] - 1)
        if k is ActionKind.FX:
            return (press(action, ch, NOTES["FX"])
                    + cc_value(action.beat, action.id, ch, FX_AMOUNT_CC, action.params["amount"], False))
        if k is ActionKind.DROP:
            return press(action, GLOBAL_CHANNEL, NOTES["DROP"])
        if k is ActionKind.TEMPO:
            return cc_value(action.beat, action.id, GLOBAL_CHANNEL, TEMPO_CC, tempo_value(action.params["bpm"]), True)
        if k is ActionKind.ENVELOPE:
            name = action.params["param"]
            return envelope_stream(action, self._channel(name, action.deck), CCS[name], PARAMS[name].fourteen_bit)
        if k is ActionKind.CONTROL:
            name = action.params["param"]
            return cc_value(action.beat, action.id, self._channel(name, action.deck), CCS[name],
                            action.params["value"], PARAMS[name].fourteen_bit)
        if k is ActionKind.PANIC:
            out = press(action, GLOBAL_CHANNEL, NOTES["PANIC"])[:1]
            for name, value in action.params.get("neutral", {}).items():
                decks = range(4) if PARAMS[name].per_deck else [GLOBAL_CHANNEL]
                for ch in decks:
                    out += cc_value(None, action.id, ch, CCS[name], value, PARAMS[name].fourteen_bit)
            return out
        return []

    @staticmethod
    def _channel(name: str, deck: Deck | None) -> int:
        return deck.index if (deck is not None and PARAMS[name].per_deck) else GLOBAL_CHANNEL

    def on_feedback(self, message: bytes) -> list[DeckUpdate]:
        """Host → copilot in the same table: a note with velocity 127 = on, 0 (or note off) = off."""
        heard = decode(message)
        if heard is None or heard.kind != "note" or heard.channel > 3:
            return []
        number, on = heard.number, heard.on
        deck = Deck.from_index(heard.channel)
        if number == NOTES["PLAY"]:
            return [DeckUpdate(deck, {"playing": on})]
        if number == NOTES["LOAD"]:
            return [DeckUpdate(deck, {"loaded": on})]
        if LOOP_NOTE_BASE <= number <= LOOP_NOTE_BASE + len(LOOP_BEATS) - 1 or number == NOTES["EXIT_LOOP"]:
            return [DeckUpdate(deck, {"loop": on and number != NOTES["EXIT_LOOP"]})]
        if HOTCUE_NOTE_BASE <= number < HOTCUE_NOTE_BASE + 8:
            return [DeckUpdate(deck, {"hotcue_set": (number - HOTCUE_NOTE_BASE + 1, on)})]
        return []

    def mapping_files(self) -> list[MappingFile]:
        return [MappingFile("midi-monitor.md", describe_table().encode(), "the MIDI this target sends")]


def describe_table() -> str:
    """The table as Markdown: what each action and parameter looks like on the wire."""
    lines = [
        "# midi-monitor: what copilot sends on 'Copilot Out'",
        "",
        "Deck actions use channel = deck (A = 1 … D = 4); session-wide ones use channel 16.",
        "Buttons are a Note On velocity 127 followed by velocity 0 after 1/64 beat.",
        "",
        "| action | message |",
        "|---|---|",
    ]
    for name, number in NOTES.items():
        where = "channel 16" if name in ("DROP", "PANIC") else "deck channel"
        lines.append(f"| {name} | Note 0x{number:02X} ({where}) |")
    for i, beats in enumerate(LOOP_BEATS):
        length = f"{int(beats)}" if beats >= 1 else f"1/{round(1 / beats)}"
        lines.append(f"| LOOP {length} | Note 0x{LOOP_NOTE_BASE + i:02X} |")
    lines.append(f"| HOTCUE n | Note 0x{HOTCUE_NOTE_BASE:02X} + n − 1 |")
    lines.append(f"| FX amount | CC {FX_AMOUNT_CC} after the FX note |")
    lines.append(f"| TEMPO | 14-bit CC {TEMPO_CC}/{TEMPO_CC + 32} on channel 16: (BPM − 20) / 979 |")
    lines += ["", "| parameter | CC | resolution | channel |", "|---|---|---|---|"]
    for name, number in CCS.items():
        spec = PARAMS[name]
        res = f"14-bit ({number}/{number + 32})" if spec.fourteen_bit else "7-bit"
        lines.append(f"| {name} | {number} | {res} | {'deck' if spec.per_deck else '16'} |")
    lines += ["", "Feedback on 'Copilot In': the PLAY, LOAD, LOOP and HOTCUE notes, velocity 127 = on, 0 = off."]
    return "\n".join(lines) + "\n"


@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[Target]:
    return [MidiMonitor(config.get(MidiMonitor.name))]

