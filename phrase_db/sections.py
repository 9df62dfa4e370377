"""Sections and phrases: where the arrangement changes, snapped to the 8-bar lattice, with labels.

Dance music changes on 8-bar phrase lines, so boundaries are only looked for there: every bar gets a
feature vector (timbre, loudness, bass share, sixteenth-note density, harmony), the novelty of a bar
line is the distance between the four bars before it and the four after, the lattice offset (0..7)
is the one whose lines carry the most novelty, and a lattice line becomes a section boundary when
its novelty stands out. Sections longer than 32 bars are cut into 32/16/8-bar phrases. Labels come
from energy and position: intro/outro at the ends, drop after a jump up, break in a dip, build just
before a drop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .features import N_FFT, N_MELS, SR, Spectra

LATTICE = 8  # bars
PHRASE_SIZES = (32, 16, 8)


@dataclass
class Phrase:
    index: int
    section: int
    label: str
    start_bar: int
    bars: int
    start: float  # seconds
    end: float
    energy: float  # 0..1
    loudness_db: float  # mean power, dBFS
    density: float  # share of sixteenth-note slots with an onset
    low_share: float  # share of power below 150 Hz
    embedding: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    def to_dict(self) -> dict:
        return {
            "index": self.index, "section": self.section, "label": self.label,
            "start_bar": self.start_bar, "bars": self.bars,
            "start": round(self.start, 4), "end": round(self.end, 4), "energy": round(self.energy, 4),
            "loudness_db": round(self.loudness_db, 2), "density": round(self.density, 4),
            "low_share": round(self.low_share, 4),
        }


@dataclass
class BarStats:
    mel: np.ndarray  # (bars, 16) dB
    loudness_db: np.ndarray
    low_share: np.ndarray
    density: np.ndarray
    chroma: np.ndarray  # (bars, 12) unit vectors
    energy: np.ndarray


def bar_stats(sp: Spectra, bar_times: np.ndarray) -> BarStats:
    """Per-bar aggregates; `bar_times` holds each bar's start plus the end of the last bar."""
    n = len(bar_times) - 1
    times = sp.times
    ctimes = sp.chroma_times
    mel = np.zeros((n, 16))
    loud = np.full(n, -120.0)
    low = np.zeros(n)
    dens = np.zeros(n)
    chroma = np.zeros((n, 12))
    flux_ref = np.maximum(np.percentile(sp.band_flux, 99, axis=1), 1e-6)[:, None]
    last = sp.band_flux.shape[1] - 1
    for i in range(n):
        a, b = bar_times[i], bar_times[i + 1]
        f = slice(*np.searchsorted(times, (a, b)))
        if f.stop <= f.start:
            continue
        mel[i] = sp.mel_db[:, f].mean(axis=1).reshape(16, N_MELS // 16).mean(axis=1)
        p = sp.power[f].mean()
        loud[i] = 10 * np.log10(p / (N_FFT * N_FFT / 4) + 1e-12)  # ≈ dBFS for a Hann frame
        low[i] = sp.low_power[f].sum() / (sp.power[f].sum() + 1e-12)
        slots = a + (b - a) * np.arange(16) / 16
        idx = np.clip(((slots * SR - N_FFT / 2) / 256).round().astype(int), 0, last)
        hits = np.maximum(sp.band_flux[:, idx], sp.band_flux[:, np.minimum(idx + 1, last)]) > 0.2 * flux_ref
        dens[i] = float(np.mean(hits.any(axis=0)))  # a sixteenth counts if any band starts a sound
        c = slice(*np.searchsorted(ctimes, (a, b)))
        if c.stop > c.start:
            v = sp.chroma[:, c].mean(axis=1)
            chroma[i] = v / (np.linalg.norm(v) + 1e-12)
    ref = float(np.percentile(loud, 95)) if n else 0.0
    level = np.clip(1.0 + (loud - ref) / 18.0, 0.0, 1.0)
    energy = 0.6 * level + 0.4 * dens
    return BarStats(mel, loud, low, dens, chroma, energy)


def novelty(stats: BarStats, half: int = LATTICE) -> np.ndarray:
    """Novelty of every bar line (index b = the line before bar b; 0 and n are the track's ends).

    The distance between the mean of the `half` bars before the line and the `half` after: with
    windows one phrase long, the lines where whole phrases change stand out, and a line one bar
    off already mixes one bar of the other side into each window.
    """
    feats = np.column_stack([stats.mel / 6.0, stats.loudness_db / 3.0, stats.low_share * 10.0,
                             stats.density * 5.0, stats.chroma * 3.0])
    n = len(feats)
    nov = np.zeros(n + 1)
    if n < 2:
        return nov
    std = feats.std(axis=0)
    feats = (feats - feats.mean(axis=0)) / np.maximum(std, 0.5)
    # a 3-bar median keeps steps where they are and drops one-bar events (the crash opening a section)
    feats = ndimage.median_filter(feats, size=(3, 1), mode="nearest")
    for b in range(1, n):
        before = feats[max(0, b - half) : b].mean(axis=0)
        after = feats[b : min(n, b + half)].mean(axis=0)
        nov[b] = float(np.linalg.norm(after - before))
    return nov


def lattice_offset(nov: np.ndarray) -> int:
    """The bar (0..7) the phrase lattice starts on.

    Squared novelty, so a lattice through the peaks beats one through their shoulders; lines in the
    first and last half-phrase don't vote (their windows hold only a bar or two).
    """
    n = len(nov) - 1
    edge = LATTICE // 2
    scores = [sum(nov[b] ** 2 for b in range(o, n, LATTICE) if edge <= b <= n - edge) for o in range(LATTICE)]
    return int(np.argmax(scores))


def boundaries(nov: np.ndarray, offset: int) -> list[int]:
    """Bar lines (on the lattice) where a new section starts, plus 0 and the end."""
    n = len(nov) - 1
    lines = [b for b in range(offset or LATTICE, n, LATTICE) if 0 < b < n]
    cuts = {0, n}
    if offset >= LATTICE // 2:
        cuts.add(offset)  # a pickup of half a phrase or more stands as its own section
    if lines:
        values = np.array([nov[b] for b in lines])
        threshold = max(1.2, 0.15 * float(values.max()))
        cuts.update(b for b, v in zip(lines, values, strict=True) if v >= threshold)
    return sorted(cuts)


def split_phrases(start: int, bars: int) -> list[tuple[int, int]]:
    """A section cut into 32/16/8-bar phrases (a remainder under 8 bars joins the last phrase)."""
    out: list[tuple[int, int]] = []
    left = bars
    pos = start
    while left > 0:
        size = next((s for s in PHRASE_SIZES if s <= left), left)
        out.append((pos, size))
        pos += size
        left -= size
    if len(out) > 1 and out[-1][1] < PHRASE_SIZES[-1]:
        (p0, s0), (_, s1) = out[-2], out[-1]
        out[-2:] = [(p0, s0 + s1)]
    return out


def label_sections(energy: list[float], rising: list[bool], bars: list[int]) -> list[str]:
    """intro / build / drop / main / break / outro from each section's energy and its neighbours.

    Energies are compared within the track (its own loudest section is the reference): intro and
    outro are the lower-energy ends, a build is a short section that rises into a louder one, a drop
    is a loud section entered with a jump, a break is a dip, anything else loud or middling is main.
    """
    n = len(energy)
    if n == 0:
        return []
    e = np.asarray(energy)
    span = float(e.max() - e.min())
    r = (e - e.min()) / span if span > 0.08 else np.full(n, 0.8)
    labels = []
    for i in range(n):
        high, low = r[i] >= 0.66, r[i] < 0.33
        up_next = i + 1 < n and r[i + 1] - r[i] >= 0.08 and r[i + 1] >= 0.66
        if i == 0 and n > 1 and not high:
            labels.append("intro")
        elif i == n - 1 and n > 1 and not high:
            labels.append("outro")
        elif up_next and rising[i] and bars[i] <= 16:
            labels.append("build")
        elif high:
            entered = i > 0 and (r[i] - r[i - 1] >= 0.25 or labels[-1] == "build")
            labels.append("drop" if entered else "main")
        elif low:
            labels.append("break")
        else:
            labels.append("main")
    return labels


def find_phrases(sp: Spectra, bar_times: np.ndarray) -> tuple[list[Phrase], BarStats, int]:
    """Phrases (with labels and energy; embeddings are filled in by the caller) for one track."""
    stats = bar_stats(sp, bar_times)
    nov = novelty(stats)
    offset = lattice_offset(nov)
    cuts = boundaries(nov, offset)
    sections = list(itertools.pairwise(cuts))
    energies, rising = [], []
    for a, b in sections:
        energies.append(float(stats.energy[a:b].mean()))
        half = (b - a) // 2  # a build gets busier or louder from its first half to its second
        rising.append(half > 0 and float(stats.energy[a + half : b].mean() - stats.energy[a : a + half].mean()) > 0.02)
    labels = label_sections(energies, rising, [b - a for a, b in sections])
    phrases: list[Phrase] = []
    for s, ((a, b), label) in enumerate(zip(sections, labels, strict=True)):
        for start, bars in split_phrases(a, b - a):
            sl = slice(start, start + bars)
            phrases.append(Phrase(
                index=len(phrases), section=s, label=label, start_bar=start, bars=bars,
                start=float(bar_times[start]), end=float(bar_times[start + bars]),
                energy=float(stats.energy[sl].mean()),
                loudness_db=float(10 * np.log10(np.mean(10 ** (stats.loudness_db[sl] / 10)))),
                density=float(stats.density[sl].mean()), low_share=float(stats.low_share[sl].mean()),
            ))
    return phrases, stats, offset
