"""The render kernel: one block of the whole graph, from the address table, for any host.

`render(table, out, frames)` is the only entry point. The real-time callback (`stream.py`) and the
offline renderer (`offline.py`) both call it, so what a test hears offline is what the audience
hears live. Per block it:

1. maps samples to beats: beat(s) = the clock map the feeder publishes (seqlock), slewed gently so
   a re-estimate never jumps the decks; offline the map is exact and followed exactly;
2. drains the command ring (envelopes go straight into their lanes; discrete commands wait in a
   small pending table for the sample of their beat);
3. renders in sub-blocks split at every event sample and every envelope corner, so a PLAY lands on
   the exact sample of its beat and a ramp bends exactly where its corner is;
4. mixes decks (each reads its track varispeed, or its key-lock stretch, locked to the clock's
   beat; loops, trim with the loudness offset, LR8 EQ, filter, fader, crossfader, sends), FX returns
   and one-shot voices, then the master chain (HPF, tilt, compressor), the true-peak limiter and
   the loudness meter.

Nothing here allocates, locks or raises: bad numbers become neutral values or silence and are
counted in `stats`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, njit

from .dsp import (
    chain_filters,
    compressor_block,
    cubic,
    echo_block,
    eq_pair,
    filter_pair,
    flush_state,
    limiter_block,
    loudness_meter,
    lowpass_block,
    reverb_block,
    svf_coefficients,
)
from .layout import (
    A_BEAT,
    A_CLOCK,
    A_DECK,
    A_DSP,
    A_ECHO,
    A_LANE_CUR,
    A_LANE_ENV,
    A_LANE_INC,
    A_LANE_N,
    A_LANE_NEUTRAL,
    A_LANE_RESET,
    A_LANE_V0,
    A_LANE_VAL,
    A_LIM_BOX,
    A_LIM_DELAY,
    A_LIM_HIST,
    A_LIM_Q,
    A_LU_BLOCKS,
    A_MASTER,
    A_MCOEF,
    A_METERS,
    A_PENDING,
    A_PENDING_SEQ,
    A_REV_LEN,
    A_REVERB,
    A_RING,
    A_RING_IDX,
    A_SCRATCH,
    A_SETTINGS,
    A_SLOTS,
    A_SPAN,
    A_STATS,
    A_TAP,
    A_TIMES,
    A_TP_FIR,
    A_VOICES,
    A_XOVER,
    C_CONTROL,
    C_CUE,
    C_ENVELOPE,
    C_EXIT_LOOP,
    C_FX,
    C_FX_OFF,
    C_HOTCUE,
    C_LOAD,
    C_LOOP,
    C_LOUDNESS,
    C_MARK,
    C_ONESHOT,
    C_PANIC,
    C_PAUSE,
    C_PLAY,
    C_STRETCH,
    C_SYNC,
    C_VOICES_OFF,
    CHAIN_COMP,
    CHAIN_HPF,
    CHAIN_TILT,
    D_ANCHOR_CB,
    D_ANCHOR_TB,
    D_CUE_AFTER,
    D_CUE_TB,
    D_FIRST,
    D_FX_UNIT,
    D_HOTCUES,
    D_IDLE,
    D_LOADS,
    D_LOOP_END,
    D_LOOP_ON,
    D_LOOP_START,
    D_LOUD,
    D_LOUD_TARGET,
    D_MOVING,
    D_PEAK,
    D_POS_TB,
    D_PREV_RATIO,
    D_PREV_SLOT,
    D_REFUSED,
    D_ROLL_ON,
    D_ROLL_START,
    D_RUN_GAIN,
    D_RUN_TARGET,
    D_SLOT,
    D_SPB,
    D_SRC_FADE,
    D_SRC_RATIO,
    D_SRC_SLOT,
    D_WANT_RATIO,
    D_WANT_SLOT,
    D_XF_DELTA,
    D_XF_LEFT,
    DECK_FIELDS,
    DECLICK,
    DSP_FIELDS,
    F_CEILING,
    F_CHAIN,
    F_CONTROL_RAMP,
    F_DECKS,
    F_ECHO_BEATS,
    F_ECHO_FEEDBACK,
    F_FX_RETURN,
    F_JUMP_SAMPLES,
    F_LIMITER_RELEASE,
    F_PLL,
    F_REVERB_DAMP,
    F_REVERB_FEEDBACK,
    F_SR,
    F_STAGES,
    F_TP_GAIN,
    F_TRIM_HI,
    F_TRIM_LO,
    F_TRIM_SLOPE,
    FX_ECHO,
    FX_RAMP,
    FX_REVERB,
    G_ADORN,
    G_BASE,
    G_CROSSFADER,
    G_MASTER,
    G_ROOM,
    K_B0,
    K_DB,
    K_EVENT_SEQ,
    K_INIT,
    K_NEXT,
    L_EQ_HIGH,
    L_EQ_LOW,
    L_EQ_MID,
    L_FILTER,
    L_FX_DEPTH,
    L_FX_SEND,
    L_PAN,
    L_ROLL,
    L_TREMOLO,
    L_TRIM,
    L_VOLUME,
    M_BEAT,
    M_BPS,
    M_SAMPLE,
    M_SEQ,
    M_VALID,
    MAX_BLOCK,
    MAX_DECKS,
    MAX_PENDING,
    MAX_POINTS,
    MS_COMP_GR,
    MS_ECHO_IDLE,
    MS_ECHO_LP_L,
    MS_ECHO_LP_R,
    MS_FX_FADE,
    MS_GR,
    MS_PEAK,
    MS_REV_IDLE,
    MS_REV_STATE,
    MT_COMP_GR,
    MT_GR,
    MT_PEAK,
    N_DECK_LANES,
    N_LANES,
    N_VOICES,
    OFF_CHAIN,
    OFF_ECHO,
    OFF_EQ,
    OFF_FILTER,
    OFF_LIMITER,
    OFF_LOWPASS,
    OFF_METER,
    OFF_READ,
    OFF_REVERB,
    OFF_TRUE_PEAK,
    PANIC_RAMP,
    REV_STATES,
    RING_HEAD,
    RING_ROWS,
    RING_TAIL,
    ROW,
    S_APPLIED,
    S_CALLBACKS,
    S_ENV_TRUNC,
    S_EQ,
    S_FRAMES,
    S_KNOB,
    S_LAST_MARK,
    S_LATE,
    S_LONGEST_NS,
    S_MAP_JUMPS,
    S_MARK_SAMPLE,
    S_NONFINITE,
    S_OVERFLOW,
    S_OVERRUNS,
    S_PANICS,
    S_PENDING,
    S_SUBBLOCKS,
    S_SVF,
    S_SVF_COEF,
    S_TIME_IDX,
    S_TP_RUNS,
    S_VARISPEED,
    SRC_GUARD,
    SRC_XFADE,
    SUB,
    TAP_DECKS,
    TIMES,
    TP_ALWAYS,
    TRIM_DB,
    V_ACTIVE,
    V_GAIN,
    V_POS,
    V_SLOT,
    VOICE_FIELDS,
    XFADE,
)
from .native import clock_ns, fence, voidptr
from .simd import lane, splat, vabs, vec, vload, vmax, vstore

# scratch rows (each SUB long)
BUS_L = 2 * MAX_DECKS
BUS_R = BUS_L + 1
ECHO_L = BUS_L + 2
ECHO_R = BUS_L + 3
REV_L = BUS_L + 4
REV_R = BUS_L + 5
RET_L = BUS_L + 6
RET_R = BUS_L + 7
ROLL_BEATS = 0.25
ECHO_TAIL_REPEATS = 20.0  # 0.45 feedback: 20 repeats is −140 dB
REVERB_TAIL_SECONDS = 4.0
LN10_20 = math.log(10.0) / 20.0


@njit(cache=True, inline="always", error_model="numpy")
def f64(tbl, i):  # type: ignore[no-untyped-def]
    return carray(voidptr(tbl[2 * i]), (tbl[2 * i + 1],), np.float64)


@njit(cache=True, inline="always", error_model="numpy")
def i64(tbl, i):  # type: ignore[no-untyped-def]
    return carray(voidptr(tbl[2 * i]), (tbl[2 * i + 1],), np.int64)


@njit(cache=True, inline="always", error_model="numpy")
def f32(tbl, i):  # type: ignore[no-untyped-def]
    return carray(voidptr(tbl[2 * i]), (tbl[2 * i + 1],), np.float32)


@njit(cache=True, inline="always", error_model="numpy")
def unit(v, neutral):  # type: ignore[no-untyped-def]
    """A normalised parameter made safe: NaN → neutral, then 0..1."""
    if v != v:
        return neutral
    return min(1.0, max(0.0, v))


@njit(cache=True, inline="always", error_model="numpy")
def level(v):  # type: ignore[no-untyped-def]
    """0 = silence, 0.5 = unity, 1 = +6 dB (EQ bands, master, adornments)."""
    if v <= 0.5:
        x = 2.0 * v
        return x * x
    return 1.0 + 2.0 * (v - 0.5)


@njit(cache=True, inline="always", error_model="numpy")
def trim_gain(v):  # type: ignore[no-untyped-def]
    """±12 dB around 0.5."""
    return math.exp((v - 0.5) * TRIM_DB * LN10_20)


@njit(cache=True, error_model="numpy")
def fx_busy(scratch, lo, ro, n, master, counter, tail):  # type: ignore[no-untyped-def]
    """True while an FX unit has input, or has had some within its tail (samples)."""
    for k in range(n):
        if scratch[lo + k] != 0.0 or scratch[ro + k] != 0.0:
            master[counter] = 0.0
            return True
    master[counter] += n
    return master[counter] <= tail


@njit(cache=True, inline="always", error_model="numpy")
def fader_gains(d, vol, pan, xf):  # type: ignore[no-untyped-def]
    """Channel fader (squared taper), equal-power crossfader (A left, B right; C, D thru), balance."""
    g = vol * vol
    if d == 0:
        g *= math.cos(xf * math.pi * 0.5)
    elif d == 1:
        g *= math.sin(xf * math.pi * 0.5)
    return g * min(1.0, 2.0 * (1.0 - pan)), g * min(1.0, 2.0 * pan)


# -- beats ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def block_beats(clock, beat, stats, settings, frames):  # type: ignore[no-untyped-def]
    """Beat of this block's first sample and beats per sample, from the published clock map."""
    seq1 = clock[M_SEQ]
    fence()
    s_a = clock[M_SAMPLE]
    b_a = clock[M_BEAT]
    bps = clock[M_BPS]
    valid = clock[M_VALID]
    fence()
    seq2 = clock[M_SEQ]
    done = float(stats[S_FRAMES])
    expected = beat[K_NEXT]
    db = beat[K_DB]
    if db <= 0.0:
        db = 120.0 / 60.0 / settings[F_SR]
    target = expected
    if seq1 == seq2 and int(seq1) % 2 == 0 and valid > 0.0 and bps > 0.0 and bps == bps and b_a == b_a:
        target = b_a + (done - s_a) * bps
        db = bps
    if beat[K_INIT] == 0.0 or abs(target - expected) > settings[F_JUMP_SAMPLES] * db:
        if beat[K_INIT] != 0.0:
            stats[S_MAP_JUMPS] += 1
        b0 = target
    else:
        b0 = expected + (target - expected) * settings[F_PLL]
    beat[K_B0] = b0
    beat[K_DB] = db
    beat[K_NEXT] = b0 + frames * db
    beat[K_INIT] = 1.0
    return b0, db


