"""Building blocks every MIDI target renders with: button presses, CC values, envelopes as CC streams."""

from __future__ import annotations

from collections.abc import Iterator

from .actions import Action, MidiOut, Stream, Timed
from .envelope import cc_stream, to_cc7, to_cc14

NOTE_ON = 0x90
NOTE_OFF = 0x80
CONTROL_CHANGE = 0xB0
PRESS_BEATS = 1.0 / 64  # how long a rendered button stays down (a 1/64-beat tap, ~8 ms at 120 BPM)
ENVELOPE_STEP = 1.0 / 64  # CC envelope resolution in beats (only changed values go out)


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


def press(action: Action, channel: int, number: int, port: str = "out", value: int = 127,
          kind: str = "note") -> list[Timed]:
    """A button press and its release: the way a controller (and so a host mapping) expects it."""
    beat = action.beat
    make = note if kind == "note" else cc
    release_beat = None if beat is None else beat + PRESS_BEATS
    return [
        Timed(beat, MidiOut(make(channel, number, value), port), action.id),
        Timed(release_beat, MidiOut(make(channel, number, 0), port), action.id),
    ]


def cc_value(beat: float | None, action_id: str, channel: int, number: int, value: float,
             fourteen_bit: bool, port: str = "out") -> list[Timed]:
    """One normalised value (0..1) as a 7-bit CC, or as a 14-bit MSB (n) + LSB (n + 32) pair."""
    if fourteen_bit:
        if number > 31:
            raise ValueError(f"14-bit CC needs an MSB number 0..31, got {number}")
        msb, lsb = to_cc14(value)
        return [Timed(beat, MidiOut(cc(channel, number, msb), port), action_id),
                Timed(beat, MidiOut(cc(channel, number + 32, lsb), port), action_id, tied=True)]
    return [Timed(beat, MidiOut(cc(channel, number, to_cc7(value)), port), action_id)]


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
