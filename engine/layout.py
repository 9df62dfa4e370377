"""The engine's whole state as one table of preallocated arrays, and the numbers that index it.

The audio callback gets nothing but an int64 table of (address, length) pairs: every array below is
allocated before the stream opens (`state.EngineState`), kept alive by it, and rebuilt inside the
kernel with `numba.carray`. Nothing is ever allocated or freed on the audio thread.

Indices are plain module constants so the numba kernel can fold them at compile time. This module
imports nothing of the engine's own: the DSP blocks, the kernel and the state all read it.
"""

from __future__ import annotations

import numpy as np

from copilot.bridge.params import PARAMS

# -- sizes ------------------------------------------------------------------------------------------
MAX_DECKS = 4
MAX_BLOCK = 4096  # the largest callback block the kernel accepts (frames)
SUB = 64  # the kernel never renders more than this many samples without re-reading parameters
N_SLOTS = 32  # audio buffers (tracks on decks, one-shots) the kernel can address
N_VOICES = 8  # one-shot voices (adornments)
RING_ROWS = 4096  # command ring capacity (rows)
ROW = 8  # float64 per ring row
MAX_POINTS = 256  # envelope corners a lane can hold
MAX_PENDING = 256  # discrete events waiting for their beat
TIMES = 4096  # callback timing log (ring)
ECHO_FRAMES = 1 << 17  # echo delay line per channel (2.7 s at 48 kHz: half a beat at 11 BPM)
LOOKAHEAD = 64  # limiter look-ahead / hold window (samples)
TP_TAPS = 16  # taps per phase of the 4x true-peak interpolator
# A 16-tap-per-phase detector reads up to ~0.25 dB under a long reference interpolator on
# broadband material near Nyquist (measured): the limiter aims this much below the ceiling.
TRUE_PEAK_MARGIN_DB = 0.3
PANIC_RAMP = 32  # samples: filters glide home this fast, inside even the smallest block
FX_RAMP = 128  # samples an FX unit takes to reach its depth
DECLICK = 64  # samples of fade on play, pause and every jump
XFADE = 96  # samples of crossfade at a loop wrap or hot-cue jump

# -- parameter lanes --------------------------------------------------------------------------------
DECK_LANES = ("volume", "trim", "eq_low", "eq_mid", "eq_high", "filter", "fx_depth", "fx_send", "pan",
              "tremolo", "roll")
GLOBAL_LANES = ("crossfader", "room", "master_gain", "adorn_gain")
L_VOLUME, L_TRIM, L_EQ_LOW, L_EQ_MID, L_EQ_HIGH, L_FILTER, L_FX_DEPTH, L_FX_SEND, L_PAN, L_TREMOLO, L_ROLL = range(11)
N_DECK_LANES = len(DECK_LANES)
G_BASE = MAX_DECKS * N_DECK_LANES
G_CROSSFADER, G_ROOM, G_MASTER, G_ADORN = (G_BASE + i for i in range(4))
N_LANES = G_BASE + len(GLOBAL_LANES)


def lane(name: str, deck: int | None = None) -> int:
    """The lane index of a parameter (per-deck parameters need the deck index)."""
    if name in DECK_LANES:
        if deck is None or not 0 <= deck < MAX_DECKS:
            raise ValueError(f"{name} is a deck parameter; give a deck 0..{MAX_DECKS - 1}")
        return deck * N_DECK_LANES + DECK_LANES.index(name)
    if name in GLOBAL_LANES:
        return G_BASE + GLOBAL_LANES.index(name)
    raise KeyError(f"the engine has no parameter {name!r}")


def lane_neutral() -> np.ndarray:
    values = np.empty(N_LANES)
    for d in range(MAX_DECKS):
        for i, name in enumerate(DECK_LANES):
            values[d * N_DECK_LANES + i] = PARAMS[name].neutral
    for i, name in enumerate(GLOBAL_LANES):
        values[G_BASE + i] = PARAMS[name].neutral if name in PARAMS else 0.5
    return values


def lane_resets() -> np.ndarray:
    """1 where PANIC puts the lane back to neutral (the params table decides)."""
    flags = np.zeros(N_LANES)
    for d in range(MAX_DECKS):
        for i, name in enumerate(DECK_LANES):
            flags[d * N_DECK_LANES + i] = float(PARAMS[name].reset_on_panic)
    for i, name in enumerate(GLOBAL_LANES):
        flags[G_BASE + i] = float(name in PARAMS and PARAMS[name].reset_on_panic)
    return flags