@njit(cache=True, inline="always", error_model="numpy")
def due_sample(e, b0, db):  # type: ignore[no-untyped-def]
    """First sample whose beat is at or after e (NaN = at once)."""
    if e != e:
        return 0
    x = (e - b0) / db
    if x <= 0.0:
        return 0
    if x > 1e9:
        return 1 << 40
    return math.ceil(x - 1e-6)


# -- lanes ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def lane_eval(env, lane_n, lane_cur, lane, beat, held):  # type: ignore[no-untyped-def]
    base = lane * MAX_POINTS * 2
    n = lane_n[lane]
    cur = lane_cur[lane]
    while cur + 1 < n and env[base + 2 * (cur + 1)] <= beat:
        cur += 1
    lane_cur[lane] = cur
    bc = env[base + 2 * cur]
    if beat < bc:
        return held
    if cur + 1 >= n:
        return env[base + 2 * cur + 1]
    bn = env[base + 2 * (cur + 1)]
    vc = env[base + 2 * cur + 1]
    vn = env[base + 2 * (cur + 1) + 1]
    span = bn - bc
    if span <= 0.0:
        return vn
    return vc + (vn - vc) * (beat - bc) / span


@njit(cache=True, error_model="numpy")
def lane_value_at(env, n, lane, beat, held):  # type: ignore[no-untyped-def]
    """Stateless evaluation (used when merging a new envelope)."""
    if n == 0:
        return held
    base = lane * MAX_POINTS * 2
    if beat < env[base]:
        return held
    cur = 0
    while cur + 1 < n and env[base + 2 * (cur + 1)] <= beat:
        cur += 1
    if cur + 1 >= n:
        return env[base + 2 * cur + 1]
    bc = env[base + 2 * cur]
    bn = env[base + 2 * (cur + 1)]
    vc = env[base + 2 * cur + 1]
    vn = env[base + 2 * (cur + 1) + 1]
    if bn - bc <= 0.0:
        return vn
    return vc + (vn - vc) * (beat - bc) / (bn - bc)


@njit(cache=True, error_model="numpy")
def lane_keep(env, lane_n, lane_cur, lane_val, lane, start):  # type: ignore[no-untyped-def]
    """Keep a lane's corners before `start`, then a corner holding the value it has at `start`.

    Every new move (envelope, control, FX depth, panic) enters a lane this way: what was planned
    before its start still happens; from its start on, the newest command wins. Returns the count.
    """
    base = lane * MAX_POINTS * 2
    n = lane_n[lane]
    hold = lane_value_at(env, n, lane, start, lane_val[lane])
    kept = 0
    if n > 0:
        for c in range(lane_cur[lane], n):
            b = env[base + 2 * c]
            if b >= start:
                break
            env[base + 2 * kept] = b
            env[base + 2 * kept + 1] = env[base + 2 * c + 1]
            kept += 1
    env[base + 2 * kept] = start
    env[base + 2 * kept + 1] = hold
    lane_n[lane] = kept + 1
    lane_cur[lane] = 0
    return kept + 1


@njit(cache=True, error_model="numpy")
def lane_ramp(env, lane_n, lane_cur, lane_val, lane, b_from, b_to, v_to):  # type: ignore[no-untyped-def]
    """From `b_from` on, a straight ramp to `v_to` reached at `b_to`."""
    total = lane_keep(env, lane_n, lane_cur, lane_val, lane, b_from)
    base = lane * MAX_POINTS * 2
    env[base + 2 * total] = max(b_to, b_from)
    env[base + 2 * total + 1] = v_to
    lane_n[lane] = total + 1


