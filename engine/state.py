"""The engine's state: every array the kernel touches, allocated and filled before the stream opens.

`EngineSettings` is what a performer (copilot.toml, `engine/config.py`) or a test may choose;
`EngineState` turns it into the numbers the kernel reads (`settings`, filter coefficients, line
lengths) and owns the arrays and the address table that points at them (layout.py says where
everything lives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from copilot.bridge.params import PARAMS
from copilot.phrase_db.loudness import k_weighting

from .design import biquad, crossover_coefficients, reverb_lengths, tilt, true_peak_fir
from .layout import (
    ARRAYS,
    CHAIN_COMP,
    CHAIN_HPF,
    CHAIN_TILT,
    D_HOTCUES,
    D_PREV_SLOT,
    D_SLOT,
    D_SPB,
    D_SRC_RATIO,
    D_SRC_SLOT,
    D_WANT_RATIO,
    D_WANT_SLOT,
    DECK_FIELDS,
    DSP_FIELDS,
    F_CEILING,
    F_CHAIN,
    F_COMP_ATTACK,
    F_COMP_KNEE,
    F_COMP_MAKEUP,
    F_COMP_RELEASE,
    F_COMP_RMS,
    F_COMP_SLOPE,
    F_COMP_THRESHOLD,
    F_CONTROL_RAMP,
    F_DECKS,
    F_ECHO_BEATS,
    F_ECHO_FEEDBACK,
    F_FX_RETURN,
    F_JUMP_SAMPLES,
    F_LATENCY_SAMPLES,
    F_LIMITER_RELEASE,
    F_LP_A1,
    F_LP_A2,
    F_LP_B0,
    F_LU_BLOCK,
    F_PLL,
    F_REVERB_DAMP,
    F_REVERB_FEEDBACK,
    F_SR,
    F_TP_GAIN,
    F_TRIM_HI,
    F_TRIM_LO,
    F_TRIM_SLOPE,
    LOOKAHEAD,
    MAX_DECKS,
    MC_HPF,
    MC_KW,
    MC_TILT,
    MS_COMP_GAIN,
    MS_ECHO_D,
    MS_FX_FADE,
    MS_LIM_REL,
    MS_LIM_SUM,
    S_KNOB,
    TP_TAPS,
    TRUE_PEAK_MARGIN_DB,
    lane_neutral,
    lane_resets,
)


@dataclass
class MasterSettings:
    """The fixed master chain ahead of the limiter: HPF → tilt EQ → bus compressor (engine.md)."""

    enabled: bool = True  # false: the whole chain bypassed (the limiter always runs)
    hpf_hz: float = 25.0  # 2nd-order Butterworth high-pass; 0 = off
    tilt_db: float = 0.0  # + brighter, − darker: ± this at the extremes, unity at the pivot; 0 = off
    tilt_hz: float = 1000.0
    compressor: bool = True
    threshold_db: float = -10.0  # RMS level where the soft knee is centred
    ratio: float = 2.0
    knee_db: float = 6.0
    attack_ms: float = 30.0
    release_ms: float = 400.0
    rms_ms: float = 50.0  # the detector's averaging time
    makeup_db: float = 0.0


@dataclass
class EngineSettings:
    """What a performer or a test may choose; everything else is fixed at build time."""

    samplerate: int = 48000
    decks: int = 2
    ceiling_dbtp: float = -1.0
    echo_beats: float = 0.75
    echo_feedback: float = 0.45
    reverb_feedback: float = 0.8
    reverb_damp: float = 0.3
    fx_return: float = 0.7
    control_ramp: int = 64  # samples a CONTROL takes to reach its value (no zipper, no click)
    limiter_release_ms: float = 80.0
    master: MasterSettings = field(default_factory=MasterSettings)
    keylock: bool = True  # decks play at the session tempo at their own pitch (each deck can switch)
    loudness_match: bool = True  # each track's gain from its integrated loudness
    target_lufs: float = -14.0


def chain_flags(m: MasterSettings) -> float:
    """settings[F_CHAIN]: which master-chain stages run."""
    if not m.enabled:
        return 0.0
    return float((CHAIN_HPF if m.hpf_hz > 0 else 0) | (CHAIN_TILT if m.tilt_db != 0 else 0)
                 | (CHAIN_COMP if m.compressor else 0))


def one_pole(ms: float, sr: float) -> float:
    """Per-sample coefficient of a one-pole smoother with time constant `ms`."""
    return float(math.exp(-1.0 / (max(ms, 1e-3) * 0.001 * sr)))


class EngineState:
    """Owns every array the kernel touches, and the address table that points at them."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = s = settings or EngineSettings()
        if not 1 <= s.decks <= MAX_DECKS:
            raise ValueError(f"the engine has 1 to {MAX_DECKS} decks, not {s.decks}")
        if not 8000 <= s.samplerate <= 192000:
            raise ValueError(f"sample rate {s.samplerate} is outside 8 kHz..192 kHz")
        self.arrays: dict[str, np.ndarray] = {name: np.zeros(n, dtype) for name, dtype, n in ARRAYS}
        self.table = np.zeros(2 * len(ARRAYS), np.int64)
        for i, (name, _, n) in enumerate(ARRAYS):
            self.table[2 * i] = self.arrays[name].ctypes.data
            self.table[2 * i + 1] = n
        self._init_values()

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def _init_values(self) -> None:
        s, a = self.settings, self.arrays
        sr = float(s.samplerate)
        f = a["settings"]
        lp = biquad("lp", min(20000.0, 0.45 * sr), 0.7071, sr)
        f[F_SR], f[F_DECKS] = sr, s.decks
        f[F_CEILING] = 10.0 ** ((s.ceiling_dbtp - TRUE_PEAK_MARGIN_DB) / 20.0)
        f[F_ECHO_BEATS], f[F_ECHO_FEEDBACK] = s.echo_beats, s.echo_feedback
        f[F_REVERB_FEEDBACK], f[F_REVERB_DAMP], f[F_FX_RETURN] = s.reverb_feedback, s.reverb_damp, s.fx_return
        f[F_JUMP_SAMPLES], f[F_PLL], f[F_LATENCY_SAMPLES] = 0.004 * sr, 0.02, 0.0
        f[F_CONTROL_RAMP] = s.control_ramp
        f[F_LIMITER_RELEASE] = one_pole(s.limiter_release_ms, sr)
        f[F_LP_B0], f[F_LP_A1], f[F_LP_A2] = lp[0], lp[3], lp[4]
        self.set_master(s.master)
        f[F_LU_BLOCK] = round(0.1 * sr)
        trim = PARAMS["trim"]
        f[F_TRIM_LO], f[F_TRIM_HI], f[F_TRIM_SLOPE] = trim.lo, trim.hi, trim.max_slope
        a["lane_neutral"][:] = lane_neutral()
        a["lane_val"][:] = a["lane_neutral"]
        a["lane_reset"][:] = lane_resets()
        deck = a["deck"].reshape(MAX_DECKS, DECK_FIELDS)
        deck[:, D_SLOT] = deck[:, D_SRC_SLOT] = deck[:, D_PREV_SLOT] = deck[:, D_WANT_SLOT] = -1.0
        deck[:, D_SRC_RATIO] = deck[:, D_WANT_RATIO] = 1.0
        deck[:, D_SPB] = sr * 60.0 / 120.0
        deck[:, D_HOTCUES:D_HOTCUES + 8] = np.nan
        a["xover"][:] = crossover_coefficients(sr)
        a["dsp"].reshape(MAX_DECKS, DSP_FIELDS)[:, S_KNOB] = np.nan
        fir = true_peak_fir(TP_TAPS)
        a["tp_fir"][:] = fir.ravel()
        # No interpolated point can exceed (largest sum of |taps|) x (largest sample in the window):
        # the limiter skips the interpolation while even that bound is under the ceiling.
        f[F_TP_GAIN] = float(np.abs(fir).sum(axis=1).max())
        lens = reverb_lengths(sr)
        if lens.sum() > a["reverb"].size:
            raise ValueError(f"sample rate {sr} is too high for the reverb's buffers")
        a["rev_len"][: lens.size] = lens
        kw = k_weighting(int(sr))
        a["mcoef"][MC_KW:MC_KW + 10] = np.concatenate([kw[0, [0, 1, 2, 4, 5]], kw[1, [0, 1, 2, 4, 5]]])
        m = a["master"]
        m[MS_LIM_REL] = 1.0
        m[MS_FX_FADE] = 1.0
        m[MS_LIM_SUM] = float(LOOKAHEAD)  # the box average starts at unity gain
        m[MS_COMP_GAIN] = 1.0
        a["lim_box"][:] = 1.0
        m[MS_ECHO_D] = -1.0  # set from the tempo on the first block
        a["slots"][:] = 0

    def set_master(self, master: MasterSettings) -> None:
        """Write the master chain's settings (before the stream opens, or between blocks: the kernel reads
        them once per sub-block, and a stage switched on starts from its held state)."""
        sr = float(self.settings.samplerate)
        f, c = self.arrays["settings"], self.arrays["mcoef"]
        self.settings.master = master
        hz = min(max(master.hpf_hz, 1.0), 0.45 * sr)
        c[MC_HPF:MC_HPF + 5] = biquad("hp", hz, 1.0 / math.sqrt(2.0), sr)
        c[MC_TILT:MC_TILT + 5] = tilt(master.tilt_db, master.tilt_hz, sr)
        f[F_COMP_THRESHOLD], f[F_COMP_KNEE] = master.threshold_db, master.knee_db
        f[F_COMP_SLOPE] = 1.0 - 1.0 / max(1.0, master.ratio)
        f[F_COMP_ATTACK], f[F_COMP_RELEASE] = one_pole(master.attack_ms, sr), one_pole(master.release_ms, sr)
        f[F_COMP_RMS], f[F_COMP_MAKEUP] = one_pole(master.rms_ms, sr), master.makeup_db
        f[F_CHAIN] = chain_flags(master)

    @property
    def samplerate(self) -> int:
        return self.settings.samplerate

    @property
    def latency_samples(self) -> int:
        """Samples between the kernel computing a sample and it leaving the limiter."""
        return LOOKAHEAD - 1 + TP_TAPS // 2
