"""Enrolment: the performer says each prompt once, and where Whisper hears their rendition as other
words, those words become the performer's aliases.

Whisper hears one person's "loop" as "work", or their "deck B" as "deck E", the same way most times.
An alias file already rewrites words before the grammar reads them (intents/aliases.py), so enrolment
only has to write the right aliases:

* a word alias, where the prompt and what was heard have the same number of words and a heard word
  is not one of the command language's own ("work" → "loop");
* a sentence alias, where the counts differ ("we pay" → "loop eight"), when the heard sentence has a
  word outside the command language (a sentence made only of command words must keep its own meaning).

A heard word that stood for two different words in two prompts teaches nothing and is left out.
Words of the command language, numbers, deck letters and fillers are never re-mapped, so enrolment
cannot change what a correctly heard command means. Nor is a word taught to mean "load": every word
after it is a track query, so "both" → "load" made the lyric "both me closer in the summer rain" a
LOAD (measured: the one false accept enrolment caused); a LOAD prompt heard wrong is learned as a
whole sentence only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from copilot.intents.parser import normalise

from .constrained import known_word
from .listener import Listener
from .vad import FRAME, RATE

FREE_TEXT = "load"  # the verb whose following words are a track query, whatever they are

# One take of each: the verbs, every deck letter and number word a set needs, each effect and band.
PROMPTS: tuple[str, ...] = (
    "play deck A", "pause deck B", "stop deck C", "cue deck D", "sync deck B to deck A",
    "loop four on deck A", "loop eight", "loop sixteen", "loop two", "half beat loop", "exit loop",
    "hot cue one", "hot cue three on deck B", "load midnight drive to deck B",
    "drop in eight", "four bar build", "tempo plus two", "tempo minus one", "tempo one twenty eight",
    "echo fifty percent", "reverb off", "delay thirty percent", "flanger on deck C", "effects off",
    "filter down", "filter up eighty percent", "kill the bass on deck A", "bass back on deck B",
    "cut the highs", "fader down on deck D", "crossfader to the middle", "crossfade to deck B over eight bars",
    "bass swap into deck B in sixteen", "echo out deck A", "next track", "key lock on", "key up one",
    "cancel the transition", "confirm", "cancel", "panic stop",
)


def learn(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(prompt, what was heard) pairs → aliases: heard words → the prompt's words."""
    words: dict[str, set[str]] = {}
    sentences: dict[str, str] = {}
    for prompt, heard in pairs:
        said, got = normalise(prompt).split(), normalise(heard).split()
        if not got or said == got:
            continue
        if len(said) == len(got):
            misheard = [(meant, word) for meant, word in zip(said, got, strict=True)
                        if meant != word and not known_word(word)]
            for meant, word in misheard:
                words.setdefault(word, set()).add(meant)
            if FREE_TEXT in said and misheard:
                sentences[" ".join(got)] = " ".join(said)
        elif not all(known_word(w) for w in got):
            sentences[" ".join(got)] = " ".join(said)
    out = {word: next(iter(meant)) for word, meant in words.items() if len(meant) == 1 and meant != {FREE_TEXT}}
    for heard, meant in sentences.items():  # a sentence already mended word by word needs no alias
        if " ".join(out.get(w, w) for w in heard.split()) != meant:
            out[heard] = meant
    return out


def merge(existing: Mapping[str, str], learned: Mapping[str, str]) -> dict[str, str]:
    """The performer's own aliases win over learned ones with the same words."""
    mine = {normalise(k) for k in existing}
    return {**{k: v for k, v in learned.items() if normalise(k) not in mine}, **existing}


def to_toml(aliases: Mapping[str, str], learned: Mapping[str, str]) -> str:
    """The alias file: the performer's own first, then the learned ones under a comment."""
    lines = ["[aliases]"]
    own = [k for k in aliases if k not in learned or aliases[k] != learned[k]]
    lines += [f"{_quote(k)} = {_quote(aliases[k])}" for k in own]
    taught = [k for k in aliases if k not in own]
    if taught:
        lines += ["", "# learned by `copilot voice enroll` (how Whisper hears you → what you said)"]
        lines += [f"{_quote(k)} = {_quote(aliases[k])}" for k in taught]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def recorded(transcriber: Any, audio: np.ndarray) -> list[str]:
    """What Whisper heard in each utterance of a recording (16 kHz mono), in order: the prompts said one
    after another with a pause between. The recording is end-pointed as the live listener does, but
    flat out, on the recording's own clock."""
    heard: list[str] = []
    tape = [0.0]  # the listener's clock: the time of the last sample fed, not the wall's
    listener = Listener(transcriber, lambda h: heard.append(h.transcript.text), speculative=False,
                        max_delay_s=math.inf, clock=lambda: tape[0])
    listener.start()
    try:
        for k in range(audio.size // FRAME):
            tape[0] = (k + 1) * FRAME / RATE
            listener.feed(audio[k * FRAME:(k + 1) * FRAME], tape[0])
        listener.end_of_input(tape[0])
        listener.wait_idle(60.0)
    finally:
        listener.stop()
    return heard
