"""Dance tracks from numpy, with the answers written down: the project's shared test music.

`render_track(spec)` synthesises drums (kick, clap, hats, crash), bass, pads, an arpeggio and a
riser, arranged in sections of whole bars, and returns the audio together with its ground truth *by
construction*: the tempo (any float BPM), every beat and downbeat time, the key, the section
boundaries with labels and energy. The same spec (seed included) always gives the same samples, so
analysis tests, the engine's example crate and the voice helper's music bed all hear the same music.

Only numpy and scipy, nothing from copilot: it lives in `engine/` because the example crate
(`example_crate.py`) renders with it at run time; tests and benches import it from here too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import signal

# A version stamp written into every sidecar (the module's name when it was first written; renaming it
# would regenerate every performer's example crate): bump when the same spec would sound different.
GENERATOR = "copilot.examples.synth/1"
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E"}
MODES = ("major", "minor")
LABELS = ("intro", "build", "drop", "main", "break", "outro")
DEFAULT_ENERGY = {"intro": 0.35, "build": 0.6, "drop": 0.95, "main": 0.8, "break": 0.25, "outro": 0.35}

# Chord loops that keep the tonic the most-heard pitch class (so "the key" is unambiguous):
# (semitones above the tonic, minor chord?) for one chord per bar.
PROGRESSIONS = {
    "minor": ((0, True), (8, False), (5, True), (7, True)),  # i VI iv v   (Am F Dm Em)
    "major": ((0, False), (9, True), (5, False), (7, False)),  # I vi IV V  (C Am F G)
}


@dataclass(frozen=True)
class Section:
    """A run of whole bars with one arrangement; `energy` None takes the label's default."""

    label: str
    bars: int
    energy: float | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown section label {self.label!r}; use one of {', '.join(LABELS)}")
        if self.bars <= 0:
            raise ValueError("a section needs at least one bar")

    @property
    def level(self) -> float:
        return DEFAULT_ENERGY[self.label] if self.energy is None else float(self.energy)


DEFAULT_SECTIONS = (
    Section("intro", 16),
    Section("build", 8),
    Section("drop", 32),
    Section("break", 16),
    Section("drop", 16),
    Section("outro", 16),
)


@dataclass(frozen=True)
class TrackSpec:
    """Everything that decides the sound. `lead_in` is silence (seconds) before the first downbeat."""

    title: str = "Untitled"
    artist: str = "copilot examples"
    bpm: float = 124.0
    tonic: str = "A"
    mode: str = "minor"
    sections: tuple[Section, ...] = DEFAULT_SECTIONS
    seed: int = 0
    sr: int = 44100
    lead_in: float = 0.0
    tail: float = 1.0  # seconds after the last bar for tails to ring out
    tags: tuple[str, ...] = ()
    genre: str = "House"

    def __post_init__(self) -> None:
        if not (40.0 <= self.bpm <= 250.0):
            raise ValueError(f"bpm {self.bpm} outside 40..250")
        object.__setattr__(self, "tonic", note_name(self.tonic))
        if self.mode not in MODES:
            raise ValueError(f"mode must be major or minor, not {self.mode!r}")
        object.__setattr__(self, "sections", tuple(
            s if isinstance(s, Section) else Section(**s) for s in self.sections))
        object.__setattr__(self, "tags", tuple(self.tags))
        if not self.sections:
            raise ValueError("a track needs at least one section")
        if self.lead_in < 0 or self.tail < 0:
            raise ValueError("lead_in and tail must not be negative")

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    @property
    def duration(self) -> float:
        return self.lead_in + self.bars * 4 * self.seconds_per_beat + self.tail

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sections"] = [asdict(s) for s in self.sections]
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackSpec:
        data = dict(data)
        data["sections"] = tuple(Section(**s) for s in data.get("sections", [asdict(s) for s in DEFAULT_SECTIONS]))
        data["tags"] = tuple(data.get("tags", ()))
        return cls(**data)


def note_name(name: str) -> str:
    """'a', 'Bb', 'C#' → the sharp spelling used throughout ('A', 'A#', 'C#')."""
    n = name.strip()
    n = n[:1].upper() + n[1:]
    n = _FLATS.get(n, n)
    if n not in NOTE_NAMES:
        raise ValueError(f"unknown note {name!r}")
    return n