# -- commands (ring rows: code, target, beat, a, b, c, d, e; beat NaN = at once) ----------------------
C_PLAY, C_PAUSE, C_CUE, C_SYNC, C_LOOP, C_EXIT_LOOP, C_LOAD, C_HOTCUE = 1, 2, 3, 4, 5, 6, 7, 8
C_FX, C_FX_OFF, C_CONTROL, C_ENVELOPE, C_PANIC, C_ONESHOT, C_VOICES_OFF, C_MARK = 9, 10, 11, 12, 13, 14, 15, 16
# C_STRETCH: deck, a = slot of the audio the deck should sound (−1: its track, varispeed), b = that buffer's
# frames per track frame. C_LOUDNESS: deck, a = loudness offset in trim units (glides at the trim's slope cap).
C_STRETCH, C_LOUDNESS = 17, 18
FX_ECHO, FX_REVERB = 0, 1

# -- deck fields (float64 per deck) ---------------------------------------------------------------
(D_MOVING, D_ANCHOR_CB, D_ANCHOR_TB, D_POS_TB, D_LOOP_ON, D_LOOP_START, D_LOOP_END, D_XF_LEFT, D_XF_DELTA,
 D_RUN_GAIN, D_RUN_TARGET, D_SLOT, D_FIRST, D_SPB, D_CUE_TB, D_FX_UNIT, D_ROLL_ON, D_ROLL_START,
 D_PEAK, D_LOADS, D_CUE_AFTER, D_REFUSED, D_IDLE) = range(23)
D_HOTCUES = 24  # 8 hot cues (track beat, NaN = unset)
# Sources: the deck reads track frame p from slot SRC at frame p × SRC_RATIO (the track itself: ratio 1; a
# key-lock stretch: its time ratio). WANT is the source it should sound (−1: the track) once that buffer
# holds audio around the play head; until then it plays the track varispeed. A change of source cross-fades
# from PREV over SRC_FADE samples.
(D_SRC_SLOT, D_SRC_RATIO, D_PREV_SLOT, D_PREV_RATIO, D_SRC_FADE, D_WANT_SLOT, D_WANT_RATIO, D_LOUD,
 D_LOUD_TARGET) = range(32, 41)
# D_LOUD: loudness-matching offset in trim units (added to the trim lane, capped with it)
DECK_FIELDS = 48
TRIM_DB = 24.0  # the trim's range in dB per unit: 0.5 = unity, 0 = −12 dB, 1 = +12 dB
SRC_XFADE = 1024  # samples of cross-fade between two sources of one deck (21 ms at 48 kHz)
SRC_GUARD = 8  # frames a source must hold beyond the read point (the cubic reads ±2)

# -- per-deck DSP state (float64): 12 biquads x 2 states x 2 channels, SVF 2 x 2 ---------------------
EQ_BIQUADS = 12
S_EQ = 0
S_SVF = EQ_BIQUADS * 4
S_KNOB = S_SVF + 4  # the filter knob the cached coefficients below were made for (NaN: none yet)
S_SVF_COEF = S_KNOB + 1  # a1 a2 a3 k wet hp (dsp.svf_coefficients)
DSP_FIELDS = 64

# -- master chain coefficients (float64, `mcoef`): HPF and tilt as one biquad each, the meter's K-weighting
MC_HPF, MC_TILT, MC_KW = 0, 5, 10
MCOEF_FIELDS = 32
CHAIN_HPF, CHAIN_TILT, CHAIN_COMP = 1, 2, 4  # settings[F_CHAIN]: stages switched on (0: the chain bypassed)
LU_BLOCKS = 30  # short-term loudness: 30 blocks of 100 ms (3 s), EBU R128
LU_MOMENTARY = 4  # momentary: the last 4 (400 ms)

# -- clock map (float64, written by the feeder/offline loop under a sequence lock) -----------------
M_SEQ, M_SAMPLE, M_BEAT, M_BPS, M_VALID = range(5)
# -- kernel-private beat tracking ------------------------------------------------------------------
K_B0, K_DB, K_NEXT, K_INIT, K_EVENT_SEQ = range(5)

# -- stats (int64) ------------------------------------------------------------------------------------
(S_CALLBACKS, S_UNDERFLOWS, S_FRAMES, S_RING_DROPPED, S_LATE, S_NONFINITE, S_PENDING, S_TIME_IDX, S_OVERFLOW,
 S_PANICS, S_LAST_MARK, S_MARK_SAMPLE, S_MAP_JUMPS, S_ENV_TRUNC, S_APPLIED, S_UNDERFLOW_AT, S_OVERRUNS,
 S_LONGEST_NS, S_TP_RUNS, S_SUBBLOCKS, S_VARISPEED) = range(21)
