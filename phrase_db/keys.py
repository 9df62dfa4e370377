"""Musical keys: names, the Camelot wheel, key-profile estimation from chroma, and the MIREX score.

A key is (tonic pitch class 0..11 with C = 0, mode "major"/"minor"). DJs think in Camelot codes:
8A = A minor, 8B = C major; one step round the wheel is a fifth; A is minor, B major.
Compatible moves: the same code, ±1 on the same letter, or the same number on the other letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_ALIASES = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
MODES = ("major", "minor")

# Pitch-class profiles from corpus analysis of electronic dance music ("edma", Faraldo, Gómez,
# Jordà & Herrera, "Key Estimation in Electronic Dance Music", ECIR 2016), index 0 = the tonic.
EDMA_MAJOR = np.array([0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
                       0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515])
EDMA_MINOR = np.array([0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
                       0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106])


@dataclass(frozen=True, order=True)
class Key:
    tonic: int  # pitch class, C = 0
    mode: str  # "major" | "minor"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12 or self.mode not in MODES:
            raise ValueError(f"bad key {self.tonic!r} {self.mode!r}")

    @property
    def name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def short(self) -> str:
        return NOTE_NAMES[self.tonic] + ("m" if self.mode == "minor" else "")

    @property
    def camelot(self) -> str:
        number, letter = camelot_of(self)
        return f"{number}{letter}"

    @property
    def index(self) -> int:
        """0..23: majors first (C major = 0), then minors (C minor = 12)."""
        return self.tonic + (12 if self.mode == "minor" else 0)

    @classmethod
    def from_index(cls, i: int) -> Key:
        return cls(i % 12, "minor" if i >= 12 else "major")

    @classmethod
    def parse(cls, text: str) -> Key:
        """'A minor', 'Am', 'a min', 'C#maj', 'Bb', '8A', '11b' → Key. Raises ValueError."""
        t = text.strip()
        m = re.fullmatch(r"(1[0-2]|[1-9])\s*([ABab])", t)
        if m:
            return from_camelot(int(m.group(1)), m.group(2).upper())
        m = re.fullmatch(r"([A-Ga-g])([#♯b♭]?)\s*(major|maj|minor|min|m|M)?", t)
        if not m:
            raise ValueError(f"not a key: {text!r}")
        note = m.group(1).upper() + m.group(2).replace("♯", "#").replace("♭", "b")
        note = _ALIASES.get(note, note)
        mode = "minor" if (m.group(3) or "").lower() in ("minor", "min") or m.group(3) == "m" else "major"
        return cls(NOTE_NAMES.index(note), mode)


def camelot_of(key: Key) -> tuple[int, str]:
    if key.mode == "major":
        return (7 * key.tonic % 12 + 7) % 12 + 1, "B"
    return (7 * (key.tonic - 9) % 12 + 7) % 12 + 1, "A"


def from_camelot(number: int, letter: str) -> Key:
    for i in range(24):
        k = Key.from_index(i)
        if camelot_of(k) == (number, letter):
            return k
    raise ValueError(f"not a Camelot code: {number}{letter}")


def camelot_distance(a: Key, b: Key) -> int:
    """Steps on the wheel: round the circle (fifths) plus one for changing letter (relative key)."""
    (na, la), (nb, lb) = camelot_of(a), camelot_of(b)
    around = abs(na - nb) % 12
    return min(around, 12 - around) + (la != lb)


def compatibility(a: Key, b: Key) -> float:
    """How well `b` follows `a` in a mix, 0..1: same 1, ±1 or relative 0.8, two steps 0.45, else 0."""
    d = camelot_distance(a, b)
    la, lb = camelot_of(a)[1], camelot_of(b)[1]
    if d == 0:
        return 1.0
    if d == 1:
        return 0.8
    if d == 2 and la == lb:
        return 0.45  # ±2 "energy boost"
    if d == 2:
        return 0.3  # diagonal move
    return 0.0


COMPAT = np.array([[compatibility(Key.from_index(i), Key.from_index(j)) for j in range(24)] for i in range(24)],
                  dtype=np.float32)


def mirex_score(estimate: Key, truth: Key) -> float:
    """MIREX weighted key score: correct 1, fifth 0.5, relative 0.3, parallel 0.2, else 0."""
    if estimate == truth:
        return 1.0
    if estimate.mode == truth.mode and (estimate.tonic - truth.tonic) % 12 in (5, 7):
        return 0.5
    if estimate.mode != truth.mode:
        relative = (truth.tonic + (9 if truth.mode == "major" else 3)) % 12
        if estimate.tonic == relative:
            return 0.3
        if estimate.tonic == truth.tonic:
            return 0.2
    return 0.0


def estimate_key(chroma: np.ndarray) -> tuple[Key, float]:
    """Best key for a 12-bin chroma vector (C first) and a 0..1 confidence (margin over the runner-up).

    Correlates the chroma with the EDM profiles rotated to every tonic (Krumhansl–Schmuckler).
    """
    c = np.asarray(chroma, dtype=np.float64)
    if c.shape != (12,) or not np.all(np.isfinite(c)) or c.std() == 0:
        return Key(9, "minor"), 0.0
    scores = np.empty(24)
    for mode_i, profile in enumerate((EDMA_MAJOR, EDMA_MINOR)):
        for tonic in range(12):
            scores[tonic + 12 * mode_i] = np.corrcoef(c, np.roll(profile, tonic))[0, 1]
    order = np.argsort(scores)[::-1]
    best, second = scores[order[0]], scores[order[1]]
    confidence = float(np.clip((best - second) / max(1e-9, 1.0 - second), 0.0, 1.0))
    return Key.from_index(int(order[0])), confidence