def camelot(tonic: str, mode: str) -> str:
    """Camelot wheel code: 8B = C major, 8A = A minor; one step = a fifth."""
    pc = NOTE_NAMES.index(note_name(tonic))
    if mode == "major":
        return f"{(7 * (pc - 0) % 12 + 8 - 1) % 12 + 1}B"
    return f"{(7 * (pc - 9) % 12 + 8 - 1) % 12 + 1}A"


def render_track(spec: TrackSpec) -> tuple[np.ndarray, int, dict[str, Any]]:
    """Audio (frames × 2, float32, peak −1 dBFS), sample rate, and the ground truth."""
    rng = np.random.default_rng(spec.seed)
    sr = spec.sr
    spb = spec.seconds_per_beat
    out = np.zeros((_frames(spec), 2), np.float32)
    kit = _Kit(sr, rng)
    tonic_pc = NOTE_NAMES.index(spec.tonic)
    progression = PROGRESSIONS[spec.mode]

    def at(beat: float) -> int:
        return round((spec.lead_in + beat * spb) * sr)

    bar0 = 0
    for sec in spec.sections:
        _arrange(out, sec, bar0, at, spb, kit, rng, tonic_pc, progression)
        bar0 += sec.bars

    peak = float(np.max(np.abs(out))) or 1.0
    out *= np.float32(0.891 / peak)  # −1 dBFS
    return out, sr, track_truth(spec)


def _frames(spec: TrackSpec) -> int:
    return math.ceil(spec.duration * spec.sr)


def track_truth(spec: TrackSpec) -> dict[str, Any]:
    """The ground truth `render_track` writes beside the audio, known before any audio exists."""
    spb = spec.seconds_per_beat
    sections_truth = []
    bar0 = 0
    for sec in spec.sections:
        start_beat = bar0 * 4
        sections_truth.append({
            "label": sec.label, "start": spec.lead_in + start_beat * spb,
            "end": spec.lead_in + (start_beat + sec.bars * 4) * spb,
            "start_bar": bar0, "bars": sec.bars, "energy": round(sec.level, 3),
        })
        bar0 += sec.bars
    beats = [spec.lead_in + i * spb for i in range(spec.bars * 4)]
    return {
        "generator": GENERATOR,
        "title": spec.title,
        "artist": spec.artist,
        "genre": spec.genre,
        "tags": list(spec.tags),
        "bpm": spec.bpm,
        "sr": spec.sr,
        "duration": _frames(spec) / spec.sr,
        "seed": spec.seed,
        "lead_in": spec.lead_in,
        "beats_per_bar": 4,
        "beats": beats,
        "downbeats": beats[::4],
        "key": {
            "tonic": spec.tonic, "mode": spec.mode, "name": f"{spec.tonic} {spec.mode}",
            "camelot": camelot(spec.tonic, spec.mode),
        },
        "sections": sections_truth,
        "spec": spec.to_dict(),
    }