N_STATS = 24
# S_OVERRUNS: blocks whose render took longer (wall clock) than the audio they made: the engine's
# compute, or its thread preempted mid-render;
# S_LONGEST_NS: the longest render; S_TP_RUNS / S_SUBBLOCKS: how often the true-peak interpolator ran;
# S_VARISPEED: sub-blocks a deck played its track varispeed while its key-lock stretch was not ready.

# -- settings (float64, written before the stream opens) -------------------------------------------
(F_SR, F_DECKS, F_CEILING, F_ECHO_BEATS, F_ECHO_FEEDBACK, F_REVERB_FEEDBACK, F_REVERB_DAMP, F_FX_RETURN,
 F_JUMP_SAMPLES, F_PLL, F_LATENCY_SAMPLES, F_CONTROL_RAMP, F_LIMITER_RELEASE, F_LP_B0, F_LP_A1, F_LP_A2,
 F_TP_GAIN, F_STAGES, F_CHAIN, F_COMP_THRESHOLD, F_COMP_SLOPE, F_COMP_KNEE, F_COMP_ATTACK, F_COMP_RELEASE,
 F_COMP_RMS, F_COMP_MAKEUP, F_LU_BLOCK, F_TRIM_LO, F_TRIM_HI, F_TRIM_SLOPE) = range(30)
N_SETTINGS = 32
# F_COMP_*: threshold and knee (dB), slope 1 − 1/ratio, attack/release/RMS as one-pole coefficients per
# sample, make-up (dB). F_LU_BLOCK: samples in a 100 ms loudness block. F_TRIM_*: the trim lane's caps
# and slope (per beat), which the loudness offset respects too.
# F_STAGES: a bit mask of stages switched off, for profiling only (bench/engine_stages.py); 0 = all on.
# A stage switched off passes its input through (the limiter: a hard clip at the ceiling).
(OFF_EQ, OFF_FILTER, OFF_ECHO, OFF_REVERB, OFF_LOWPASS, OFF_LIMITER, OFF_TRUE_PEAK, OFF_READ, TP_ALWAYS,
 OFF_CHAIN, OFF_METER, TAP_DECKS) = (1 << i for i in range(12))
# TP_ALWAYS: run the true-peak interpolator even where it cannot matter; OFF_CHAIN: the master chain
# (HPF, tilt, compressor); OFF_METER: the loudness meter. TAP_DECKS is no stage but an offline-only
# extra: each deck's signal after its fader (what it adds to the bus, before the FX returns, the master
# chain and the limiter) is copied into `tap` for the block, so a rehearsal hears each deck alone from
# the same pass as the mix (rehearsal/sandbox.py).

# -- master (float64): echo, reverb and limiter state ------------------------------------------------
MS_ECHO_W, MS_ECHO_D, MS_ECHO_LP_L, MS_ECHO_LP_R, MS_LIM_POS, MS_LIM_REL, MS_LIM_SUM, MS_LIM_QHEAD, MS_LIM_QTAIL, \
    MS_PEAK, MS_GR, MS_FX_FADE, MS_LIM_CALM, MS_LIM_N = range(14)
# Freeverb-style tunings (samples at 44.1 kHz, scaled to the engine rate at start).
COMBS = (1116, 1188, 1277, 1356)
ALLPASSES = (556, 441)
STEREO_SPREAD = 23
REV_LINES = len(COMBS) + len(ALLPASSES)  # per channel
MS_REV = 16  # reverb: the lines' positions (2 × REV_LINES), then the combs' damping states
MS_REV_STATE = MS_REV + 2 * REV_LINES
REV_STATES = 2 * len(COMBS)
MS_LP = 40  # master low-pass states (4)
MS_ECHO_IDLE, MS_REV_IDLE = 44, 45  # samples since each FX unit last had input
MS_HPF, MS_TILT = 48, 56  # master chain filter states: HPF 2 states × 2 channels, tilt 1 × 2
MS_COMP_ENV, MS_COMP_GR, MS_COMP_GAIN = 58, 59, 60  # mean square, gain reduction (dB), gain applied last
MS_KW = 64  # the loudness meter's K-weighting states (8)
MS_LU_ACC, MS_LU_N, MS_LU_COUNT = 72, 73, 74  # this 100 ms block's sum of squares, its samples, blocks done
MASTER_FIELDS = 96

# -- meters (float64, read by Python)
MT_PEAK, MT_GR, MT_SHORT_TERM, MT_MOMENTARY, MT_COMP_GR = range(5)

