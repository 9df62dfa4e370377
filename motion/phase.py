"""ψ: the phase of the performer's movement, locked to the session clock's beat.

A lock-in amplifier on the beat: the pulse head's signal p(t) is multiplied by e^{−i2π·beat(t)} and
low-passed over a few beats. If the body pulses at the beat, the average points at its phase
offset δ (the performer's groove: on the beat, a little late …); ψ = frac(beat − δ) then runs
exactly with the clock, so tremolos and rolls keyed to ψ stay on the grid whatever the body does.
`lock` ∈ [0, 1] says how much of the movement is at the beat (1 for a pure beat-rate sway, ≈ 0 for
movement unrelated to the beat); without a lock, δ falls back to the performer's calibrated offset.
"""

from __future__ import annotations

import cmath
import math


class BeatLock:
    def __init__(self, window_beats: float = 4.0, offset: float = 0.0) -> None:
        self.window = float(window_beats)
        self.prior = float(offset)
        self.reset()

    def reset(self) -> None:
        self._z = 0j
        self._power = 0.0
        self._mean = 0.0
        self._beat: float | None = None
        self.offset = self.prior
        self.lock = 0.0
        self.psi = 0.0

    def update(self, pulse: float, beat: float) -> float:
        """Feed one frame (pulse value at clock beat `beat`); returns ψ ∈ [0, 1)."""
        if self._beat is None or not math.isfinite(pulse):
            self._beat = beat
            self.psi = (beat - self.offset) % 1.0
            return self.psi
        step = beat - self._beat
        self._beat = beat
        if step <= 0.0 or step > 1.0:  # clock jumped (re-anchor, tempo change): hold, do not smear
            self.psi = (beat - self.offset) % 1.0
            return self.psi
        a = 1.0 - math.exp(-step / self.window)
        self._mean += a * 0.25 * (pulse - self._mean)  # slower than the lock-in: no phase shift at the beat
        p = pulse - self._mean
        self._z += a * (p * cmath.exp(-2j * math.pi * beat) - self._z)
        self._power += a * (p * p - self._power)
        rms = math.sqrt(max(self._power, 0.0))
        self.lock = min(1.0, abs(self._z) / (rms / math.sqrt(2.0) + 1e-9)) if rms > 1e-4 else 0.0
        measured = -cmath.phase(self._z) / (2.0 * math.pi)
        # a clear lock (≥ 0.6) trusts the measurement; no lock keeps the calibrated groove; between, a blend
        trust = min(1.0, max(0.0, (self.lock - 0.2) / 0.4))
        self.offset = (self.prior + trust * (((measured - self.prior + 0.5) % 1.0) - 0.5)) % 1.0
        self.psi = (beat - self.offset) % 1.0
        return self.psi