# -- arrangement ----------------------------------------------------------------------------------------
def _arrange(out: np.ndarray, sec: Section, bar0: int, at: Any, spb: float, kit: _Kit,
             rng: np.random.Generator, tonic_pc: int, progression: tuple[tuple[int, bool], ...]) -> None:
    """Lay one section's events into `out`. Layers follow the label; loudness and density the energy."""
    e = sec.level
    label = sec.label
    drums = label != "break"
    four_floor = label in ("intro", "build", "drop", "main", "outro")
    bass_on = label in ("build", "drop", "main", "outro")
    pad_gain = {"intro": 0.18, "build": 0.3, "drop": 0.32, "main": 0.3, "break": 0.45, "outro": 0.12}[label]
    arp_on = label in ("drop", "main", "break")
    hat_16 = e >= 0.7
    g = 0.55 + 0.45 * e

    _place(out, at(bar0 * 4), kit.crash, 0.35 * g, pan=0.5)
    for b in range(sec.bars):
        bar = bar0 + b
        beat0 = bar * 4
        degree, minor = progression[bar % len(progression)]
        root = tonic_pc + degree
        chord = (root, root + (3 if minor else 4), root + 7)
        progress = b / sec.bars  # where in the section, 0..1

        for q in range(4):
            beat = beat0 + q
            if four_floor and drums:
                _place(out, at(beat), kit.kick, 0.9 * g, pan=0.5)
            if drums and q in (1, 3) and label in ("drop", "main", "build", "outro"):
                _place(out, at(beat), kit.clap, 0.45 * g, pan=0.5)
            if drums:
                _place(out, at(beat + 0.5), kit.open_hat if label in ("drop", "main") else kit.hat,
                       0.22 * g, pan=0.62)
                if hat_16:
                    for s in (0.25, 0.75):
                        _place(out, at(beat + s), kit.hat, 0.12 * g * (0.8 + 0.4 * rng.random()), pan=0.38)
            if bass_on:
                bass_gain = 0.5 * g * (0.6 if label == "outro" else 1.0)
                midi = 36 + (root % 12)
                _place(out, at(beat + 0.5), kit.bass(midi, 0.45 * spb), bass_gain, pan=0.5)
                if label in ("drop", "main"):
                    _place(out, at(beat + 0.75), kit.bass(midi + 12, 0.2 * spb), 0.35 * bass_gain, pan=0.5)

        if label == "build":  # snare roll that doubles its rate through the section
            rate = 1 if progress < 0.5 else (2 if progress < 0.75 else 4)
            for k in range(4 * rate):
                _place(out, at(beat0 + k / rate), kit.clap, (0.15 + 0.35 * progress) * g, pan=0.5)
            _place(out, at(beat0), kit.riser(4 * spb), 0.05 + 0.25 * progress, pan=0.5)

        if label != "outro" or b < sec.bars // 2:
            _place_stereo(out, at(beat0), kit.pad(chord, 4 * spb), pad_gain * g)

        if arp_on:
            arp_gain = 0.16 if label == "break" else 0.22
            tones = [60 + (p % 12) for p in chord] + [72 + (chord[0] % 12)]
            for k in range(16):
                if label == "break" and k % 2:
                    continue
                midi = tones[k % len(tones)]
                _place(out, at(beat0 + k / 4), kit.pluck(midi), arp_gain * g, pan=0.3 + 0.4 * (k % 2))


def _place(out: np.ndarray, pos: int, sound: np.ndarray, gain: float, pan: float) -> None:
    """Add a mono sound at `pos` with a constant-power pan (0 = left, 1 = right)."""
    end = min(len(out), pos + len(sound))
    if pos >= end or pos < 0:
        return
    seg = sound[: end - pos]
    left, right = math.cos(pan * math.pi / 2), math.sin(pan * math.pi / 2)
    out[pos:end, 0] += seg * np.float32(gain * left * math.sqrt(2))
    out[pos:end, 1] += seg * np.float32(gain * right * math.sqrt(2))


def _place_stereo(out: np.ndarray, pos: int, sound: np.ndarray, gain: float) -> None:
    end = min(len(out), pos + len(sound))
    if pos >= end or pos < 0:
        return
    out[pos:end] += sound[: end - pos] * np.float32(gain)


# -- instruments ----------------------------------------------------------------------------------------
def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