# -- the limiter's lines
LIM_LINE = 256  # samples in the look-ahead delay and the sliding-minimum deque (a power of two)

# -- voices (float64 per voice) -----------------------------------------------------------------------
V_ACTIVE, V_SLOT, V_POS, V_GAIN = range(4)
VOICE_FIELDS = 4

# -- the table --------------------------------------------------------------------------------------
# name -> (dtype, length). Order is the kernel's index into the address table.
ARRAYS: tuple[tuple[str, type, int], ...] = (
    ("ring", np.float64, RING_ROWS * ROW),
    ("ring_idx", np.int64, 16),  # [0] head (kernel writes), [8] tail (writer writes): apart, no false sharing
    ("clock", np.float64, 8),
    ("beat", np.float64, 8),
    ("stats", np.int64, N_STATS),
    ("settings", np.float64, N_SETTINGS),
    ("lane_val", np.float64, N_LANES),
    ("lane_env", np.float64, N_LANES * MAX_POINTS * 2),
    ("lane_n", np.int64, N_LANES),
    ("lane_cur", np.int64, N_LANES),
    ("lane_neutral", np.float64, N_LANES),
    ("lane_reset", np.float64, N_LANES),
    ("lane_v0", np.float64, N_LANES),
    ("lane_inc", np.float64, N_LANES),
    ("pending", np.float64, MAX_PENDING * ROW),
    ("pending_seq", np.int64, MAX_PENDING),
    ("deck", np.float64, MAX_DECKS * DECK_FIELDS),
    ("dsp", np.float64, MAX_DECKS * DSP_FIELDS),
    ("xover", np.float64, 40),  # LR8 crossover sections (see design.crossover_coefficients)
    ("slots", np.int64, N_SLOTS * 2),  # (address, frames) of interleaved stereo float32
    ("span", np.float64, N_SLOTS * 2),  # [lo, hi) frames of each slot that hold audio (a stretch fills in)
    ("voices", np.float64, N_VOICES * VOICE_FIELDS),
    ("echo", np.float32, 2 * ECHO_FRAMES),
    ("reverb", np.float32, 2 * 5 * (sum(COMBS + ALLPASSES) + 8 * STEREO_SPREAD)),  # room up to 220 kHz
    ("rev_len", np.int64, 16),
    ("master", np.float64, MASTER_FIELDS),
    ("lim_delay", np.float64, 2 * LIM_LINE),
    ("lim_hist", np.float64, 2 * (SUB + TP_TAPS) + SUB),  # true-peak input line and peaks (dsp.py)
    ("lim_q", np.float64, 2 * LIM_LINE),  # monotonic deque of (gain, sample) for the sliding minimum
    ("lim_box", np.float64, LIM_LINE),
    ("tp_fir", np.float64, 3 * TP_TAPS),
    ("scratch", np.float64, (MAX_DECKS * 2 + 8) * SUB),  # deck L/R, bus, sends, FX return
    ("times", np.int64, TIMES * 3),  # (start ns, duration ns, first sample) per callback
    ("timespec", np.int64, 2),
    ("meters", np.float64, 16),
    ("mcoef", np.float64, MCOEF_FIELDS),
    ("lu_blocks", np.float64, LU_BLOCKS),  # the last 3 s of K-weighted 100 ms blocks (mean squares)
    ("tap", np.float64, MAX_DECKS * 2 * MAX_BLOCK),  # TAP_DECKS: deck d's block, interleaved, at d × 2 × MAX_BLOCK
)
INDEX = {name: i for i, (name, _, _) in enumerate(ARRAYS)}
(A_RING, A_RING_IDX, A_CLOCK, A_BEAT, A_STATS, A_SETTINGS, A_LANE_VAL, A_LANE_ENV, A_LANE_N, A_LANE_CUR,
 A_LANE_NEUTRAL, A_LANE_RESET, A_LANE_V0, A_LANE_INC, A_PENDING, A_PENDING_SEQ, A_DECK, A_DSP, A_XOVER,
 A_SLOTS, A_SPAN, A_VOICES, A_ECHO, A_REVERB, A_REV_LEN, A_MASTER, A_LIM_DELAY, A_LIM_HIST, A_LIM_Q, A_LIM_BOX,
 A_TP_FIR, A_SCRATCH, A_TIMES, A_TIMESPEC, A_METERS, A_MCOEF, A_LU_BLOCKS, A_TAP) = range(len(ARRAYS))
RING_HEAD, RING_TAIL = 0, 8  # ring_idx: the kernel's read index, the writer's write index
