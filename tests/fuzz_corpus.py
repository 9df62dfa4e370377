"""Hostile inputs for every network surface, from a seed: the fuzz tests, bench/fuzz_live.py and bench/soak.py
draw from here, so a failure is reproduced by its surface name, seed and index.

`corpus(surface, n, seed)` yields `n` inputs for one surface: mutated real packets (bit flips, cuts,
splices, lying length fields, swapped type tags, address patterns, bad UTF-8), structurally valid OSC
with random addresses and arguments, bundles (nested, oversized, empty), raw random bytes and, for JSON
intents, JSON objects with wrong types, huge and non-finite numbers and invented fields.
`valid(surface, i)` is a packet that must still be decided (or taken) between the garbage.
"""

from __future__ import annotations

import json
import math
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

SURFACES = ("intents", "json", "motion", "mocopi", "ableton", "midi")
VALID_BEAT = 1_000_000

WORDS = ("play", "pause", "cue", "sync", "loop", "exit", "load", "hot", "drop", "build", "fx", "echo", "filter",
         "up", "down", "tempo", "bpm", "deck", "a", "b", "c", "d", "4", "8", "1/2", "percent", "in", "bars",
         "yes", "cancel", "panic", "key", "lock", "on", "off", "to", "by", "the", "dubby", "118", "☃", "\x00",
         "bass", "swap", "kill", "eq", "low", "mid", "high", "crossfade", "fader", "mix", "into", "next",
         "transition", "blend", "echo out")
INTENT_ADDRESSES = ("/copilot/intent", "/copilot/intent/json", "/copilot/panic", "/copilot/confirm",
                    "/copilot/cancel")
EXTREMES = (0, 1, -1, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, 1e308, -1e308, float("inf"), float("-inf"),
            float("nan"), 1e-320, 0.5, 64 * 4 + 1.0, 1e15, True, False, None, "", "A", "💥" * 40, [], {},
            [[[[[]]]]], {"k": {"k": {"k": 1}}})
KINDS = ("PLAY", "PAUSE", "CUE", "SYNC", "LOOP", "EXIT_LOOP", "LOAD", "HOTCUE", "DROP", "BUILD", "FX", "FX_OFF",
         "FILTER", "TEMPO", "KEYLOCK", "KEY", "EQ", "FADER", "CROSSFADE", "TRANSITION", "NEXT", "PANIC", "CONFIRM",
         "CANCEL", "play", "NOPE", "")
TYPE_TAGS = b"ifsbhtdScrmTFNI[]"


# -- building blocks ----------------------------------------------------------------------------------------
def osc(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*datagrams: bytes) -> bytes:
    """A bundle of ready-made messages/bundles (python-osc checks nothing inside)."""
    b = OscBundleBuilder(IMMEDIATELY)
    out = b.build().dgram
    for d in datagrams:
        out += struct.pack(">I", len(d)) + d
    return out


def _random_arg(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.25:
        return rng.choice([0, 1, -1, 2**31 - 1, -(2**31), rng.randint(-1000, 1000)])
    if pick < 0.5:
        return rng.choice([0.0, 1.0, -1.0, 1e38, -1e38, float("nan"), float("inf"), rng.uniform(-50, 50)])
    if pick < 0.75:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
    if pick < 0.85:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 16)))
    return rng.choice([True, False, None])


def random_address(rng: random.Random, near: tuple[str, ...]) -> str:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(near)
    if pick < 0.7:  # a near miss: one character changed, added or cut
        base = list(rng.choice(near))
        i = rng.randrange(len(base))
        op = rng.random()
        if op < 0.33:
            base[i] = chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x10FFFF) % 0xD800]))
        elif op < 0.66:
            base.insert(i, rng.choice("*?[]{}/,!#-"))
        else:
            del base[i]
        return "".join(base) or "/"
    if pick < 0.85:
        return "/" + "/".join(rng.choice(["*", "?", "[a-z]", "{a,b}", "copilot", "x" * rng.randint(1, 300)])
                              for _ in range(rng.randint(1, 6)))
    return "/" + "".join(chr(rng.randint(33, 126)) for _ in range(rng.randint(0, 40)))


def random_osc(rng: random.Random, near: tuple[str, ...]) -> bytes:
    try:
        return osc(random_address(rng, near), *(_random_arg(rng) for _ in range(rng.randint(0, 6))))
    except Exception:  # noqa: BLE001 - python-osc refuses some combinations: then raw bytes
        return random_bytes(rng)