@dataclass(eq=False)  # hashed by identity: its methods memoise sounds per kit
class _Kit:
    """One track's sounds: drawn once from the seed, then reused for every hit."""

    sr: int
    rng: np.random.Generator
    kick: np.ndarray = field(init=False)
    clap: np.ndarray = field(init=False)
    hat: np.ndarray = field(init=False)
    open_hat: np.ndarray = field(init=False)
    crash: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        sr, rng = self.sr, self.rng
        t = np.arange(int(0.42 * sr)) / sr
        f_hi, f_lo = 140.0 + 30 * rng.random(), 45.0 + 10 * rng.random()
        freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.035)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        body = np.sin(phase) * np.exp(-t / (0.16 + 0.06 * rng.random()))
        click = rng.standard_normal(len(t)) * np.exp(-t / 0.002) * 0.3
        self.kick = _fade((body + click).astype(np.float32))

        self.clap = self._noise_hit(0.22, 0.045, (900.0, 5000.0))
        self.clap[: int(0.08 * sr)] += self._tone(185.0, 0.08, 0.04) * 0.4
        self.hat = self._noise_hit(0.06, 0.012, (7000.0, 16000.0))
        self.open_hat = self._noise_hit(0.25, 0.07, (6000.0, 16000.0))
        self.crash = self._noise_hit(2.0, 0.6, (4000.0, 16000.0)) * 0.8
        self.detune = 0.08 + 0.06 * rng.random()  # semitones between the pad's two voices
        self.pluck_bright = 0.5 + 0.3 * rng.random()

    def _noise_hit(self, length: float, decay: float, band: tuple[float, float]) -> np.ndarray:
        n = int(length * self.sr)
        t = np.arange(n) / self.sr
        hi = min(band[1], 0.45 * self.sr)
        sos = signal.butter(2, (band[0], hi), btype="bandpass", fs=self.sr, output="sos")
        noise = signal.sosfilt(sos, self.rng.standard_normal(n))
        return _fade((noise * np.exp(-t / decay) * 2.0).astype(np.float32))

    def _tone(self, hz: float, length: float, decay: float) -> np.ndarray:
        t = np.arange(int(length * self.sr)) / self.sr
        return (np.sin(2 * np.pi * hz * t) * np.exp(-t / decay)).astype(np.float32)

    def riser(self, length: float) -> np.ndarray:
        """One bar of noise that opens upward; the build's sense of lift."""
        n = int(length * self.sr)
        noise = self.rng.standard_normal(n)
        sos = signal.butter(2, 2000.0, btype="highpass", fs=self.sr, output="sos")
        ramp = np.linspace(0.2, 1.0, n) ** 2
        return _fade((signal.sosfilt(sos, noise) * ramp * 0.5).astype(np.float32))

    @functools.cache  # noqa: B019 (one kit per render; the cache dies with it)
    def bass(self, midi: int, length: float) -> np.ndarray:
        n = int(length * self.sr)
        t = np.arange(n) / self.sr
        hz = _midi_hz(midi)
        wave = sum(np.sin(2 * np.pi * hz * k * t) / k * math.exp(-(k - 1) * 0.45) for k in range(1, 7))
        env = np.minimum(1.0, t / 0.004) * np.exp(-t / (0.6 * length))
        return _fade((wave * env).astype(np.float32))

    @functools.cache  # noqa: B019 (as above)
    def pluck(self, midi: int) -> np.ndarray:
        t = np.arange(int(0.18 * self.sr)) / self.sr
        hz = _midi_hz(midi)
        wave = sum(np.sin(2 * np.pi * hz * k * t) * self.pluck_bright ** (k - 1) / k for k in range(1, 5))
        return _fade((wave * np.minimum(1.0, t / 0.002) * np.exp(-t / 0.05)).astype(np.float32))

    @functools.cache  # noqa: B019 (as above)
    def pad(self, chord: tuple[int, ...], length: float) -> np.ndarray:
        """A bar of detuned saw-ish voices, left and right a little apart; soft attack and release."""
        n = int(length * self.sr)
        t = np.arange(n) / self.sr
        stereo = np.zeros((n, 2))
        for pc in chord:
            midi = 48 + (pc % 12) if pc % 12 >= 5 else 60 + (pc % 12)  # keep the voicing in one octave band
            for ch, det in ((0, -self.detune), (1, self.detune)):
                hz = _midi_hz(midi + det)
                stereo[:, ch] += sum(np.sin(2 * np.pi * hz * k * t) / k ** 1.5 for k in range(1, 6))
        env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (length - t) / 0.05).clip(0.0)
        return (stereo * env[:, None] / len(chord)).astype(np.float32)


def _fade(x: np.ndarray, ms: float = 3.0, sr: int = 44100) -> np.ndarray:
    """A short fade at the end so a cut-off tail never clicks."""
    k = min(len(x), int(ms * sr / 1000))
    if k:
        x[-k:] *= np.linspace(1.0, 0.0, k, dtype=x.dtype)
    return x
