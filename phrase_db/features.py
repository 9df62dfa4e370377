"""The spectral front end (computed once per track) and the per-phrase embedding.

Two short-time Fourier transforms of the 22.05 kHz mono signal: a 1024-point one every 256 samples
(11.6 ms) for timbre, loudness shares and the onset envelope, and a 4096-point one every 1024
samples for chroma (key, downbeats). Everything downstream aggregates these frames over beats,
bars and phrases.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import librosa
import numpy as np

from .constants import EMBED_DIM

SR = 22050
HOP = 256
N_FFT = 1024
CHROMA_HOP = 1024
CHROMA_FFT = 4096
N_MELS = 64
LOW_HZ = 150.0


@dataclass
class Spectra:
    mel_db: np.ndarray  # (N_MELS, frames) log mel power
    flux: np.ndarray  # (frames,) onset strength (positive mel flux)
    band_flux: np.ndarray  # (3, frames) the same in low (<150 Hz), mid and high (>2.5 kHz) bands
    power: np.ndarray  # (frames,) total power
    low_power: np.ndarray  # (frames,) power below LOW_HZ
    chroma: np.ndarray  # (12, chroma frames), C first
    duration: float

    @property
    def times(self) -> np.ndarray:
        return (np.arange(self.mel_db.shape[1]) * HOP + N_FFT / 2) / SR

    @property
    def chroma_times(self) -> np.ndarray:
        return (np.arange(self.chroma.shape[1]) * CHROMA_HOP + CHROMA_FFT / 2) / SR

    def frames(self, start: float, end: float) -> slice:
        return slice(max(0, int(start * SR / HOP)), max(0, int(end * SR / HOP)))


@functools.cache
def _filters() -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Mel and chroma filter banks and the mel bands' split into low/mid/high (built on first use)."""
    mel = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=30.0, fmax=11000.0)
    chroma = librosa.filters.chroma(sr=SR, n_fft=CHROMA_FFT, tuning=0.0, ctroct=5.0, octwidth=2.0)
    hz = librosa.mel_frequencies(n_mels=N_MELS, fmin=30.0, fmax=11000.0)
    return mel, chroma, (hz < LOW_HZ, (hz >= LOW_HZ) & (hz < 2500.0), hz >= 2500.0)


_FREQS = np.fft.rfftfreq(N_FFT, 1.0 / SR)
_CHROMA_FREQS = np.fft.rfftfreq(CHROMA_FFT, 1.0 / SR)


def spectra(y: np.ndarray) -> Spectra:
    """Front-end features of mono audio at SR."""
    mel_fb, chroma_fb, bands = _filters()
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=False)) ** 2
    mel_db = librosa.power_to_db(mel_fb @ power, ref=1.0, amin=1e-10, top_db=None)
    rise = np.zeros_like(mel_db)
    rise[:, 1:] = np.maximum(0.0, np.diff(mel_db, axis=1))
    flux = rise.mean(axis=0)
    band_flux = np.stack([rise[band].mean(axis=0) for band in bands])
    total = power.sum(axis=0)
    low = power[_FREQS < LOW_HZ].sum(axis=0)

    cspec = np.abs(librosa.stft(y, n_fft=CHROMA_FFT, hop_length=CHROMA_HOP, center=False))
    cspec[(_CHROMA_FREQS < 60.0) | (_CHROMA_FREQS > 2100.0)] = 0.0  # drop kick thump and hat hiss
    chroma = chroma_fb @ cspec  # base_c: bin 0 is C
    return Spectra(mel_db, flux, band_flux, total, low, chroma, len(y) / SR)


def key_chroma(sp: Spectra) -> np.ndarray:
    """One 12-bin profile for the whole track: frame chroma normalised, then averaged (loud frames count)."""
    c = sp.chroma
    energy = c.sum(axis=0)
    if not energy.any():
        return np.zeros(12)
    loud = energy > 0.05 * np.percentile(energy, 95)
    frames = c[:, loud] / (np.max(c[:, loud], axis=0, keepdims=True) + 1e-12)
    return frames.mean(axis=1)


def phrase_embedding(sp: Spectra, bar_times: np.ndarray) -> np.ndarray:
    """A unit vector describing how a phrase sounds (timbre) and moves (rhythm).

    Timbre: the phrase's mean log-mel spectrum in 16 bands, minus its own mean (so loudness does not
    count). Rhythm: onset strength on the 16 sixteenth-notes of the bar, averaged over the phrase's
    bars, minus its mean. Each half is scaled to unit length, weighted 0.6 / 0.4, and the whole is
    normalised: cosine similarity of two embeddings is 0.6·timbre + 0.4·rhythm similarity.
    """
    out = np.zeros(EMBED_DIM, np.float32)
    if len(bar_times) < 2:
        return out
    f = sp.frames(bar_times[0], bar_times[-1])
    mel = sp.mel_db[:, f]
    if mel.shape[1] == 0:
        return out
    timbre = mel.mean(axis=1).reshape(16, N_MELS // 16).mean(axis=1)
    timbre = timbre - timbre.mean()
    pattern = np.zeros(16)
    frame_of = lambda t: round((t * SR - N_FFT / 2) / HOP)  # noqa: E731
    for a, b in itertools.pairwise(bar_times):
        for s in range(16):
            i = frame_of(a + (b - a) * s / 16)
            if 0 <= i < len(sp.flux):
                pattern[s] += sp.flux[max(0, i - 1) : i + 2].max()
    pattern = pattern - pattern.mean()
    for block, weight, part in ((slice(0, 16), 0.6, timbre), (slice(16, 32), 0.4, pattern)):
        norm = np.linalg.norm(part)
        if norm > 1e-9:
            out[block] = np.sqrt(weight) * part / norm
    norm = np.linalg.norm(out)
    return out / norm if norm > 0 else out