def random_bytes(rng: random.Random) -> bytes:
    n = rng.choice([0, 1, 2, 3, 4, 7, 8, 16, rng.randint(0, 200), rng.randint(0, 2000)])
    return bytes(rng.getrandbits(8) for _ in range(n))


def mutate(data: bytes, rng: random.Random, others: list[bytes] | None = None) -> bytes:
    """One to four byte-level mutations of a real packet."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(10)
        if not b:
            b += random_bytes(rng)
            continue
        i = rng.randrange(len(b))
        if op == 0:  # bit flip
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # a byte at random
            b[i] = rng.getrandbits(8)
        elif op == 2:  # cut short
            del b[rng.randrange(len(b)):]
        elif op == 3:  # random bytes inserted
            b[i:i] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 12)))
        elif op == 4:  # a lying 32-bit size/length/count
            word = rng.choice([0, 1, 3, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, len(b) + 1, 65536])
            b[i:i + 4] = struct.pack(rng.choice([">I", "<I"]), word)
        elif op == 5:  # a type tag swapped
            comma = b.find(b",")
            if comma >= 0 and comma + 1 < len(b):
                b[comma + 1 + rng.randrange(max(1, min(4, len(b) - comma - 1)))] = rng.choice(TYPE_TAGS)
        elif op == 6:  # an address pattern or bad UTF-8 in the address
            b[i:i] = rng.choice([b"*", b"?", b"[", b"{", b"\xff", b"\xc3\x28", b"\x00"])
        elif op == 7 and others:  # spliced with another packet
            other = rng.choice(others)
            j = rng.randrange(len(other) + 1)
            b = b[:i] + bytearray(other[j:])
        elif op == 8:  # a chunk repeated
            j = rng.randrange(i, len(b)) + 1
            b[i:i] = b[i:j] * rng.randint(1, 8)
        else:  # a 4-byte float/int field to an extreme
            b[i:i + 4] = struct.pack(">f", rng.choice([float("nan"), float("inf"), -float("inf"), 3.4e38, 0.0]))
    return bytes(b[:65000])


def nested(rng: random.Random, seeds: list[bytes], depth: int = 0) -> bytes:
    """Bundles holding messages, garbage and bundles: sometimes a chain a dozen deep, sometimes one bundle
    hundreds wide (never both: a wide bundle holds no bundles)."""
    if depth == 0 and rng.random() < 0.1:
        return bundle(*(rng.choice(seeds) for _ in range(rng.choice([65, 200, 500]))))
    width = rng.choice([0, 1, 1, 2, 3, 5])
    parts = []
    for _ in range(width):
        r = rng.random()
        if r < 0.3 and depth < 12:
            parts.append(nested(rng, seeds, depth + 1))
        elif r < 0.45:
            parts.append(random_bytes(rng))
        else:
            parts.append(rng.choice(seeds))
    return bundle(*parts)[:65000]


# -- per surface ------------------------------------------------------------------------------------------------
def _intent_seeds() -> list[bytes]:
    texts = ["loop 4 on deck A", "play B", "filter up 20 percent on deck B", "load dubby 118 to deck B",
             "drop in 4 bars", "tempo plus 2", "yes", "cancel", "fx echo on deck A", "hot cue 3 on B",
             "bass swap into B in 16", "kill the low on deck A", "crossfade to B", "cancel the transition"]
    return ([osc("/copilot/intent", t) for t in texts] + [osc(a) for a in INTENT_ADDRESSES[2:]]
            + [osc("/copilot/intent/json", json.dumps(d)) for d in _json_seeds()])


def _json_seeds() -> list[dict[str, Any]]:
    return [{"kind": "LOOP", "deck": "A", "args": {"beats": 4}}, {"kind": "PLAY", "deck": "B", "at_beat": 12.0},
            {"kind": "TEMPO", "args": {"bpm": 124.0}, "lamport": 7}, {"kind": "LOAD", "args": {"query": "dubby"}},
            {"kind": "FX", "deck": "A", "args": {"name": "echo", "amount": 0.5}, "source": "voice"},
            {"kind": "DROP", "args": {"bars": 4}, "confidence": 0.9, "text": "drop", "id": "abc"},
            {"kind": "EQ", "deck": "B", "args": {"band": "low", "level": 0.0}},
            {"kind": "CROSSFADE", "args": {"to": "B", "bars": 8}}, {"kind": "FADER", "deck": "A", "args": {"level": 1}},
            {"kind": "TRANSITION", "args": {"template": "bass_swap", "to": "B", "bars": 16}},
            {"kind": "NEXT", "args": {"query": "dubby"}}, {"kind": "CONFIRM", "args": {"id": "abc"}},
            {"kind": "CANCEL", "args": {"what": "transition"}}]


def random_json(rng: random.Random) -> str:
    """A JSON intent with its fields replaced, removed, added or made hostile."""
    d: Any = dict(rng.choice(_json_seeds()))
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        key = rng.choice(["kind", "deck", "args", "source", "confidence", "at_beat", "text", "id", "lamport",
                          "extra", "beats", "args"])
        if op < 0.4:
            d[key] = rng.choice(EXTREMES)
        elif op < 0.55:
            d.pop(key, None)
        elif op < 0.7:
            d["kind"] = rng.choice(KINDS)
        elif op < 0.8:
            d["args"] = {rng.choice(["beats", "bpm", "delta_bpm", "n", "bars", "query", "name", "amount",
                                     "direction", "on", "delta", "semitones", "match", "band", "level", "to",
                                     "from", "position", "template", "id", "what"]): rng.choice(EXTREMES)
                         for _ in range(rng.randint(0, 3))}
        elif op < 0.9:
            d["at_beat"] = rng.choice([1e15, -1e15, 1e308, -1e308, 2**53, 0.0, 12.0, 1e6, "12", True])
        else:
            d = rng.choice([[], "PLAY", 12, None, [d], {"kind": d}])
            break  # no longer an object to change fields of
    text = json.dumps(d, allow_nan=True)
    r = rng.random()
    if r < 0.05:
        return "[" * rng.randint(100, 5000) + "]" * rng.randint(0, 5000)  # deep nesting
    if r < 0.1:
        return text[: rng.randrange(len(text) + 1)]  # cut short
    if r < 0.12:
        return text + "x" * rng.randint(1, 60000)
    return text


def _motion_seeds() -> list[bytes]:
    from copilot.motion import synth

    out: list[bytes] = []
    for fmt in synth.FORMATS:
        out += synth.phone_datagrams(fmt, "PHONE1", (0.1, 0.2, 1.0), (0.0, 0.0, 1.0), (0.5, -0.2, 0.1))
    out += [osc("/copilot/motion/alice/left_hand", 0.0, 0.0, 1.0, 0.1, 0.2, 0.3),
            osc("/copilot/motion/onset", 0.5), osc("/copilot/motion/heart", 120.0),
            osc("/ZIGSIM/PHONE2/quaternion", 0.0, 0.0, 0.0, 1.0), osc("/ZIGSIM/PHONE2/compass", 90.0, 1.0),
            osc("/rotationvector", 0.1, 0.2, 0.3), osc("/gyrosc/comp", 180.0), osc("/gyrosc/quat", 0., 0., 0., 1.)]
    return out


def _mocopi_seeds() -> list[bytes]:
    from copilot.motion import mocopi

    bones = [mocopi.Bone(i, (0.0, 0.0, 0.0, 1.0), (0.0, 0.1 * i, 0.0), mocopi.PARENTS[i])
             for i in range(mocopi.BONE_COUNT)]
    return [mocopi.encode_frame(n, bones, time=n * 20, unix_time=1.7e9 + n / 50) for n in range(3)] + \
        [mocopi.encode_skeleton(bones)]


def _ableton_seeds() -> list[bytes]:
    return [osc("/live/song/get/beat", 12), osc("/live/song/get/tempo", 124.0), osc("/live/test", "ok"),
            osc("/live/device/get/parameters/min", 0, 0, 0.0, 0.0, 0.0), osc("/live/song/get/beat", 13.0),
            osc("/live/device/get/parameters/max", 0, 0, 1.0, 100.0, 1.0), osc("/live/error", "boom")]


ABLETON_ADDRESSES = ("/live/song/get/beat", "/live/song/get/tempo", "/live/test",
                     "/live/device/get/parameters/min", "/live/device/get/parameters/max")
MOTION_ADDRESSES = ("/ZIGSIM/P/accel", "/gyrosc/accel", "/accelerometer", "/accxyz", "/copilot/motion/left_hand",
                    "/copilot/motion/bob/head/gyro", "/P/gyro", "/rotationvector")


def _osc_corpus(rng: random.Random, seeds: list[bytes], near: tuple[str, ...]) -> bytes:
    r = rng.random()
    if r < 0.45:
        return mutate(rng.choice(seeds), rng, seeds)
    if r < 0.75:
        return random_osc(rng, near)
    if r < 0.88:
        return nested(rng, seeds)
    return random_bytes(rng)


def midi_message(rng: random.Random) -> Any:
    """What a host (or anything on 'Copilot In') might put on the wire, in the shapes rtmidi hands over."""
    r = rng.random()
    if r < 0.6:  # three bytes: notes and CCs on any channel, any number, any value (also out of range)
        msg: Any = bytes([rng.choice([0x80, 0x90, 0xB0, 0xA0, 0xC0, 0xE0, 0xF0]) | rng.randrange(16),
                          rng.randrange(256 if rng.random() < 0.1 else 128),
                          rng.randrange(256 if rng.random() < 0.1 else 128)])
    elif r < 0.8:
        msg = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 2, 4, 5, 6, rng.randint(7, 300)])))
    elif r < 0.9:
        msg = [rng.choice([0x90, 0xB0, 0xF8]) | rng.randrange(16), rng.randrange(-5, 300), rng.randrange(-5, 300)]
    else:
        msg = rng.choice([b"", None, "90 10 7f", 3.5, (0x90, 0x10), (0x90, 0x10, 0x7F), bytearray(b"\x90\x10\x7f"),
                          [0x90, "x", 1], [float("nan"), 1, 2]])
    return msg


def corpus(surface: str, n: int, seed: int = 0) -> Iterator[Any]:
    rng = random.Random(f"{surface}:{seed}")
    make: Callable[[], Any]
    if surface == "intents":
        seeds, near = _intent_seeds(), INTENT_ADDRESSES
        make = lambda: _osc_corpus(rng, seeds, near)  # noqa: E731
    elif surface == "json":
        def make() -> bytes:
            if rng.random() < 0.8:
                return osc("/copilot/intent/json", random_json(rng))
            return mutate(osc("/copilot/intent/json", json.dumps(rng.choice(_json_seeds()))), rng)
    elif surface == "motion":
        seeds, near = _motion_seeds(), MOTION_ADDRESSES
        make = lambda: _osc_corpus(rng, seeds, near)  # noqa: E731
    elif surface == "mocopi":
        seeds = _mocopi_seeds()

        def make() -> bytes:
            return mutate(rng.choice(seeds), rng, seeds) if rng.random() < 0.85 else random_bytes(rng)
    elif surface == "ableton":
        seeds, near = _ableton_seeds(), ABLETON_ADDRESSES
        make = lambda: _osc_corpus(rng, seeds, near)  # noqa: E731
    elif surface == "midi":
        make = lambda: midi_message(rng)  # noqa: E731
    else:
        raise ValueError(f"unknown surface {surface!r}; one of {', '.join(SURFACES)}")
    for _ in range(n):
        yield make()


def valid(surface: str, i: int) -> bytes:
    """The i-th well-formed packet a surface must still take between the garbage."""
    if surface == "intents":
        return osc("/copilot/intent", ("hot cue 2 on deck B", "sync A", "cue deck B")[i % 3])
    if surface == "json":
        return osc("/copilot/intent/json", json.dumps({"kind": "HOTCUE", "deck": "A", "args": {"n": 1 + i % 8}}))
    if surface == "motion":
        from copilot.motion import synth

        return synth.phone_datagrams("zigsim", "GOOD", (0.0, 0.1 * math.sin(i), 1.0), (0, 0, 1), (0, 0, 0))[0]
    if surface == "mocopi":  # frames 20 ms apart on the device's clock: consecutive i make a moving body
        from copilot.motion import mocopi

        bones = [mocopi.Bone(b, (0.0, math.sin(i / 10) * 0.1, 0.0, 1.0), (0.0, 0.1 * b + 0.01 * math.sin(i), 0.0),
                             mocopi.PARENTS[b]) for b in range(mocopi.BONE_COUNT)]
        return mocopi.encode_frame(i, bones, time=i * 20, unix_time=1.7e9 + i * 0.02)
    if surface == "ableton":  # Live's beat, numbered far from what garbage tends to hold
        return osc("/live/song/get/beat", VALID_BEAT + i)
    raise ValueError(surface)
