"""The words of the command language, and the ways Whisper (tiny.en) mishears them.

Plain tables, read by `fuzzy` (word distance) and `grammar` (slots). The near-miss lists come from
transcribing espeak-ng commands on this machine (see tests/voice_corpus.py): they are what the
model actually wrote, each with a cost (0 = sure, 0.5 = a guess). Anything not listed still gets a
chance through spelling and sound distance in `fuzzy.word_distance`.
"""

from __future__ import annotations

from .schema import Deck

FX_NAMES = ("echo", "delay", "reverb", "flanger", "phaser", "gate", "crush", "bitcrusher", "roll", "filter fx")

# EQ bands as DJs say them → the band.
BAND_WORDS = {
    "bass": "low", "basses": "low", "low": "low", "lows": "low", "low end": "low", "bottom": "low", "sub": "low",
    "mid": "mid", "mids": "mid", "middle": "mid", "mid range": "mid", "high": "high", "highs": "high",
    "top": "high", "top end": "high", "treble": "high", "hats": "high", "eq": "all", "eqs": "all",
}
# The bundled transition templates (phrase_db/templates) as said → the template's name.
TEMPLATE_WORDS = {
    "bass swap": "bass_swap", "swap": "bass_swap", "blend": "blend", "long blend": "blend",
    "filter fade": "filter_fade", "filter mix": "filter_fade", "echo out": "echo_out",
    "double drop": "double_drop",
}
# Where the crossfader can be sent by name.
SIDE_WORDS = {"middle": 0.5, "centre": 0.5, "center": 0.5, "left": 0.0, "right": 1.0}

# Words that carry no meaning in a command; skipping one costs little ("please play deck A").
FILLERS = frozenset((
    "the", "a", "an", "uh", "um", "er", "erm", "ah", "please", "now", "okay", "ok", "hey", "copilot", "and",
    "then", "so", "just", "like", "yo", "alright", "right", "can", "you", "could", "would", "lets", "i", "want",
    "me", "us", "go", "ahead", "quickly", "nice",
))
FILLER_COST = 0.12
UNKNOWN_COST = 1.0  # skipping a word the grammar has no place for

# Whisper's near-misses of grammar words: heard → {meant: cost}.
NEAR_MISSES: dict[str, dict[str, float]] = {
    "neck": {"deck": 0.15}, "check": {"deck": 0.25}, "tech": {"deck": 0.25}, "dec": {"deck": 0.05},
    "decks": {"deck": 0.1}, "deb": {"deck": 0.2}, "back": {"deck": 0.35}, "duck": {"deck": 0.25},
    "dick": {"deck": 0.25}, "dig": {"deck": 0.3}, "jack": {"deck": 0.35}, "desk": {"deck": 0.2},
    "lube": {"loop": 0.2}, "look": {"loop": 0.25}, "loo": {"loop": 0.25}, "loops": {"loop": 0.1},
    "lupe": {"loop": 0.15}, "luke": {"loop": 0.3}, "lou": {"loop": 0.3}, "loot": {"loop": 0.25},
    "blue": {"loop": 0.35}, "loup": {"loop": 0.15}, "lopp": {"loop": 0.15}, "leap": {"loop": 0.35},
    "lord": {"load": 0.2}, "lowed": {"load": 0.15}, "loaded": {"load": 0.2}, "loads": {"load": 0.1},
    "road": {"load": 0.35}, "loud": {"load": 0.25}, "lode": {"load": 0.1}, "low": {"load": 0.35},
    "sink": {"sync": 0.1}, "synch": {"sync": 0.05}, "sinc": {"sync": 0.05}, "think": {"sync": 0.35},
    "synced": {"sync": 0.15}, "sinks": {"sync": 0.2}, "sing": {"sync": 0.3}, "zinc": {"sync": 0.25},
    "paws": {"pause": 0.1}, "pose": {"pause": 0.25}, "pours": {"pause": 0.25}, "paused": {"pause": 0.1},
    "pauses": {"pause": 0.1}, "pods": {"pause": 0.35}, "bars": {"bar": 0.05, "pause": 0.4},
    "queue": {"cue": 0.05}, "q": {"cue": 0.1}, "kew": {"cue": 0.1}, "cute": {"cue": 0.35},
    "queues": {"cue": 0.15}, "cues": {"cue": 0.1}, "que": {"cue": 0.1}, "cube": {"cue": 0.35},
    "eko": {"echo": 0.05}, "ekko": {"echo": 0.05}, "eco": {"echo": 0.1}, "echoes": {"echo": 0.1},
    "ecco": {"echo": 0.1}, "icko": {"echo": 0.3}, "echos": {"echo": 0.05},
    "temple": {"tempo": 0.25}, "tempos": {"tempo": 0.1}, "tempest": {"tempo": 0.35}, "tempa": {"tempo": 0.15},
    "bill": {"build": 0.3}, "built": {"build": 0.1}, "billed": {"build": 0.15}, "builds": {"build": 0.1},
    "bild": {"build": 0.1}, "bold": {"build": 0.35}, "guild": {"build": 0.3},
    "filters": {"filter": 0.05}, "filtered": {"filter": 0.15}, "philtre": {"filter": 0.1},
    "panics": {"panic": 0.05}, "picnic": {"panic": 0.35}, "panick": {"panic": 0.05}, "manic": {"panic": 0.3},
    "cancelled": {"cancel": 0.1}, "canceled": {"cancel": 0.1}, "council": {"cancel": 0.3},
    "drops": {"drop": 0.1}, "dropped": {"drop": 0.15}, "drum": {"drop": 0.4}, "strap": {"drop": 0.4},
    "trop": {"drop": 0.25},
    "plays": {"play": 0.1}, "played": {"play": 0.15}, "clay": {"play": 0.35}, "blay": {"play": 0.25},
    "player": {"play": 0.3}, "pray": {"play": 0.35},
    "reverse": {"reverb": 0.35}, "reverbs": {"reverb": 0.05}, "river": {"reverb": 0.4},
    "flange": {"flanger": 0.1}, "flanjer": {"flanger": 0.05}, "phase": {"phaser": 0.2}, "phasor": {"phaser": 0.05},
    "laser": {"phaser": 0.35}, "phaze": {"phaser": 0.2},
    "percents": {"percent": 0.05}, "per": {"percent": 0.3}, "percentage": {"percent": 0.1},
    "beets": {"beats": 0.05}, "beet": {"beat": 0.05}, "bit": {"beat": 0.3}, "bead": {"beat": 0.2},
    "beads": {"beats": 0.2}, "beat's": {"beats": 0.05},
    "bah": {"bar": 0.2}, "bahr": {"bar": 0.1}, "ba": {"bar": 0.25}, "bor": {"bar": 0.25},
    "plus": {"plus": 0.0}, "plush": {"plus": 0.2}, "bless": {"plus": 0.4},
    "minors": {"minus": 0.2}, "minus's": {"minus": 0.05}, "mine": {"minus": 0.4}, "minutes": {"minus": 0.4},
    "exits": {"exit": 0.05}, "exited": {"exit": 0.1}, "eggs": {"exit": 0.4},
    "effect": {"fx": 0.0}, "effects": {"fx": 0.0}, "f": {"fx": 0.3}, "fix": {"fx": 0.35}, "efx": {"fx": 0.05},
    "hotq": {"hotcue": 0.05}, "hotcues": {"hotcue": 0.05}, "hotkey": {"hotcue": 0.3},
    "yeah": {"yes": 0.0}, "yas": {"yes": 0.15}, "yess": {"yes": 0.05},
    "confirmed": {"confirm": 0.0}, "confirms": {"confirm": 0.05},
    "of": {"off": 0.25}, "all": {"off": 0.4},
    "that": {"the": 0.1}, "this": {"the": 0.2}, "heart": {"hot": 0.3}, "hat": {"hot": 0.2}, "hop": {"hot": 0.3},
    "b": {"beat": 0.3}, "4": {"for": 0.2}, "2": {"to": 0.25}, "now": {"down": 0.3},
    "app": {"up": 0.3}, "op": {"up": 0.3}, "town": {"down": 0.35}, "done": {"down": 0.4},
}