@njit(cache=True, error_model="numpy")
def lane_insert(ring, head, env, lane_n, lane_cur, lane_val, neutral, stats, lane, start, count):  # type: ignore[no-untyped-def]
    """Merge an envelope's corners (ring rows after `head`) into a lane from beat `start` on."""
    total = lane_keep(env, lane_n, lane_cur, lane_val, lane, start)
    base = lane * MAX_POINTS * 2
    room = MAX_POINTS - total
    take = count
    if take > room:
        take = room
        stats[S_ENV_TRUNC] += 1
    for c in range(take):
        src = c if (c < take - 1 or take == count) else count - 1  # always keep the last corner
        row = (head + 1 + src // 4) % RING_ROWS
        k = row * ROW + 2 * (src % 4)
        b = ring[k]
        if b != b:
            continue
        v = unit(ring[k + 1], neutral[lane])
        b = max(b, env[base + 2 * (total - 1)])
        env[base + 2 * total] = b
        env[base + 2 * total + 1] = v
        total += 1
    lane_n[lane] = total


@njit(cache=True, error_model="numpy")
def apply_lanes(row, b0, db, deck, voices, env, lane_n, lane_cur, lane_val, lane_neutral, lane_reset, stats,
                settings, master, ndecks):  # type: ignore[no-untyped-def]
    """Commands that move parameters, applied as they are read so lanes see them in ring order."""
    code = int(row[0])
    target = int(row[1]) if row[1] == row[1] else -1
    e = row[2] if row[2] == row[2] else b0
    a = row[3]
    stats[S_APPLIED] = stats[S_FRAMES] + due_sample(e, b0, db)  # where it starts to sound (decision → audible)
    if code == C_CONTROL:
        if 0 <= target < N_LANES:
            ramp = max(1.0, settings[F_CONTROL_RAMP]) * db
            lane_ramp(env, lane_n, lane_cur, lane_val, target, e, e + ramp, unit(a, lane_neutral[target]))
    elif code == C_PANIC:
        stats[S_PANICS] += 1
        for ln in range(N_LANES):
            if lane_reset[ln] == 0.0:
                lane_n[ln] = 0  # stop every move where it is
            elif ln >= G_BASE or ln % N_DECK_LANES in (L_FX_SEND, L_FX_DEPTH):
                lane_n[ln] = 0  # sends shut at once: the FX return fades out and is cleared
                lane_val[ln] = lane_neutral[ln]
            else:
                lane_n[ln] = 0
                lane_ramp(env, lane_n, lane_cur, lane_val, ln, b0, b0 + PANIC_RAMP * db, lane_neutral[ln])
        for d in range(MAX_DECKS):
            deck[d * DECK_FIELDS + D_ROLL_ON] = 0.0
        for vi in range(N_VOICES):
            voices[vi * VOICE_FIELDS + V_ACTIVE] = 0.0
        master[MS_FX_FADE] = -1.0
    elif (code in (C_FX, C_FX_OFF)) and 0 <= target < ndecks:
        ln = target * N_DECK_LANES + L_FX_DEPTH
        v = unit(a, 0.0) if code == C_FX else 0.0
        if code == C_FX:
            deck[target * DECK_FIELDS + D_FX_UNIT] = row[4] if row[4] == row[4] else 0.0
        lane_ramp(env, lane_n, lane_cur, lane_val, ln, e, e + FX_RAMP * db, v)


# -- decks ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def deck_tb(deck, o, beat):  # type: ignore[no-untyped-def]
    """Track beat of a deck at a clock beat (where the play head is, moving or not)."""
    if deck[o + D_MOVING] > 0.0:
        return deck[o + D_ANCHOR_TB] + (beat - deck[o + D_ANCHOR_CB])
    return deck[o + D_POS_TB]


@njit(cache=True, error_model="numpy")
def deck_jump(deck, o, beat, new_tb):  # type: ignore[no-untyped-def]
    """Move the play head to `new_tb` at `beat`, cross-fading from where it was."""
    if deck[o + D_MOVING] > 0.0:
        old = deck_tb(deck, o, beat)
        deck[o + D_ANCHOR_TB] = new_tb
        deck[o + D_ANCHOR_CB] = beat
        deck[o + D_XF_DELTA] = old - new_tb
        deck[o + D_XF_LEFT] = XFADE
    else:
        deck[o + D_POS_TB] = new_tb


@njit(cache=True, error_model="numpy")
def apply_event(row, beat, db, sample, deck, voices, stats, settings, ndecks):  # type: ignore[no-untyped-def]
    """A discrete command on the sample of its beat (transport, loops, loads, hot cues, one-shots)."""
    code = int(row[0]) if row[0] == row[0] else 0
    target = int(row[1]) if row[1] == row[1] else -1
    e = row[2]
    if e != e or abs(e - beat) > db:  # late (or immediate): anchor on the sample we are at
        if e == e and e < beat - db:
            stats[S_LATE] += 1
        e = beat
    a = row[3]
    stats[S_APPLIED] = stats[S_FRAMES] + sample
    if code == C_ONESHOT:
        best = 0
        oldest = -1.0
        for vi in range(N_VOICES):
            if voices[vi * VOICE_FIELDS + V_ACTIVE] == 0.0:
                best = vi
                break
            if voices[vi * VOICE_FIELDS + V_POS] > oldest:
                oldest = voices[vi * VOICE_FIELDS + V_POS]
                best = vi
        vo = best * VOICE_FIELDS
        voices[vo + V_ACTIVE] = 1.0
        voices[vo + V_SLOT] = float(target)
        voices[vo + V_POS] = 0.0
        g = a if a == a else 0.0
        voices[vo + V_GAIN] = min(2.0, max(0.0, g))
        return
    if code == C_VOICES_OFF:
        for vi in range(N_VOICES):
            voices[vi * VOICE_FIELDS + V_ACTIVE] = 0.0
        return
    if code == C_MARK:
        stats[S_LAST_MARK] = int(a) if a == a else -1
        stats[S_MARK_SAMPLE] = stats[S_FRAMES] + sample
        return
    if not 0 <= target < ndecks:
        return
    o = target * DECK_FIELDS
    if code == C_PLAY:
        if deck[o + D_MOVING] == 0.0:
            deck[o + D_ANCHOR_CB] = e
            deck[o + D_ANCHOR_TB] = deck[o + D_POS_TB]
            deck[o + D_MOVING] = 1.0
            deck[o + D_XF_LEFT] = 0.0
        deck[o + D_RUN_TARGET] = 1.0
        deck[o + D_CUE_AFTER] = 0.0
    elif code == C_PAUSE:
        deck[o + D_RUN_TARGET] = 0.0
    elif code == C_CUE:
        if deck[o + D_MOVING] > 0.0:
            deck[o + D_RUN_TARGET] = 0.0
            deck[o + D_CUE_AFTER] = 1.0
        else:
            deck[o + D_POS_TB] = deck[o + D_CUE_TB]
    elif code == C_SYNC:
        if deck[o + D_MOVING] > 0.0:
            tb = deck_tb(deck, o, e)
            shift = (e - math.floor(e)) - (tb - math.floor(tb))
            shift -= math.floor(shift + 0.5)
            deck_jump(deck, o, e, tb + shift)
    elif code == C_LOOP:
        n = a if a == a else 4.0
        n = min(32.0, max(1.0 / 32.0, n))
        tb = deck_tb(deck, o, e)
        g = min(n, 1.0)
        start = math.floor(tb / g + 0.5) * g
        deck[o + D_LOOP_START] = start
        deck[o + D_LOOP_END] = start + n
        deck[o + D_LOOP_ON] = 1.0
    elif code == C_EXIT_LOOP:
        deck[o + D_LOOP_ON] = 0.0
    elif code == C_LOAD:
        if deck[o + D_MOVING] > 0.0:  # never on a playing deck, even if the scheduler was bypassed
            deck[o + D_REFUSED] += 1.0
            return
        slot = a if a == a else -1.0
        spb = row[5] if row[5] == row[5] and row[5] > 1.0 else settings[F_SR] * 0.5
        deck[o + D_SLOT] = slot
        deck[o + D_SRC_SLOT] = slot  # the new track sounds as it is until a stretch of it is ready
        deck[o + D_SRC_RATIO] = 1.0
        deck[o + D_PREV_SLOT] = -1.0
        deck[o + D_SRC_FADE] = 0.0
        deck[o + D_WANT_SLOT] = -1.0
        deck[o + D_WANT_RATIO] = 1.0
        loud = row[7] if row[7] == row[7] else 0.0
        deck[o + D_LOUD] = loud  # a stopped deck: its loudness offset is set at once
        deck[o + D_LOUD_TARGET] = loud
        deck[o + D_FIRST] = row[4] if row[4] == row[4] else 0.0
        deck[o + D_SPB] = spb
        cue = row[6] if row[6] == row[6] else 0.0
        deck[o + D_CUE_TB] = cue
        deck[o + D_POS_TB] = cue
        deck[o + D_LOOP_ON] = 0.0
        deck[o + D_XF_LEFT] = 0.0
        deck[o + D_RUN_GAIN] = 0.0
        deck[o + D_RUN_TARGET] = 0.0
        for h in range(8):
            deck[o + D_HOTCUES + h] = np.nan
        deck[o + D_LOADS] += 1.0
    elif code == C_STRETCH:
        slot = a if a == a else -1.0
        ratio = row[4] if row[4] == row[4] and row[4] > 0.0 else 1.0
        deck[o + D_WANT_SLOT] = slot
        deck[o + D_WANT_RATIO] = ratio if slot >= 0.0 else 1.0
    elif code == C_LOUDNESS:
        if a == a:
            deck[o + D_LOUD_TARGET] = a
    elif code == C_HOTCUE:
        h = int(a) - 1 if a == a else -1
        if 0 <= h < 8:
            tb = deck_tb(deck, o, e)
            cue = deck[o + D_HOTCUES + h]
            if cue != cue:
                deck[o + D_HOTCUES + h] = math.floor(tb + 0.5)
            else:
                deck_jump(deck, o, e, cue)


@njit(cache=True, inline="always", error_model="numpy")
def slot_audio(slots, slot):  # type: ignore[no-untyped-def]
    """A slot's interleaved stereo float32 and its frames (empty for a free or unknown slot)."""
    if 0 <= slot < slots.size // 2 and slots[2 * slot] != 0:
        return carray(voidptr(slots[2 * slot]), (slots[2 * slot + 1] * 2,), np.float32), slots[2 * slot + 1]
    return carray(voidptr(0), (0,), np.float32), 0


@njit(cache=True, inline="always", error_model="numpy")
def holds(span, slots, slot, lo, hi):  # type: ignore[no-untyped-def]
    """True if `slot` holds audio for every frame in [lo, hi] (a stretch fills its buffer as it goes).
    A span from frame 0 holds what lies before the track too (silence), one to the buffer's end what
    lies after it."""
    if slot < 0 or 2 * slot + 1 >= span.size or slots[2 * slot] == 0:
        return False
    a, b = span[2 * slot], span[2 * slot + 1]
    return (a <= 0.0 or a <= lo - SRC_GUARD) and (b >= slots[2 * slot + 1] or hi + SRC_GUARD < b)


@njit(cache=True, error_model="numpy")
def choose_source(deck, o, slots, span, stats, p_lo, p_hi):  # type: ignore[no-untyped-def]
    """Once per run: the deck sounds its wanted stretch where that holds the play head's frames, else
    its track varispeed. A change starts a cross-fade from the old source (none while one runs)."""
    track = deck[o + D_SLOT]
    want = int(deck[o + D_WANT_SLOT])
    slot, ratio = track, 1.0
    if want >= 0:
        rw = deck[o + D_WANT_RATIO]
        if holds(span, slots, want, p_lo * rw, p_hi * rw):
            slot, ratio = float(want), rw
        else:
            stats[S_VARISPEED] += 1
    if deck[o + D_SRC_FADE] > 0.0:
        return
    if slot != deck[o + D_SRC_SLOT] or ratio != deck[o + D_SRC_RATIO]:
        deck[o + D_PREV_SLOT] = deck[o + D_SRC_SLOT]
        deck[o + D_PREV_RATIO] = deck[o + D_SRC_RATIO]
        deck[o + D_SRC_SLOT] = slot
        deck[o + D_SRC_RATIO] = ratio
        deck[o + D_SRC_FADE] = SRC_XFADE


@njit(cache=True, inline="always", error_model="numpy")
def trim_value(v, settings):  # type: ignore[no-untyped-def]
    """The trim lane plus the loudness offset, inside the trim's own caps."""
    return min(settings[F_TRIM_HI], max(settings[F_TRIM_LO], v))


@njit(cache=True, error_model="numpy")
def read_deck(d, i, n, b0, db, deck, slots, span, scratch, v0, inc, settings, stats, stages):  # type: ignore[no-untyped-def]
    """Samples [i, i+n) of one deck, read and trimmed, into its scratch rows (zeros after them up to
    the next multiple of four, for the vector loops). False (and silence) once the deck has been
    stopped long enough for its filters to ring out: skip its DSP.

    The deck reads track frame p from its source at p × ratio (its track: 1; a key-lock stretch: the
    stretch's time ratio), cross-fading from the previous source after a change (`choose_source`).
    """
    n4 = min(SUB, (n + 3) & ~3)
    o = d * DECK_FIELDS
    lo = 2 * d * SUB
    ro = lo + SUB
    moving = deck[o + D_MOVING] > 0.0
    if not moving:
        deck[o + D_IDLE] += 1.0
        if deck[o + D_IDLE] > 400.0:  # ~0.2 s of silence: the EQ has rung out; skip the work
            for k in range(n4):
                scratch[lo + k] = 0.0
                scratch[ro + k] = 0.0
            return False
    else:
        deck[o + D_IDLE] = 0.0
    _, frames = slot_audio(slots, int(deck[o + D_SLOT]))
    ln = d * N_DECK_LANES
    # the loudness offset moves to its target no faster than the trim's slope cap
    loud0 = deck[o + D_LOUD]
    goal = deck[o + D_LOUD_TARGET]
    room = settings[F_TRIM_SLOPE] * n * db
    loud1 = goal if abs(goal - loud0) <= room else loud0 + (room if goal > loud0 else -room)
    deck[o + D_LOUD] = loud1
    t0 = trim_gain(trim_value(v0[ln + L_TRIM] + loud0, settings))
    t1 = trim_gain(trim_value(v0[ln + L_TRIM] + inc[ln + L_TRIM] * (n - 1) + loud1, settings))
    ti = (t1 - t0) / (n - 1) if n > 1 else 0.0
    if not moving or frames == 0:
        for k in range(n4):
            scratch[lo + k] = 0.0
            scratch[ro + k] = 0.0
        if moving:  # playing with nothing loaded: the clock still moves the head
            tg = deck[o + D_RUN_TARGET]
            deck[o + D_RUN_GAIN] = tg
            if tg == 0.0:
                deck[o + D_MOVING] = 0.0
                deck[o + D_POS_TB] = deck[o + D_ANCHOR_TB] + (b0 + i * db - deck[o + D_ANCHOR_CB])
        return True
    # the deck's fields live in locals for the run (numba cannot keep array fields in registers)
    first = deck[o + D_FIRST]
    spb = deck[o + D_SPB]
    anchor_tb = deck[o + D_ANCHOR_TB]
    anchor_cb = deck[o + D_ANCHOR_CB]
    looping = deck[o + D_LOOP_ON] > 0.0
    ls = deck[o + D_LOOP_START]
    le = deck[o + D_LOOP_END]
    xf_left = deck[o + D_XF_LEFT]
    xf_delta = deck[o + D_XF_DELTA]
    rg = deck[o + D_RUN_GAIN]
    tg = deck[o + D_RUN_TARGET]
    rolling = v0[ln + L_ROLL] + inc[ln + L_ROLL] * (n - 1) > 0.5
    roll_on = deck[o + D_ROLL_ON] > 0.0
    roll_start = deck[o + D_ROLL_START]
    # frames this run may read: from a beat back (a roll, a loop's start) to the last sample, and the
    # jump cross-fade's second head
    tb_first = anchor_tb + (b0 + i * db - anchor_cb)
    p_lo = first + (min(tb_first, ls if looping else tb_first) - 1.0) * spb
    p_hi = first + (tb_first + n * db) * spb
    if xf_left > 0.0:
        p_lo = min(p_lo, p_lo + xf_delta * spb)
        p_hi = max(p_hi, p_hi + xf_delta * spb)
    choose_source(deck, o, slots, span, stats, p_lo, p_hi)
    sbuf, sframes = slot_audio(slots, int(deck[o + D_SRC_SLOT]))
    ratio = deck[o + D_SRC_RATIO]
    fade = deck[o + D_SRC_FADE]
    pbuf, pframes = slot_audio(slots, int(deck[o + D_PREV_SLOT]))
    pratio = deck[o + D_PREV_RATIO]
    written = n - 1  # the last sample read (a pause that fades out ends the run early)
    for k in range(n):
        tb = anchor_tb + (b0 + (i + k) * db - anchor_cb)
        if looping and tb >= le - 1e-9 and le > ls:  # tolerance: a wrap due on a sample happens on it
            shift = math.floor((tb - ls) / (le - ls) + 1e-9) * (le - ls)
            anchor_tb -= shift
            tb -= shift
            xf_delta = shift
            xf_left = XFADE
        rtb = tb
        if rolling:
            if not roll_on:
                roll_on = True
                roll_start = math.floor(tb / ROLL_BEATS) * ROLL_BEATS
            if tb >= roll_start:
                rtb = roll_start + (tb - roll_start) % ROLL_BEATS
        else:
            roll_on = False
        p = first + rtb * spb
        if stages & OFF_READ:  # profiling: a cheap saw stands in for the cubic reads
            sl = p * 0.01 - math.floor(p * 0.01) - 0.5
            r = sl
        else:
            sl, r = cubic(sbuf, sframes, p * ratio)
        if xf_left > 0.0:
            w = 1.0 - xf_left / XFADE
            ol, orr = cubic(sbuf, sframes, (p + xf_delta * spb) * ratio)
            sl = w * sl + (1.0 - w) * ol
            r = w * r + (1.0 - w) * orr
            xf_left -= 1.0
        if fade > 0.0:  # a new source (a stretch ready, a key change) fades in over the old one
            w = 1.0 - fade / SRC_XFADE
            ol, orr = cubic(pbuf, pframes, p * pratio)
            sl = w * sl + (1.0 - w) * ol
            r = w * r + (1.0 - w) * orr
            fade -= 1.0
        if rg < tg:
            rg = min(tg, rg + 1.0 / DECLICK)
        elif rg > tg:
            rg = max(tg, rg - 1.0 / DECLICK)
        g = rg * (t0 + ti * k)
        scratch[lo + k] = sl * g
        scratch[ro + k] = r * g
        if rg == 0.0 and tg == 0.0:  # the pause has faded out: stop here
            written = k
            deck[o + D_MOVING] = 0.0
            deck[o + D_POS_TB] = tb
            if deck[o + D_CUE_AFTER] > 0.0:
                deck[o + D_POS_TB] = deck[o + D_CUE_TB]
                deck[o + D_CUE_AFTER] = 0.0
            break
    for k in range(written + 1, n4):
        scratch[lo + k] = 0.0
        scratch[ro + k] = 0.0
    deck[o + D_ANCHOR_TB] = anchor_tb
    deck[o + D_XF_LEFT] = xf_left
    deck[o + D_XF_DELTA] = xf_delta
    deck[o + D_RUN_GAIN] = rg
    deck[o + D_ROLL_ON] = 1.0 if roll_on else 0.0
    deck[o + D_ROLL_START] = roll_start
    deck[o + D_SRC_FADE] = fade
    if fade <= 0.0:
        deck[o + D_PREV_SLOT] = -1.0  # the old source is free
    return True


@njit(cache=True, inline="always", error_model="numpy")
def eq_gains(v0, inc, ln, n):  # type: ignore[no-untyped-def]
    """A deck's band gains (low, mid, high) at the sub-block's first sample, then their steps."""
    last = n - 1 if n > 1 else 1
    gl0 = level(v0[ln + L_EQ_LOW])
    gm0 = level(v0[ln + L_EQ_MID])
    gh0 = level(v0[ln + L_EQ_HIGH])
    gli = (level(v0[ln + L_EQ_LOW] + inc[ln + L_EQ_LOW] * (n - 1)) - gl0) / last
    gmi = (level(v0[ln + L_EQ_MID] + inc[ln + L_EQ_MID] * (n - 1)) - gm0) / last
    ghi = (level(v0[ln + L_EQ_HIGH] + inc[ln + L_EQ_HIGH] * (n - 1)) - gh0) / last
    return (gl0, gm0, gh0, gli, gmi, ghi)


@njit(cache=True, inline="always", error_model="numpy")
def filter_knob(v0, inc, d, n, sr, dsp):  # type: ignore[no-untyped-def]
    """A deck's filter coefficients for this sub-block (the knob at its middle), recomputed only
    when the knob has moved (a tangent and a power per deck and sub-block otherwise)."""
    v = v0[d * N_DECK_LANES + L_FILTER] + inc[d * N_DECK_LANES + L_FILTER] * (n - 1) * 0.5
    c = d * DSP_FIELDS + S_SVF_COEF
    if v != dsp[d * DSP_FIELDS + S_KNOB]:
        dsp[d * DSP_FIELDS + S_KNOB] = v
        dsp[c], dsp[c + 1], dsp[c + 2], dsp[c + 3], dsp[c + 4], dsp[c + 5] = svf_coefficients(v, sr)
    return dsp[c], dsp[c + 1], dsp[c + 2], dsp[c + 3], dsp[c + 4], dsp[c + 5]


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def mix_deck(scratch, lo, n, gl0, gli, gr0, gri, e0, ei, r0, ri, t0, ti, trem, b0, db, peak):  # type: ignore[no-untyped-def]
    """A deck's rows (left at `lo`, right at `lo + SUB`) into the bus and the echo and reverb sends,
    through fader/pan gains, send gains and tremolo (each a straight ramp over the run); returns the
    deck's peak meter. Four samples at a time (one vector lane each): the rows hold zeros up to the
    next multiple of four.

    Tremolo m(b) = 1 − t·(0.5 − 0.5·cos 4πb): the cosine steps four samples at a time by the
    Chebyshev recurrence c[k+4] = 2cos(4w)·c[k] − c[k−4] (w = 4π·beats per sample), restarted exactly
    every run (a cosine per sample once cost more than the whole EQ).
    """
    ro = lo + SUB
    step = 2.0
    cur = splat(1.0)
    prev = splat(1.0)  # no tremolo: c stays 1 and m stays exactly 1
    if trem:
        w = 4.0 * math.pi * db
        cw = math.cos(w)
        cm1 = math.cos(4.0 * math.pi * b0 - w)
        c0 = math.cos(4.0 * math.pi * b0)
        c1 = 2.0 * cw * c0 - cm1
        c2 = 2.0 * cw * c1 - c0
        c3 = 2.0 * cw * c2 - c1
        cm2 = 2.0 * cw * cm1 - c0
        cm3 = 2.0 * cw * cm2 - cm1
        cm4 = 2.0 * cw * cm3 - cm2
        cur = vec(c0, c1, c2, c3)
        prev = vec(cm4, cm3, cm2, cm1)
        c2w = 2.0 * cw * cw - 1.0
        step = 2.0 * (2.0 * c2w * c2w - 1.0)
    kv = vec(0.0, 1.0, 2.0, 3.0)
    pk = splat(0.0)
    for k in range(0, n, 4):
        kk = kv + float(k)
        m = 1.0 - (t0 + ti * kk) * (0.5 - 0.5 * cur)
        nxt = step * cur - prev
        prev = cur
        cur = nxt
        yl = vload(scratch, lo + k) * ((gl0 + gli * kk) * m)
        yr = vload(scratch, ro + k) * ((gr0 + gri * kk) * m)
        vstore(scratch, BUS_L * SUB + k, vload(scratch, BUS_L * SUB + k) + yl)
        vstore(scratch, BUS_R * SUB + k, vload(scratch, BUS_R * SUB + k) + yr)
        es = e0 + ei * kk
        rs = r0 + ri * kk
        vstore(scratch, ECHO_L * SUB + k, vload(scratch, ECHO_L * SUB + k) + yl * es)
        vstore(scratch, ECHO_R * SUB + k, vload(scratch, ECHO_R * SUB + k) + yr * es)
        vstore(scratch, REV_L * SUB + k, vload(scratch, REV_L * SUB + k) + yl * rs)
        vstore(scratch, REV_R * SUB + k, vload(scratch, REV_R * SUB + k) + yr * rs)
        pk = vmax(pk, vmax(vabs(yl), vabs(yr)))
    return max(peak, lane(pk, 0), lane(pk, 1), lane(pk, 2), lane(pk, 3))


@njit(cache=True, error_model="numpy")
def deck_guard(d, n, dsp, scratch):  # type: ignore[no-untyped-def]
    """After a deck's EQ and filter: a bad file or a blown filter silences it and resets its state."""
    lo = 2 * d * SUB
    ro = lo + SUB
    sb = d * DSP_FIELDS
    acc = splat(0.0)
    for k in range(0, n, 4):  # the rows are zero from n to the next multiple of four
        acc = acc + vabs(vload(scratch, lo + k)) + vabs(vload(scratch, ro + k))
    total = (lane(acc, 0) + lane(acc, 1)) + (lane(acc, 2) + lane(acc, 3))
    if total != total or total > 1e9:
        for k in range(n):
            scratch[lo + k] = 0.0
            scratch[ro + k] = 0.0
        for s in range(sb, sb + S_KNOB):  # the filter states (its cached coefficients stay right)
            dsp[s] = 0.0


@njit(cache=True, error_model="numpy")
def render(tbl, out, frames):  # type: ignore[no-untyped-def]
    """Render `frames` stereo frames (interleaved float32) from the engine state in `tbl`."""
    t_start = clock_ns()
    stats = i64(tbl, A_STATS)
    times = i64(tbl, A_TIMES)
    ring = f64(tbl, A_RING)
    ring_idx = i64(tbl, A_RING_IDX)
    clock = f64(tbl, A_CLOCK)
    beat = f64(tbl, A_BEAT)
    settings = f64(tbl, A_SETTINGS)
    lane_val = f64(tbl, A_LANE_VAL)
    env = f64(tbl, A_LANE_ENV)
    lane_n = i64(tbl, A_LANE_N)
    lane_cur = i64(tbl, A_LANE_CUR)
    lane_neutral = f64(tbl, A_LANE_NEUTRAL)
    lane_reset = f64(tbl, A_LANE_RESET)
    v0 = f64(tbl, A_LANE_V0)
    inc = f64(tbl, A_LANE_INC)
    pending = f64(tbl, A_PENDING)
    pseq = i64(tbl, A_PENDING_SEQ)
    deck = f64(tbl, A_DECK)
    dsp = f64(tbl, A_DSP)
    xover = f64(tbl, A_XOVER)
    slots = i64(tbl, A_SLOTS)
    voices = f64(tbl, A_VOICES)
    echo = f32(tbl, A_ECHO)
    reverb = f32(tbl, A_REVERB)
    rev_len = i64(tbl, A_REV_LEN)
    master = f64(tbl, A_MASTER)
    lim_delay = f64(tbl, A_LIM_DELAY)
    lim_hist = f64(tbl, A_LIM_HIST)
    lim_q = f64(tbl, A_LIM_Q)
    lim_box = f64(tbl, A_LIM_BOX)
    fir = f64(tbl, A_TP_FIR)
    scratch = f64(tbl, A_SCRATCH)
    meters = f64(tbl, A_METERS)
    mcoef = f64(tbl, A_MCOEF)
    lu_blocks = f64(tbl, A_LU_BLOCKS)
    span = f64(tbl, A_SPAN)
    tap = f64(tbl, A_TAP)

    sr = settings[F_SR]
    stages = int(settings[F_STAGES])
    ndecks = min(MAX_DECKS, max(1, int(settings[F_DECKS])))
    if frames > out.size // 2:
        frames = out.size // 2
    b0, db = block_beats(clock, beat, stats, settings, frames)
    tapping = (stages & TAP_DECKS) != 0 and frames <= MAX_BLOCK
    if tapping:  # a deck that does not play this block adds silence
        for d in range(ndecks):
            for k in range(2 * frames):
                tap[d * 2 * MAX_BLOCK + k] = 0.0

    # -- drain the command ring ----------------------------------------------------------------------
    npend = stats[S_PENDING]
    head = ring_idx[RING_HEAD]
    tail = ring_idx[RING_TAIL]
    fence()
    while head < tail:
        r = (head % RING_ROWS) * ROW
        code = ring[r]
        if code == C_ENVELOPE:
            count = int(ring[r + 3]) if ring[r + 3] == ring[r + 3] else 0
            rows = 1 + (count + 3) // 4
            if head + rows > tail:
                break
            ln = int(ring[r + 1]) if ring[r + 1] == ring[r + 1] else -1
            start = ring[r + 2]
            if 0 <= ln < N_LANES and start == start and count > 0:
                lane_insert(ring, head, env, lane_n, lane_cur, lane_val, lane_neutral, stats, ln, start, count)
            head += rows
            continue
        if code in (C_CONTROL, C_FX, C_FX_OFF, C_PANIC):
            apply_lanes(ring[r:r + ROW], b0, db, deck, voices, env, lane_n, lane_cur, lane_val, lane_neutral,
                        lane_reset, stats, settings, master, ndecks)
            if code == C_PANIC:
                npend = 0  # PANIC forgets every discrete event still waiting for its beat
            head += 1
            continue
        if npend < MAX_PENDING:
            for c in range(ROW):
                pending[npend * ROW + c] = ring[r + c]
            pseq[npend] = int(beat[K_EVENT_SEQ])
            beat[K_EVENT_SEQ] += 1.0
            npend += 1
        else:
            stats[S_OVERFLOW] += 1
        head += 1
    fence()
    ring_idx[RING_HEAD] = head

    # -- sub-blocks ----------------------------------------------------------------------------------
    fx_return = settings[F_FX_RETURN]
    ceiling = settings[F_CEILING]
    master[MS_GR] = 1.0
    i = 0
    while i < frames:
        bi = b0 + i * db
        # discrete events due by this sample, in beat order (then arrival order)
        while npend > 0:
            best = -1
            for p in range(npend):
                if due_sample(pending[p * ROW + 2], b0, db) <= i:
                    if best < 0:
                        best = p
                    else:
                        eb = pending[best * ROW + 2]
                        ep = pending[p * ROW + 2]
                        eb = -1e300 if eb != eb else eb
                        ep = -1e300 if ep != ep else ep
                        if ep < eb or (ep == eb and pseq[p] < pseq[best]):
                            best = p
            if best < 0:
                break
            apply_event(pending[best * ROW:best * ROW + ROW], bi, db, i, deck, voices, stats, settings, ndecks)
            npend -= 1
            if best != npend:
                for c in range(ROW):
                    pending[best * ROW + c] = pending[npend * ROW + c]
                pseq[best] = pseq[npend]
        j = min(frames, i + SUB)
        for p in range(npend):
            m = due_sample(pending[p * ROW + 2], b0, db)
            if i < m < j:
                j = m
        # lanes: value at i, and the next corner
        for ln in range(N_LANES):
            if lane_n[ln] == 0:
                continue
            v = lane_eval(env, lane_n, lane_cur, ln, bi, lane_val[ln])
            v0[ln] = v
            base = ln * MAX_POINTS * 2
            cur = lane_cur[ln]
            nxt = cur + 1 if bi >= env[base] else 0
            if nxt < lane_n[ln]:
                m = due_sample(env[base + 2 * nxt], b0, db)
                if m <= i:
                    m = i + 1
                if m < j:
                    j = m
        n = j - i
        n4 = min(SUB, (n + 3) & ~3)  # vector loops run in fours: rows stay clean up to here
        for ln in range(N_LANES):
            if lane_n[ln] == 0:
                v0[ln] = lane_val[ln]
                inc[ln] = 0.0
                continue
            last_beat = b0 + (j - 1) * db
            v1 = lane_eval(env, lane_n, lane_cur, ln, last_beat, lane_val[ln])
            inc[ln] = (v1 - v0[ln]) / (n - 1) if n > 1 else 0.0
            lane_val[ln] = v1
            base = ln * MAX_POINTS * 2
            if last_beat >= env[base + 2 * (lane_n[ln] - 1)]:
                lane_n[ln] = 0  # automation finished: hold its last value
        # decks
        for k in range(n4):
            scratch[BUS_L * SUB + k] = 0.0
            scratch[BUS_R * SUB + k] = 0.0
            scratch[ECHO_L * SUB + k] = 0.0
            scratch[ECHO_R * SUB + k] = 0.0
            scratch[REV_L * SUB + k] = 0.0
            scratch[REV_R * SUB + k] = 0.0
            scratch[RET_L * SUB + k] = 0.0
            scratch[RET_R * SUB + k] = 0.0
        xf0 = v0[G_CROSSFADER]
        xf1 = xf0 + inc[G_CROSSFADER] * (n - 1)
        # decks: read and trim each, then EQ and filter them two at a time (one vector lane per channel)
        busy = 0
        for d in range(ndecks):
            if read_deck(d, i, n, b0, db, deck, slots, span, scratch, v0, inc, settings, stats, stages):
                busy |= 1 << d
        for pair in range(0, ndecks, 2):
            if busy & (3 << pair) == 0:
                continue
            partner = pair + 1
            if partner >= ndecks:  # an odd deck count: the spare lanes run on silence
                for k in range(n):
                    scratch[2 * partner * SUB + k] = 0.0
                    scratch[(2 * partner + 1) * SUB + k] = 0.0
            if not stages & OFF_EQ:
                eq_pair(scratch, 2 * pair * SUB, 2 * partner * SUB, n, xover, dsp, pair * DSP_FIELDS + S_EQ,
                        partner * DSP_FIELDS + S_EQ, eq_gains(v0, inc, pair * N_DECK_LANES, n),
                        eq_gains(v0, inc, partner * N_DECK_LANES, n))
            if not stages & OFF_FILTER:
                filter_pair(scratch, 2 * pair * SUB, 2 * partner * SUB, n, dsp, pair * DSP_FIELDS + S_SVF,
                            partner * DSP_FIELDS + S_SVF, filter_knob(v0, inc, pair, n, sr, dsp),
                            filter_knob(v0, inc, partner, n, sr, dsp))
            for d in range(pair, min(partner + 1, ndecks)):
                if busy & (1 << d):
                    deck_guard(d, n, dsp, scratch)
                else:
                    flush_state(dsp, d * DSP_FIELDS, S_KNOB)
        for d in range(ndecks):
            if not busy & (1 << d):
                continue  # stopped and rung out: nothing to mix
            o = d * DECK_FIELDS
            ln = d * N_DECK_LANES
            last = n - 1 if n > 1 else 1
            gl0, gr0 = fader_gains(d, v0[ln + L_VOLUME], v0[ln + L_PAN], xf0)
            gl1, gr1 = fader_gains(d, v0[ln + L_VOLUME] + inc[ln + L_VOLUME] * (n - 1),
                                   v0[ln + L_PAN] + inc[ln + L_PAN] * (n - 1), xf1)
            gl_i = (gl1 - gl0) / last
            gr_i = (gr1 - gr0) / last
            send0 = v0[ln + L_FX_SEND]
            send1 = send0 + inc[ln + L_FX_SEND] * (n - 1)
            depth0 = v0[ln + L_FX_DEPTH]
            depth1 = depth0 + inc[ln + L_FX_DEPTH] * (n - 1)
            is_echo = 1.0 if deck[o + D_FX_UNIT] == FX_ECHO else 0.0
            is_rev = 1.0 if deck[o + D_FX_UNIT] == FX_REVERB else 0.0
            e0 = 0.5 * send0 + depth0 * is_echo
            ei = (0.5 * send1 + depth1 * is_echo - e0) / last
            r0 = 0.5 * send0 + depth0 * is_rev
            ri = (0.5 * send1 + depth1 * is_rev - r0) / last
            trem0 = v0[ln + L_TREMOLO]
            trem1 = trem0 + inc[ln + L_TREMOLO] * (n - 1)
            if tapping:  # what this deck adds to the bus: the bus after it, less the bus before it
                t = d * 2 * MAX_BLOCK + 2 * i
                for k in range(n):
                    tap[t + 2 * k] = -scratch[BUS_L * SUB + k]
                    tap[t + 2 * k + 1] = -scratch[BUS_R * SUB + k]
            deck[o + D_PEAK] = mix_deck(scratch, 2 * d * SUB, n, gl0, gl_i, gr0, gr_i, e0, ei, r0, ri, trem0,
                                        (trem1 - trem0) / last, trem0 > 0.0 or trem1 > 0.0, bi, db,
                                        deck[o + D_PEAK])
            if tapping:
                t = d * 2 * MAX_BLOCK + 2 * i
                for k in range(n):
                    tap[t + 2 * k] += scratch[BUS_L * SUB + k]
                    tap[t + 2 * k + 1] += scratch[BUS_R * SUB + k]
        # one-shot voices (adornments)
        ag0 = level(v0[G_ADORN])
        for vi in range(N_VOICES):
            vo = vi * VOICE_FIELDS
            if voices[vo + V_ACTIVE] == 0.0:
                continue
            slot = int(voices[vo + V_SLOT])
            if not (0 <= slot < slots.size // 2) or slots[2 * slot] == 0:
                voices[vo + V_ACTIVE] = 0.0
                continue
            vf = slots[2 * slot + 1]
            vbuf = carray(voidptr(slots[2 * slot]), (vf * 2,), np.float32)
            pos = int(voices[vo + V_POS])
            g = voices[vo + V_GAIN] * ag0
            for k in range(n):
                if pos >= vf:
                    voices[vo + V_ACTIVE] = 0.0
                    break
                scratch[BUS_L * SUB + k] += vbuf[2 * pos] * g
                scratch[BUS_R * SUB + k] += vbuf[2 * pos + 1] * g
                pos += 1
            voices[vo + V_POS] = pos
        # FX bus: room sends the whole mix to the reverb
        room0 = v0[G_ROOM]
        room_i = inc[G_ROOM]
        if room0 != 0.0 or room_i != 0.0:
            for k in range(n):
                rm = room0 + room_i * k
                scratch[REV_L * SUB + k] += scratch[BUS_L * SUB + k] * rm
                scratch[REV_R * SUB + k] += scratch[BUS_R * SUB + k] * rm
        # An FX unit whose input has been silent for longer than its tail is skipped (its residue is
        # below −120 dB): most of a set runs with the sends shut.
        echo_tail = ECHO_TAIL_REPEATS * settings[F_ECHO_BEATS] / db
        if not stages & OFF_ECHO and fx_busy(scratch, ECHO_L * SUB, ECHO_R * SUB, n, master, MS_ECHO_IDLE,
                                             echo_tail):
            echo_block(echo, master, scratch[ECHO_L * SUB:], scratch[ECHO_R * SUB:], 0, scratch[RET_L * SUB:],
                       scratch[RET_R * SUB:], 0, n, 1.0 / db, settings[F_ECHO_BEATS], settings[F_ECHO_FEEDBACK])
        if not stages & OFF_REVERB and fx_busy(scratch, REV_L * SUB, REV_R * SUB, n, master, MS_REV_IDLE,
                                               REVERB_TAIL_SECONDS * sr):
            reverb_block(reverb, rev_len, master, scratch[REV_L * SUB:], scratch[REV_R * SUB:], 0,
                         scratch[RET_L * SUB:], scratch[RET_R * SUB:], 0, n, settings[F_REVERB_FEEDBACK],
                         settings[F_REVERB_DAMP], 1.0)
        fade = master[MS_FX_FADE]
        mg0 = level(v0[G_MASTER])
        mg1 = level(v0[G_MASTER] + inc[G_MASTER] * (n - 1))
        mgi = (mg1 - mg0) / (n - 1 if n > 1 else 1)
        f0 = fx_return
        fi = 0.0
        if fade < 0.0:  # PANIC: the returns fade out over this run
            fi = -fx_return / n
            f0 = fx_return + fi
        for k in range(n):
            f = f0 + fi * k
            mg = mg0 + mgi * k
            scratch[BUS_L * SUB + k] = (scratch[BUS_L * SUB + k] + scratch[RET_L * SUB + k] * f) * mg
            scratch[BUS_R * SUB + k] = (scratch[BUS_R * SUB + k] + scratch[RET_R * SUB + k] * f) * mg
        if fade < 0.0:  # PANIC: the tails are gone
            echo[:] = 0.0
            reverb[:] = 0.0
            master[MS_ECHO_LP_L] = 0.0
            master[MS_ECHO_LP_R] = 0.0
            for q in range(MS_REV_STATE, MS_REV_STATE + REV_STATES):  # the combs ring no more
                master[q] = 0.0
            master[MS_FX_FADE] = 1.0
        chain = 0 if stages & OFF_CHAIN else int(settings[F_CHAIN])
        if chain & (CHAIN_HPF | CHAIN_TILT):
            chain_filters(scratch, BUS_L * SUB, BUS_R * SUB, n, master, mcoef, chain & CHAIN_HPF, chain & CHAIN_TILT)
        if chain & CHAIN_COMP:
            compressor_block(scratch, BUS_L * SUB, BUS_R * SUB, n, master, settings)
        if not stages & OFF_LOWPASS:
            lowpass_block(scratch, BUS_L * SUB, BUS_R * SUB, n, master, settings)
        if stages & OFF_LIMITER:
            for k in range(n):
                out[2 * (i + k)] = min(ceiling, max(-ceiling, scratch[BUS_L * SUB + k]))
                out[2 * (i + k) + 1] = min(ceiling, max(-ceiling, scratch[BUS_R * SUB + k]))
        else:
            tp_gain = 0.0 if stages & OFF_TRUE_PEAK else (1e300 if stages & TP_ALWAYS else settings[F_TP_GAIN])
            stats[S_TP_RUNS] += limiter_block(scratch[BUS_L * SUB:], scratch[BUS_R * SUB:], 0, n, out, 2 * i, master,
                                              lim_delay, lim_hist, lim_q, lim_box, fir, ceiling,
                                              settings[F_LIMITER_RELEASE], tp_gain)
        stats[S_SUBBLOCKS] += 1
        i = j

    stats[S_PENDING] = npend
    bad = 0
    for k in range(2 * frames):  # a cheap look first (vectorises); the fix only if something is wrong
        bad |= out[k] != out[k]
    if bad:
        for k in range(2 * frames):
            v = out[k]
            if v != v:
                out[k] = 0.0
                stats[S_NONFINITE] += 1
    if not stages & OFF_METER:
        loudness_meter(out, frames, master, mcoef, lu_blocks, settings, meters)
    meters[MT_PEAK] = master[MS_PEAK]
    meters[MT_GR] = master[MS_GR]
    meters[MT_COMP_GR] = master[MS_COMP_GR]
    master[MS_PEAK] *= 0.99
    stats[S_FRAMES] += frames
    stats[S_CALLBACKS] += 1
    t_end = clock_ns()
    took = t_end - t_start
    if took > stats[S_LONGEST_NS]:
        stats[S_LONGEST_NS] = took
    if took * sr > frames * 1e9:  # longer than the audio it made: this block was late
        stats[S_OVERRUNS] += 1
    ti = stats[S_TIME_IDX] % TIMES
    times[3 * ti] = t_start
    times[3 * ti + 1] = t_end - t_start
    times[3 * ti + 2] = stats[S_FRAMES] - frames
    stats[S_TIME_IDX] += 1
    return frames

