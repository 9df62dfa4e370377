"""The one MIDI encoder: every byte copilot puts on a MIDI wire is made here, and read back here.

Values travel as normalised floats (0..1) until this module quantises them (7-bit CC, or a 14-bit MSB
on CC n + LSB on CC n + 32) and builds the message. Targets render with these building blocks —
button presses, CC values, envelopes as CC streams — and decode host feedback with `decode`; the
mapping tables (copilot.mappings) only say *which* message carries what.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .actions import Action, MidiOut, Stream, Timed
from .envelope import Envelope

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL_CHANGE = 0xB0
END_OF_SYSEX = bytes([0xF7])  # a lone one ends a sysex some client left open (bridge.ports)
PRESS_BEATS = 1.0 / 64  # how long a rendered button stays down (a 1/64-beat tap, ~8 ms at 120 BPM)
ENVELOPE_STEP = 1.0 / 64  # CC envelope resolution in beats (only changed values go out)


# -- values ↔ data bytes ----------------------------------------------------------------------------------
def to_cc7(value: float) -> int:
    """0..1 → 0..127 (round to nearest; NaN is 0)."""
    if math.isnan(value):
        return 0
    return max(0, min(127, round(value * 127.0)))


def to_cc14(value: float) -> tuple[int, int]:
    """0..1 → (MSB, LSB), 0..16383 (NaN is 0)."""
    v = 0 if math.isnan(value) else max(0, min(16383, round(value * 16383.0)))
    return v >> 7, v & 0x7F


def from_cc7(data: int) -> float:
    return max(0, min(127, data)) / 127.0


def from_cc14(msb: int, lsb: int) -> float:
    return ((max(0, min(127, msb)) << 7) | max(0, min(127, lsb))) / 16383.0


# -- messages --------------------------------------------------------------------------------------------
def _check(channel: int, number: int) -> None:
    if not 0 <= channel <= 15:
        raise ValueError(f"MIDI channel index must be 0..15, got {channel}")
    if not 0 <= number <= 127:
        raise ValueError(f"MIDI note/CC number must be 0..127, got {number}")


def note(channel: int, number: int, velocity: int) -> bytes:
    _check(channel, number)
    return bytes((NOTE_ON | channel, number, max(0, min(127, velocity))))


def cc(channel: int, number: int, value: int) -> bytes:
    _check(channel, number)
    return bytes((CONTROL_CHANGE | channel, number, max(0, min(127, value))))


def encode(kind: str, channel: int, number: int, value: int) -> bytes:
    """A note on or a CC by the name a mapping table gives it ("note" | "cc")."""
    if kind == "note":
        return note(channel, number, value)
    if kind == "cc":
        return cc(channel, number, value)
    raise ValueError(f"a MIDI message is 'note' or 'cc', not {kind!r}")


def cc_bytes(channel: int, number: int, value: float, fourteen_bit: bool) -> list[bytes]:
    """One normalised value (0..1, clamped) on one control: a 7-bit CC, or MSB (n) then LSB (n + 32)."""
    if fourteen_bit:
        if number > 31:
            raise ValueError(f"14-bit CC needs an MSB number 0..31, got {number}")
        msb, lsb = to_cc14(value)
        return [cc(channel, number, msb), cc(channel, number + 32, lsb)]
    return [cc(channel, number, to_cc7(value))]


@dataclass(frozen=True, slots=True)
class MidiMessage:
    """A note or CC read back from a host. A note off reads as a note with value 0."""

    kind: str  # "note" | "cc"
    channel: int  # 0..15
    number: int
    value: int

    @property
    def on(self) -> bool:
        return self.value > 0


def decode(data: Any) -> MidiMessage | None:
    """Three bytes of note on/off or CC → MidiMessage; anything else (sysex, clock, garbage) → None."""
    if not isinstance(data, bytes | bytearray | list | tuple) or len(data) != 3:
        return None
    try:
        status, number, value = (int(b) for b in data)
    except (TypeError, ValueError):
        return None
    kind, channel = status & 0xF0, status & 0x0F
    if kind == NOTE_OFF:
        return MidiMessage("note", channel, number, 0)
    if kind == NOTE_ON:
        return MidiMessage("note", channel, number, value)
    if kind == CONTROL_CHANGE:
        return MidiMessage("cc", channel, number, value)
    return None


# -- timed building blocks for targets -------------------------------------------------------------------
def press(action: Action, channel: int, number: int, port: str = "out", value: int = 127,
          kind: str = "note") -> list[Timed]:
    """A button press and its release: the way a controller (and so a host mapping) expects it."""
    beat = action.beat
    release_beat = None if beat is None else beat + PRESS_BEATS
    return [
        Timed(beat, MidiOut(encode(kind, channel, number, value), port), action.id),
        Timed(release_beat, MidiOut(encode(kind, channel, number, 0), port), action.id),
    ]


def cc_value(beat: float | None, action_id: str, channel: int, number: int, value: float,
             fourteen_bit: bool, port: str = "out") -> list[Timed]:
    """One normalised value (0..1) as a 7-bit CC, or as a 14-bit MSB (n) + LSB (n + 32) pair."""
    return [Timed(beat, MidiOut(data, port), action_id, tied=i > 0)
            for i, data in enumerate(cc_bytes(channel, number, value, fourteen_bit))]


def cc_stream(
    env: Envelope,
    step: float,
    fourteen_bit: bool,
    start_value: float | None = None,
) -> Iterator[tuple[float, tuple[int, ...]]]:
    """(beat, data values) only when the wire value changes: (v,) for 7-bit, (msb, lsb) for 14-bit."""
    last: tuple[int, ...] | None = None
    for beat, value in env.samples(step, start_value):
        data = to_cc14(value) if fourteen_bit else (to_cc7(value),)
        if data != last:
            yield beat, data
            last = data


def envelope_stream(action: Action, channel: int, number: int, fourteen_bit: bool, port: str = "out",
                    step: float = ENVELOPE_STEP) -> list[Stream]:
    """An ENVELOPE action as a lazy stream of timed CC messages (only when the wire value changes)."""
    env = action.envelope
    if env is None:
        return []
    start_value = action.params.get("start_value")

    def messages() -> Iterator[Timed]:
        for beat, data in cc_stream(env, step, fourteen_bit, start_value):
            yield Timed(beat, MidiOut(cc(channel, number, data[0]), port), action.id)
            if fourteen_bit:
                yield Timed(beat, MidiOut(cc(channel, number + 32, data[1]), port), action.id, tied=True)

    return [Stream(messages(), action.id)]