# Whisper writes a deck letter as these words: heard → (deck, cost).
DECK_WORDS: dict[str, tuple[Deck, float]] = {
    "a": (Deck.A, 0.0), "b": (Deck.B, 0.0), "c": (Deck.C, 0.0), "d": (Deck.D, 0.0),
    "1": (Deck.A, 0.0), "2": (Deck.B, 0.0), "3": (Deck.C, 0.0), "4": (Deck.D, 0.0),
    "hey": (Deck.A, 0.3), "eh": (Deck.A, 0.25), "ay": (Deck.A, 0.2), "hay": (Deck.A, 0.3), "ei": (Deck.A, 0.2),
    "k": (Deck.A, 0.3), "kay": (Deck.A, 0.3),  # "deck A" runs the k into the letter (Piper voices: "deck K")
    "be": (Deck.B, 0.15), "bee": (Deck.B, 0.1), "bea": (Deck.B, 0.15), "me": (Deck.B, 0.4), "pee": (Deck.B, 0.4),
    "v": (Deck.B, 0.4), "p": (Deck.B, 0.35),
    "see": (Deck.C, 0.1), "sea": (Deck.C, 0.1), "si": (Deck.C, 0.15), "she": (Deck.C, 0.4), "cee": (Deck.C, 0.1),
    "dee": (Deck.D, 0.1), "de": (Deck.D, 0.15), "t": (Deck.D, 0.4), "di": (Deck.D, 0.2), "tea": (Deck.D, 0.4),
    "won": (Deck.A, 0.35), "to": (Deck.B, 0.35), "too": (Deck.B, 0.3), "for": (Deck.D, 0.35),
    "fore": (Deck.D, 0.3),
}

# A number slot hears these words as digits: heard → (value, cost).
NUMBER_WORDS: dict[str, tuple[float, float]] = {
    "for": (4.0, 0.25), "fore": (4.0, 0.2), "won": (1.0, 0.3), "to": (2.0, 0.35), "too": (2.0, 0.3),
    "ate": (8.0, 0.3), "tree": (3.0, 0.35), "free": (3.0, 0.4), "sex": (6.0, 0.45), "fife": (5.0, 0.3),
    "nein": (9.0, 0.3), "it": (8.0, 0.4), "sixteens": (16.0, 0.1), "eights": (8.0, 0.1), "fours": (4.0, 0.1),
    "twos": (2.0, 0.1),
}
