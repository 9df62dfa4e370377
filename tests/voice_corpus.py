"""The spoken-command corpus: what to say, how it should parse, and the audio.

≥ 150 commands over every intent kind plus 50 non-commands (chatter, made-up song lyrics, crowd noise),
each with its expected intent (None for non-commands), said by one family of voices (tests/voice_tts.py:
espeak-ng, flite, Piper) — several speakers and speeds spread deterministically over the clips. Audio is
rendered once per (text, voice, speed, seed) and cached under the temp folder, so a second run costs
only the ASR. `mix_music` lays a clip over a deterministic music bed at a chosen SNR, `mix_crowd` over
a crowd (babble of voices, claps, whoops); `condition` does either by name.

Used by tests/test_voice_accuracy.py and bench/voice_accuracy.py, bench/voice_latency.py.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from copilot.tests import voice_tts

RATE = 16000
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc", "en-029")
SPEEDS = (140, 160, 180)
# Each family's speakers and rates (espeak: words per minute; the others: percent of their own pace).
FAMILY_VOICES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "espeak": (VOICES, SPEEDS),
    "flite": (("flite:kal16", "flite:awb", "flite:rms", "flite:slt"), (100, 120)),
    "piper": (("piper:joe", "piper:joe-3", "piper:joe+3"), (100, 120)),
}
FAMILIES = tuple(FAMILY_VOICES)
CACHE = Path(os.environ.get("COPILOT_VOICE_CACHE", Path(tempfile.gettempdir()) / "copilot-voice-corpus"))


@dataclass(frozen=True)
class Clip:
    text: str  # what the voice says
    expected: dict[str, Any] | None  # {"kind", "deck", "args"} or None for a non-command
    voice: str
    speed: int
    group: str  # intent kind, or chatter / lyrics / crowd
    seed: int = 0  # the take, for voices that sample their prosody (Piper)

    @property
    def key(self) -> str:
        return voice_tts.key(self.text, self.voice, self.speed, self.seed)


def _e(kind: str, deck: str | None = None, **args: Any) -> dict[str, Any]:
    return {"kind": kind, "deck": deck, "args": args}


DECKS = (("A", "A"), ("B", "B"), ("C", "C"), ("D", "D"))
WORD_DECKS = (("one", "A"), ("two", "B"), ("three", "C"), ("four", "D"))


def _commands() -> list[tuple[str, dict[str, Any], str]]:
    c: list[tuple[str, dict[str, Any], str]] = []

    def add(text: str, expected: dict[str, Any]) -> None:
        c.append((text, expected, expected["kind"]))

    for said, d in DECKS + WORD_DECKS:
        add(f"play deck {said}", _e("PLAY", d))
        add(f"pause deck {said}", _e("PAUSE", d))
    add("play", _e("PLAY"))
    add("start deck B", _e("PLAY", "B"))
    add("deck A play", _e("PLAY", "A"))
    add("pause", _e("PAUSE"))
    add("stop deck A", _e("PAUSE", "A"))
    for said, d in DECKS:
        add(f"cue deck {said}", _e("CUE", d))
        add(f"sync deck {said}", _e("SYNC", d))
    add("sync", _e("SYNC"))
    add("cue", _e("CUE"))
    for beats, said in ((4, "four"), (8, "eight"), (16, "sixteen"), (2, "two"), (1, "one"), (32, "thirty two")):
        add(f"loop {said}", _e("LOOP", beats=float(beats)))
        add(f"loop {said} on deck {'ABCD'[beats % 4]}", _e("LOOP", "ABCD"[beats % 4], beats=float(beats)))
        add(f"{said} beat loop", _e("LOOP", beats=float(beats)))
    add("loop half a beat", _e("LOOP", beats=0.5))
    add("half beat loop on deck B", _e("LOOP", "B", beats=0.5))
    add("loop a quarter beat", _e("LOOP", beats=0.25))
    add("four beat loop on deck B", _e("LOOP", "B", beats=4.0))
    add("eight beat loop on deck A", _e("LOOP", "A", beats=8.0))
    for text, d in (("exit loop", None), ("exit loop on deck A", "A"), ("exit loop on deck B", "B"),
                    ("release the loop", None), ("loop off", None), ("loop off deck C", "C")):
        add(text, _e("EXIT_LOOP", d))
    for n, said in ((1, "one"), (2, "two"), (3, "three"), (4, "four"), (5, "five"), (6, "six"), (7, "seven"),
                    (8, "eight")):
        add(f"hot cue {said}", _e("HOTCUE", n=n))
    add("hot cue two on deck A", _e("HOTCUE", "A", n=2))
    add("hot cue three on deck B", _e("HOTCUE", "B", n=3))
    add("hot cue five on deck C", _e("HOTCUE", "C", n=5))
    for query, d in (("midnight drive", "B"), ("dubby one eighteen", "B"), ("sunrise", "A"), ("deep house", "A"),
                     ("techno", None), ("something funky", None), ("the next track", "C")):
        said = f"load {query}" + (f" to deck {d}" if d else "")
        from copilot.intents.numbers import words_to_numbers

        add(said, _e("LOAD", d, query=words_to_numbers(query)))
    add("drop", _e("DROP"))
    add("drop it", _e("DROP"))
    for bars, said in ((8, "eight"), (4, "four"), (16, "sixteen"), (2, "two"), (1, "one"), (32, "thirty two")):
        add(f"drop in {said}", _e("DROP", bars=bars))
    add("drop in eight bars", _e("DROP", bars=8))
    for bars, said in ((8, "eight"), (4, "four"), (16, "sixteen"), (2, "two"), (32, "thirty two")):
        add(f"{said} bar build", _e("BUILD", bars=bars))
    add("build over four bars", _e("BUILD", bars=4))
    add("build for eight bars", _e("BUILD", bars=8))
    add("build it up", _e("BUILD", bars=8))
    for name in ("echo", "reverb", "delay", "flanger", "phaser"):
        add(f"{name} fifty percent", _e("FX", name=name, amount=0.5))
    add("echo twenty five percent", _e("FX", name="echo", amount=0.25))
    add("reverb eighty percent", _e("FX", name="reverb", amount=0.8))
    add("echo on deck A", _e("FX", "A", name="echo", amount=1.0))
    add("reverb thirty percent on deck B", _e("FX", "B", name="reverb", amount=0.3))
    add("delay seventy five percent", _e("FX", name="delay", amount=0.75))
    add("echo", _e("FX", name="echo", amount=1.0))
    add("flanger on deck B", _e("FX", "B", name="flanger", amount=1.0))
    add("echo one hundred percent", _e("FX", name="echo", amount=1.0))
    for name in ("echo", "reverb", "delay", "flanger"):
        add(f"{name} off", _e("FX_OFF", name=name))
    add("effects off", _e("FX_OFF", name="all"))
    add("effects off on deck A", _e("FX_OFF", "A", name="all"))
    add("reverb off deck B", _e("FX_OFF", "B", name="reverb"))
    for direction in ("up", "down"):
        add(f"filter {direction}", _e("FILTER", direction=direction, amount=0.5))
        add(f"filter {direction} on deck A", _e("FILTER", "A", direction=direction, amount=0.5))
        add(f"filter {direction} thirty percent", _e("FILTER", direction=direction, amount=0.3))
    add("filter down eighty percent on deck B", _e("FILTER", "B", direction="down", amount=0.8))
    add("filter up twenty percent", _e("FILTER", direction="up", amount=0.2))
    for n, said in ((1, "one"), (2, "two"), (3, "three"), (5, "five"), (10, "ten")):
        add(f"tempo plus {said}", _e("TEMPO", delta_bpm=float(n)))
        add(f"tempo minus {said}", _e("TEMPO", delta_bpm=-float(n)))
    add("tempo one twenty four", _e("TEMPO", bpm=124.0))
    add("tempo one hundred and twenty eight", _e("TEMPO", bpm=128.0))
    add("tempo one twenty", _e("TEMPO", bpm=120.0))
    add("one twenty six b p m", _e("TEMPO", bpm=126.0))
    add("tempo to one thirty", _e("TEMPO", bpm=130.0))
    for text in ("panic", "panic stop", "stop everything", "kill it"):
        add(text, _e("PANIC"))
    for text in ("yes", "yes please", "confirm", "do it"):
        add(text, _e("CONFIRM"))
    for text in ("cancel", "no", "never mind", "abort"):
        add(text, _e("CANCEL"))
    return c


CHATTER = (
    "what time does the club close tonight",
    "can you get me another drink",
    "I think the speakers are a bit too loud",
    "have you seen my headphones anywhere",
    "this crowd is amazing tonight",
    "we should grab some food after the set",
    "the lights are really nice in here",
    "my phone is almost out of battery",
    "where did you park the car",
    "I love the way this room sounds",
    "tell the promoter we start at midnight",
    "it is really warm in the booth",
    "did you bring the spare cables",
    "how long is your set tonight",
    "the bar is on the other side",
    "let me check the weather tomorrow",
    "that was a great party last week",
    "my friend is coming later",
    "thank you so much for coming",
    "I need a glass of water",
)
LYRICS = (  # made up for this corpus, sung-speech style
    "dancing under neon skies until the morning comes",
    "hold me closer in the summer rain",
    "we are shining like the city lights",
    "every heartbeat takes me higher",
    "lost inside the rhythm of the night",
    "never let me go tonight",
    "the river runs to the silver sea",
    "feel the fire burning in my soul",
    "oh baby baby won't you stay",
    "running through the golden fields",
    "we will rise again tomorrow",
    "your love is like a melody",
    "all the stars are falling down on me",
    "take my hand and fly away",
    "the moonlight whispers secrets",
    "I can hear the ocean calling",
    "shadows dancing on the wall",
    "sweet dreams are made of you",
    "turn the world around and round",
    "hearts on fire in the dark",
)
CROWD = tuple(f"crowd {i}" for i in range(10))  # synthetic crowd noise, no words (see crowd_noise)


def clips(family: str = "espeak") -> list[Clip]:
    """The whole corpus said by one family, its voices and speeds spread deterministically over it."""
    voices, speeds = FAMILY_VOICES[family]
    out: list[Clip] = []

    def add(text: str, expected: dict[str, Any] | None, group: str) -> None:
        n = len(out)
        out.append(Clip(text, expected, voices[n % len(voices)], speeds[(n // len(voices)) % len(speeds)], group))

    for text, expected, kind in _commands():
        add(text, expected, kind)
    for group, lines in (("chatter", CHATTER), ("lyrics", LYRICS), ("crowd", CROWD)):
        for text in lines:
            add(text, None, group)
    for text, expected, kind in LATER:  # after the rest: earlier clips keep their voice, speed and music
        add(text, expected, kind)
    return out


# Commands added after the corpus was first measured (issue 18: key-lock and key shift; issue 14: mixing).
LATER: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("key lock on deck A", _e("KEYLOCK", "A", on=True), "KEYLOCK"),
    ("key lock off deck B", _e("KEYLOCK", "B", on=False), "KEYLOCK"),
    ("key up one on deck B", _e("KEY", "B", delta=1), "KEY"),
    ("match key to deck A", _e("KEY", match="A"), "KEY"),
    ("kill the bass on deck A", _e("EQ", "A", band="low", level=0.0), "EQ"),
    ("bass back on deck A", _e("EQ", "A", band="low", level=1.0), "EQ"),
    ("cut the highs on deck B", _e("EQ", "B", band="high", level=0.0), "EQ"),
    ("fader down on deck B", _e("FADER", "B", level=0.0), "FADER"),
    ("crossfade to deck B over eight bars", _e("CROSSFADE", to="B", bars=8), "CROSSFADE"),
    ("crossfader to the middle", _e("CROSSFADE", position=0.5, bars=0), "CROSSFADE"),
    ("bass swap into deck B in sixteen", _e("TRANSITION", template="bass_swap", to="B", bars=16), "TRANSITION"),
    ("echo out deck A", _e("TRANSITION", template="echo_out", **{"from": "A"}), "TRANSITION"),
    ("blend into deck B over thirty two", _e("TRANSITION", template="blend", to="B", bars=32), "TRANSITION"),
    ("next track", _e("NEXT"), "NEXT"),
    ("speed up to one twenty five", _e("TEMPO", bpm=125.0), "TEMPO"),
    ("sync deck B to deck A", _e("SYNC", "B", to="A"), "SYNC"),
    ("cancel the transition", _e("CANCEL", what="transition"), "CANCEL"),
)


# -- audio ------------------------------------------------------------------------------------------------
def every(step: int, clips: list[Clip]) -> list[tuple[int, Clip]]:
    """One clip in `step`, with each clip's index in the corpus (its music bed's seed): the pick
    slides by one every `step` clips, so every voice is in it whatever their number (every third clip
    of a family of three voices would be one voice)."""
    return [(n, clip) for n, clip in enumerate(clips) if n % step == (n // step) % step]


def speak(text: str, voice: str, speed: int, cache: Path = CACHE, seed: int = 0) -> np.ndarray:
    """`text` said by `voice` (any family) → 16 kHz mono float32, cached by (text, voice, speed, seed)."""
    return voice_tts.speak(text, voice, speed, cache, seed)


def crowd_noise(seed: int, seconds: float = 2.0) -> np.ndarray:
    """Crowd-like noise without words: pink noise swells, hand claps and whoops (no speech)."""
    rng = np.random.default_rng(1000 + seed)
    n = int(seconds * RATE)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])  # pink
    pink = np.fft.irfft(spectrum, n)
    pink /= np.max(np.abs(pink)) + 1e-9
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * np.arange(n) / RATE + rng.uniform(0, 6))
    out = 0.25 * pink * swell
    for _ in range(rng.integers(6, 20)):  # claps: short noise bursts
        at = rng.integers(0, n - 800)
        out[at:at + 800] += rng.standard_normal(800) * np.exp(-np.arange(800) / 120) * 0.5
    t = np.arange(int(0.4 * RATE)) / RATE
    for _ in range(rng.integers(0, 3)):  # whoops: gliding whistles
        at = rng.integers(0, n - t.size)
        f = rng.uniform(600, 1200) * (1 + t)
        out[at:at + t.size] += 0.2 * np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.hanning(t.size)
    return (out / (np.max(np.abs(out)) + 1e-9) * 0.5).astype(np.float32)


def audio_of(clip: Clip, cache: Path = CACHE) -> np.ndarray:
    if clip.group == "crowd":
        return crowd_noise(int(clip.text.split()[-1]))
    return speak(clip.text, clip.voice, clip.speed, cache, clip.seed)


def music_bed(seconds: float, seed: int = 0, bpm: float = 124.0) -> np.ndarray:
    """A deterministic dance track (the project's engine/example_synth: drums, bass, pads, arpeggio) from its
    drop, mono 16 kHz float32; the seed picks the key and the take."""
    bars = math.ceil(seconds / (4 * 60.0 / bpm)) + 1
    return _drop(bars, seed % 8, bpm)[: int(seconds * RATE)].copy()


@functools.lru_cache(maxsize=16)
def _drop(bars: int, seed: int, bpm: float) -> np.ndarray:
    from copilot.engine.example_synth import NOTE_NAMES, Section, TrackSpec, render_track

    spec = TrackSpec(title=f"voice bed {seed}", bpm=bpm, tonic=NOTE_NAMES[(seed * 5) % 12],
                     mode=("minor", "major")[seed % 2], sections=(Section("drop", bars),), seed=seed, sr=RATE)
    audio, _, _ = render_track(spec)
    return audio.mean(axis=1).astype(np.float32)


def mix_music(speech: np.ndarray, snr_db: float, seed: int = 0, pad_s: float = 0.3) -> np.ndarray:
    """Speech over the music bed at `snr_db` (speech power over its loud part vs music power)."""
    pad = int(pad_s * RATE)
    speech = np.concatenate([np.zeros(pad, np.float32), speech, np.zeros(pad, np.float32)])
    return _at_snr(speech, music_bed(speech.size / RATE + 0.1, seed)[: speech.size], snr_db)


# -- conditions: clean, over music, over a crowd ---------------------------------------------------------
Condition = tuple[str, float | None]  # ("clean", None), ("music", 10.0), ("crowd", 10.0)
CLEAN: Condition = ("clean", None)


def parse_condition(text: str) -> Condition:
    """'clean', 'music:10', 'crowd:5' → a condition."""
    bed, _, snr = text.partition(":")
    if bed == "clean":
        return CLEAN
    if bed not in ("music", "crowd") or not snr:
        raise ValueError(f"a condition is clean, music:SNR or crowd:SNR, not {text!r}")
    return bed, float(snr)


def label(condition: Condition) -> str:
    bed, snr = condition
    return "clean" if snr is None else f"{bed} {snr:g} dB"


def condition(audio: np.ndarray, cond: Condition, seed: int = 0) -> np.ndarray:
    """A clip as heard in `cond` (the seed picks the music's key and take, or the crowd)."""
    bed, snr = cond
    if snr is None:
        return audio
    return mix_music(audio, snr, seed) if bed == "music" else mix_crowd(audio, snr, seed)


BABBLE_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us-nyc", "en-gb-x-rp", "en-029")


@functools.lru_cache(maxsize=8)
def _babble(seed: int, seconds: int) -> np.ndarray:
    """Six people talking at once (chatter lines, espeak voices), looped to `seconds`."""
    rng = np.random.default_rng(5000 + seed)
    n = seconds * RATE
    out = np.zeros(n, np.float32)
    for talker in range(6):
        line = CHATTER[int(rng.integers(len(CHATTER)))]
        speech = speak(line, BABBLE_VOICES[talker], int(rng.choice(SPEEDS)))
        speech = speech / (np.sqrt(np.mean(speech**2)) + 1e-9)
        reps = np.tile(np.concatenate([speech, np.zeros(int(0.3 * RATE), np.float32)]), n // speech.size + 2)
        at = int(rng.integers(0, speech.size))
        out += reps[at:at + n] * float(rng.uniform(0.5, 1.0))
    return out


def crowd_bed(seconds: float, seed: int = 0) -> np.ndarray:
    """A crowd: babble of voices with the crowd noise (swells, claps, whoops) at equal power."""
    babble = _babble(seed % 4, math.ceil(seconds) + 1)[: int(seconds * RATE)]
    noise = crowd_noise(seed, seconds)[: babble.size]
    babble = babble / (np.sqrt(np.mean(babble**2)) + 1e-9)
    noise = noise / (np.sqrt(np.mean(noise**2)) + 1e-9)
    return (babble + noise).astype(np.float32)


def mix_crowd(speech: np.ndarray, snr_db: float, seed: int = 0, pad_s: float = 0.3) -> np.ndarray:
    """Speech over the crowd at `snr_db` (as `mix_music`)."""
    pad = int(pad_s * RATE)
    speech = np.concatenate([np.zeros(pad, np.float32), speech, np.zeros(pad, np.float32)])
    return _at_snr(speech, crowd_bed(speech.size / RATE + 0.1, seed)[: speech.size], snr_db)


def _at_snr(speech: np.ndarray, bed: np.ndarray, snr_db: float) -> np.ndarray:
    loud = np.abs(speech) > 0.02 * (np.max(np.abs(speech)) + 1e-9)
    p_speech = float(np.mean(speech[loud] ** 2)) if loud.any() else float(np.mean(speech**2)) + 1e-12
    p_bed = float(np.mean(bed**2)) + 1e-12
    mixed = speech + bed * np.sqrt(p_speech / (p_bed * 10 ** (snr_db / 10)))
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.9 if peak > 0.9 else mixed).astype(np.float32)
