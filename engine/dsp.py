"""DSP building blocks for the kernel: numba, float64 state, no allocation, never raising.

Each function works on a short run of samples (a sub-block, at most `layout.SUB`) held in scratch
arrays, so parameters are re-read often enough for clean ramps and rarely enough to stay cheap.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .layout import (
    ECHO_FRAMES,
    F_COMP_ATTACK,
    F_COMP_KNEE,
    F_COMP_MAKEUP,
    F_COMP_RELEASE,
    F_COMP_RMS,
    F_COMP_SLOPE,
    F_COMP_THRESHOLD,
    F_LP_A1,
    F_LP_A2,
    F_LP_B0,
    F_LU_BLOCK,
    LIM_LINE,
    LOOKAHEAD,
    LU_BLOCKS,
    LU_MOMENTARY,
    MC_HPF,
    MC_KW,
    MC_TILT,
    MS_COMP_ENV,
    MS_COMP_GAIN,
    MS_COMP_GR,
    MS_ECHO_D,
    MS_ECHO_LP_L,
    MS_ECHO_LP_R,
    MS_ECHO_W,
    MS_GR,
    MS_HPF,
    MS_KW,
    MS_LIM_CALM,
    MS_LIM_N,
    MS_LIM_POS,
    MS_LIM_QHEAD,
    MS_LIM_QTAIL,
    MS_LIM_REL,
    MS_LIM_SUM,
    MS_LP,
    MS_LU_ACC,
    MS_LU_COUNT,
    MS_LU_N,
    MS_PEAK,
    MS_REV,
    MS_REV_STATE,
    MS_TILT,
    MT_MOMENTARY,
    MT_SHORT_TERM,
    REV_LINES,
    SUB,
    TP_TAPS,
)
from .simd import lane, splat, vabs, vec, vload, vmax, vstore

U = np.uint64  # an index numba knows is not negative: no wrap-around code (see reverb_block)
F = np.float64
# Fused multiply-add only: it shortens the biquad recursions; no other fast-math (NaN checks stay).
FMA = {"contract"}
TINY = 1e-30  # below this a filter state is flushed to zero: subnormals cost 8-10 % (engine.md)
LIM_DELAY = LOOKAHEAD - 1 + TP_TAPS // 2
LIM_HOLD = LOOKAHEAD + 1
LIM_MASK = LIM_LINE - 1
LINE = SUB + TP_TAPS  # the true-peak line: left run, right run, then the peaks row
PK = 2 * LINE


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def biquad(x, c, ci, s, si):  # type: ignore[no-untyped-def]
    """Transposed direct form II; coefficients c[ci:ci+5] = b0 b1 b2 a1 a2, state s[si:si+2]."""
    y = c[ci] * x + s[si]
    s[si] = c[ci + 1] * x - c[ci + 3] * y + s[si + 1]
    s[si + 1] = c[ci + 2] * x - c[ci + 4] * y
    return y


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def bq(x, b0, b1, b2, a1, a2, z1, z2):  # type: ignore[no-untyped-def]
    """Transposed direct form II, pure: returns (y, z1', z2') so states can live in registers."""
    y = b0 * x + z1
    return y, (b1 * x + z2) - a1 * y, b2 * x - a2 * y


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def bq4(x, b0, b1, b2, a1, a2, z1, z2):  # type: ignore[no-untyped-def]
    """`bq` on four lanes. The feedback term is subtracted last, so each recursion's loop-carried
    path is two multiply-adds (y → z1 → next y)."""
    y = b0 * x + z1
    return y, (b1 * x + z2) - a1 * y, b2 * x - a2 * y


@njit(cache=True, inline="always", error_model="numpy")
def load4(s, a, b):  # type: ignore[no-untyped-def]
    return vec(s[a], s[a + 1], s[b], s[b + 1])


@njit(cache=True, inline="always", error_model="numpy")
def store4(s, a, b, v):  # type: ignore[no-untyped-def]
    """Four filter states back, flushed: below TINY (or NaN) becomes exactly 0."""
    x0, x1, x2, x3 = lane(v, 0), lane(v, 1), lane(v, 2), lane(v, 3)
    s[a] = x0 if abs(x0) >= TINY else 0.0
    s[a + 1] = x1 if abs(x1) >= TINY else 0.0
    s[b] = x2 if abs(x2) >= TINY else 0.0
    s[b + 1] = x3 if abs(x3) >= TINY else 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def eq_pair(buf, o0, o1, n, c, s, s0, s1, ga, gb):  # type: ignore[no-untyped-def]
    """The LR8 three-band EQ on two decks at once: lanes (L, R) of deck 0 and (L, R) of deck 1.

    Deck j's left channel is buf[oj : oj+n], its right buf[oj+SUB : …]; its EQ states are
    s[sj : sj+48] (section, state, channel). `ga`, `gb`: each deck's band gains (low, mid, high) at
    the first sample, then their per-sample steps. Bands (see design.py): xa = AP_lo(x),
    low = LR8_lo(x), high = LR8_hi(xa − low), y = AP_hi(gm·xa + (gl − gm)·low) + (gh − gm)·high.
    That is the same filter as the textbook gl·AP_hi(low) + gm·mid + gh·high with
    mid = AP_hi(xa) − AP_hi(low) − high, with one AP_hi instead of two (the all-pass is linear):
    12 biquads per channel instead of 14. Numba does not vectorise recursions; the four lanes of
    a `vec4` run the four channels' filters in one instruction each (engine/simd.py).
    """
    l0, l1, l2, l3, l4 = splat(c[0]), splat(c[1]), splat(c[2]), splat(c[3]), splat(c[4])
    m0, m1, m2, m3, m4 = splat(c[5]), splat(c[6]), splat(c[7]), splat(c[8]), splat(c[9])
    h0, h1, h2, h3, h4 = splat(c[10]), splat(c[11]), splat(c[12]), splat(c[13]), splat(c[14])
    k0, k1, k2, k3, k4 = splat(c[15]), splat(c[16]), splat(c[17]), splat(c[18]), splat(c[19])
    p0, p1, p2, p3, p4 = splat(c[20]), splat(c[21]), splat(c[22]), splat(c[23]), splat(c[24])
    q0, q1, q2, q3, q4 = splat(c[25]), splat(c[26]), splat(c[27]), splat(c[28]), splat(c[29])
    r0, r1, r2, r3, r4 = splat(c[30]), splat(c[31]), splat(c[32]), splat(c[33]), splat(c[34])
    t0, t1, t2, t3, t4 = splat(c[35]), splat(c[36]), splat(c[37]), splat(c[38]), splat(c[39])
    # gains: gm on xa, gl = (low − mid) on low, gh = (high − mid) on high
    gm = vec(ga[1], ga[1], gb[1], gb[1])
    gl = vec(ga[0] - ga[1], ga[0] - ga[1], gb[0] - gb[1], gb[0] - gb[1])
    gh = vec(ga[2] - ga[1], ga[2] - ga[1], gb[2] - gb[1], gb[2] - gb[1])
    dm = vec(ga[4], ga[4], gb[4], gb[4])
    dl = vec(ga[3] - ga[4], ga[3] - ga[4], gb[3] - gb[4], gb[3] - gb[4])
    dh = vec(ga[5] - ga[4], ga[5] - ga[4], gb[5] - gb[4], gb[5] - gb[4])
    za0, zb0 = load4(s, s0 + 0, s1 + 0), load4(s, s0 + 2, s1 + 2)
    za1, zb1 = load4(s, s0 + 4, s1 + 4), load4(s, s0 + 6, s1 + 6)
    za2, zb2 = load4(s, s0 + 8, s1 + 8), load4(s, s0 + 10, s1 + 10)
    za3, zb3 = load4(s, s0 + 12, s1 + 12), load4(s, s0 + 14, s1 + 14)
    za4, zb4 = load4(s, s0 + 16, s1 + 16), load4(s, s0 + 18, s1 + 18)
    za5, zb5 = load4(s, s0 + 20, s1 + 20), load4(s, s0 + 22, s1 + 22)
    za6, zb6 = load4(s, s0 + 24, s1 + 24), load4(s, s0 + 26, s1 + 26)
    za7, zb7 = load4(s, s0 + 28, s1 + 28), load4(s, s0 + 30, s1 + 30)
    za8, zb8 = load4(s, s0 + 32, s1 + 32), load4(s, s0 + 34, s1 + 34)
    za9, zb9 = load4(s, s0 + 36, s1 + 36), load4(s, s0 + 38, s1 + 38)
    za10, zb10 = load4(s, s0 + 40, s1 + 40), load4(s, s0 + 42, s1 + 42)
    za11, zb11 = load4(s, s0 + 44, s1 + 44), load4(s, s0 + 46, s1 + 46)
    for k in range(n):
        x = vec(buf[o0 + k], buf[o0 + SUB + k], buf[o1 + k], buf[o1 + SUB + k])
        xa, za0, zb0 = bq4(x, p0, p1, p2, p3, p4, za0, zb0)
        xa, za1, zb1 = bq4(xa, q0, q1, q2, q3, q4, za1, zb1)
        low, za2, zb2 = bq4(x, l0, l1, l2, l3, l4, za2, zb2)
        low, za3, zb3 = bq4(low, m0, m1, m2, m3, m4, za3, zb3)
        low, za4, zb4 = bq4(low, l0, l1, l2, l3, l4, za4, zb4)
        low, za5, zb5 = bq4(low, m0, m1, m2, m3, m4, za5, zb5)
        high, za6, zb6 = bq4(xa - low, h0, h1, h2, h3, h4, za6, zb6)
        high, za7, zb7 = bq4(high, k0, k1, k2, k3, k4, za7, zb7)
        high, za8, zb8 = bq4(high, h0, h1, h2, h3, h4, za8, zb8)
        high, za9, zb9 = bq4(high, k0, k1, k2, k3, k4, za9, zb9)
        y, za10, zb10 = bq4(gm * xa + gl * low, r0, r1, r2, r3, r4, za10, zb10)
        y, za11, zb11 = bq4(y, t0, t1, t2, t3, t4, za11, zb11)
        y = y + gh * high
        gm = gm + dm
        gl = gl + dl
        gh = gh + dh
        buf[o0 + k] = lane(y, 0)
        buf[o0 + SUB + k] = lane(y, 1)
        buf[o1 + k] = lane(y, 2)
        buf[o1 + SUB + k] = lane(y, 3)
    store4(s, s0 + 0, s1 + 0, za0)
    store4(s, s0 + 2, s1 + 2, zb0)
    store4(s, s0 + 4, s1 + 4, za1)
    store4(s, s0 + 6, s1 + 6, zb1)
    store4(s, s0 + 8, s1 + 8, za2)
    store4(s, s0 + 10, s1 + 10, zb2)
    store4(s, s0 + 12, s1 + 12, za3)
    store4(s, s0 + 14, s1 + 14, zb3)
    store4(s, s0 + 16, s1 + 16, za4)
    store4(s, s0 + 18, s1 + 18, zb4)
    store4(s, s0 + 20, s1 + 20, za5)
    store4(s, s0 + 22, s1 + 22, zb5)
    store4(s, s0 + 24, s1 + 24, za6)
    store4(s, s0 + 26, s1 + 26, zb6)
    store4(s, s0 + 28, s1 + 28, za7)
    store4(s, s0 + 30, s1 + 30, zb7)
    store4(s, s0 + 32, s1 + 32, za8)
    store4(s, s0 + 34, s1 + 34, zb8)
    store4(s, s0 + 36, s1 + 36, za9)
    store4(s, s0 + 38, s1 + 38, zb9)
    store4(s, s0 + 40, s1 + 40, za10)
    store4(s, s0 + 42, s1 + 42, zb10)
    store4(s, s0 + 44, s1 + 44, za11)
    store4(s, s0 + 46, s1 + 46, zb11)


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def svf_coefficients(v, sr):  # type: ignore[no-untyped-def]
    """The one-knob filter at knob `v`: (a1, a2, a3, k, wet, hp) of a TPT state-variable filter.

    0.5 is open (wet 0: the filter is bypassed), below a low-pass closing to 40 Hz, above a high-pass
    (hp 1) up to 8 kHz. Near the centre the filtered signal is cross-faded with the dry one (wet), so
    turning the knob through 0.5 never clicks. Computed once per sub-block (a TPT SVF stays stable).
    """
    d = v - 0.5
    if d != d:
        d = 0.0
    mag = abs(d) * 2.0
    if mag < 1e-4:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    wet = min(1.0, mag / 0.1)
    fc = 20000.0 * math.pow(40.0 / 20000.0, mag) if d < 0 else 20.0 * math.pow(8000.0 / 20.0, mag)
    fc = min(fc, 0.45 * sr)
    g = math.tan(math.pi * fc / sr)
    k = 1.0 / (0.7071 + 0.6 * mag)  # flat near the centre, a resonant edge as it closes
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    a3 = g * a2
    return a1, a2, a3, k, wet, 0.0 if d < 0 else 1.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def filter_pair(buf, o0, o1, n, s, s0, s1, ca, cb):  # type: ignore[no-untyped-def]
    """The one-knob filter on two decks at once, one vector lane per channel (as `eq_pair`).

    `ca`, `cb`: each deck's `svf_coefficients`; states s[sj : sj+4] = (ic1 L, ic1 R, ic2 L, ic2 R).
    An open deck's lanes pass their input through untouched and its states are reset.
    """
    if ca[4] == 0.0 and cb[4] == 0.0:
        for j in range(4):
            s[s0 + j] = 0.0
            s[s1 + j] = 0.0
        return
    a1 = vec(ca[0], ca[0], cb[0], cb[0])
    a2 = vec(ca[1], ca[1], cb[1], cb[1])
    a3 = vec(ca[2], ca[2], cb[2], cb[2])
    k = vec(ca[3], ca[3], cb[3], cb[3])
    wet = vec(ca[4], ca[4], cb[4], cb[4])
    hp = vec(ca[5], ca[5], cb[5], cb[5])
    lp = 1.0 - hp
    i1 = load4(s, s0, s1)
    i2 = load4(s, s0 + 2, s1 + 2)
    for j in range(n):
        x = vec(buf[o0 + j], buf[o0 + SUB + j], buf[o1 + j], buf[o1 + SUB + j])
        v3 = x - i2
        v1 = a1 * i1 + a2 * v3
        v2 = i2 + a2 * i1 + a3 * v3
        i1 = 2.0 * v1 - i1
        i2 = 2.0 * v2 - i2
        y = lp * v2 + hp * (x - k * v1 - v2)
        y = x + wet * (y - x)
        buf[o0 + j] = lane(y, 0)
        buf[o0 + SUB + j] = lane(y, 1)
        buf[o1 + j] = lane(y, 2)
        buf[o1 + SUB + j] = lane(y, 3)
    store4(s, s0, s1, i1)
    store4(s, s0 + 2, s1 + 2, i2)
    for b, c in ((s0, ca), (s1, cb)):
        if c[4] == 0.0:
            for j in range(4):
                s[b + j] = 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def flush_state(s, base, n):  # type: ignore[no-untyped-def]
    for i in range(base, base + n):
        v = s[i]
        if abs(v) < TINY or v != v:
            s[i] = 0.0


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def _at(buf, frames, j, ch):  # type: ignore[no-untyped-def]
    if j < 0 or j >= frames:
        return 0.0
    return buf[2 * j + ch]


@njit(cache=True, inline="always", fastmath=FMA, error_model="numpy")
def cubic(buf, frames, p):  # type: ignore[no-untyped-def]
    """4-point cubic (Catmull-Rom) read of interleaved stereo float32 at fractional frame p, both
    channels with one index and one set of weights (silence outside the track)."""
    if p != p or p <= -1.0 or p >= frames:
        return 0.0, 0.0
    i = math.floor(p)
    f = p - i
    j = int(i)
    if 1 <= j < frames - 2:
        b = U(2 * (j - 1))
        lm1, rm1, l0, r0 = F(buf[b]), F(buf[b + U(1)]), F(buf[b + U(2)]), F(buf[b + U(3)])
        l1, r1, l2, r2 = F(buf[b + U(4)]), F(buf[b + U(5)]), F(buf[b + U(6)]), F(buf[b + U(7)])
    else:  # the first and last few frames: the track is silent beyond its ends
        lm1, rm1 = _at(buf, frames, j - 1, 0), _at(buf, frames, j - 1, 1)
        l0, r0 = _at(buf, frames, j, 0), _at(buf, frames, j, 1)
        l1, r1 = _at(buf, frames, j + 1, 0), _at(buf, frames, j + 1, 1)
        l2, r2 = _at(buf, frames, j + 2, 0), _at(buf, frames, j + 2, 1)
    # the cubic's weights on the four points, shared by both channels
    f2 = f * f
    f3 = f2 * f
    wm1 = -0.5 * f3 + f2 - 0.5 * f
    w0 = 1.5 * f3 - 2.5 * f2 + 1.0
    w1 = -1.5 * f3 + 2.0 * f2 + 0.5 * f
    w2 = 0.5 * f3 - 0.5 * f2
    return (wm1 * lm1 + w0 * l0 + w1 * l1 + w2 * l2), (wm1 * rm1 + w0 * r0 + w1 * r1 + w2 * r2)


@njit(cache=True, fastmath=FMA, error_model="numpy")
def echo_block(echo, ms, inl, inr, offin, outl, outr, offout, n, spb, beats, feedback):  # type: ignore[no-untyped-def]
    """Beat-synced ping-pong echo; the delay glides when the tempo moves (no zipper)."""
    target = min(max(beats * spb, 16.0), ECHO_FRAMES - 4.0)
    d = ms[MS_ECHO_D]
    if d < 0:
        d = target
    w = int(ms[MS_ECHO_W])
    lpl = ms[MS_ECHO_LP_L]
    lpr = ms[MS_ECHO_LP_R]
    mask = ECHO_FRAMES - 1
    if abs(target - d) < 1e-6:  # arrived (a millionth of a sample): the glide would creep for ever
        d = target
    steady = d == target
    back = math.floor(-d)  # steady: the read head sits a fixed distance behind the write head
    frac = -d - back
    for k in range(n):
        if steady:
            fr = frac
            i0 = (w + int(back)) & mask
        else:
            d += (target - d) * 0.0005
            rp = w - d
            fl = math.floor(rp)
            fr = rp - fl
            i0 = int(fl) & mask
        i1 = (i0 + 1) & mask
        yl = F(echo[U(i0)]) + fr * (F(echo[U(i1)]) - F(echo[U(i0)]))
        yr = F(echo[U(ECHO_FRAMES + i0)]) + fr * (F(echo[U(ECHO_FRAMES + i1)]) - F(echo[U(ECHO_FRAMES + i0)]))
        lpl += 0.4 * (yr - lpl)  # darker each repeat; cross-fed: ping-pong
        lpr += 0.4 * (yl - lpr)
        a = inl[offin + k] + feedback * lpl
        b = inr[offin + k] + feedback * lpr
        echo[U(w)] = a if abs(a) >= 1e-20 else 0.0  # NaN too
        echo[U(ECHO_FRAMES + w)] = b if abs(b) >= 1e-20 else 0.0
        w = (w + 1) & mask
        outl[offout + k] += yl
        outr[offout + k] += yr
    if abs(lpl) < TINY or lpl != lpl:
        lpl = 0.0
    if abs(lpr) < TINY or lpr != lpr:
        lpr = 0.0
    ms[MS_ECHO_W] = w
    ms[MS_ECHO_D] = d
    ms[MS_ECHO_LP_L] = lpl
    ms[MS_ECHO_LP_R] = lpr


@njit(cache=True, fastmath=FMA, error_model="numpy")
def reverb_block(rev, lens, ms, inl, inr, offin, outl, outr, offout, n, feedback, damp, gain):  # type: ignore[no-untyped-def]
    """A small Freeverb-style room: 4 damped combs in parallel, then 2 all-passes, per channel.

    Sample by sample with every line of a channel in one loop: the four combs' damping recursions
    are independent, so the CPU overlaps them (line by line, each waited on its own recursion).
    Line values that are NaN or below 1e-20 are stored as zero (no subnormals in the float32 lines).
    Line reads widen to float64 first (F), and indices are unsigned (U): numba adds a negative-index
    wrap-around to every signed index, which cost this loop a quarter of its time.
    """
    keep = 1.0 - damp
    off = 0
    for ch in range(2):
        src = inl if ch == 0 else inr
        dst = outl if ch == 0 else outr
        li = ch * REV_LINES
        n0, n1, n2, n3, n4, n5 = lens[li], lens[li + 1], lens[li + 2], lens[li + 3], lens[li + 4], lens[li + 5]
        o0 = off
        o1 = o0 + n0
        o2 = o1 + n1
        o3 = o2 + n2
        o4 = o3 + n3
        o5 = o4 + n4
        off = o5 + n5
        p0, p1, p2 = int(ms[MS_REV + li]), int(ms[MS_REV + li + 1]), int(ms[MS_REV + li + 2])
        p3, p4, p5 = int(ms[MS_REV + li + 3]), int(ms[MS_REV + li + 4]), int(ms[MS_REV + li + 5])
        sb = MS_REV_STATE + ch * 4
        s0, s1, s2, s3 = ms[sb], ms[sb + 1], ms[sb + 2], ms[sb + 3]
        for k in range(n):
            x = src[offin + k] * 0.03
            y0 = F(rev[U(o0 + p0)])
            y1 = F(rev[U(o1 + p1)])
            y2 = F(rev[U(o2 + p2)])
            y3 = F(rev[U(o3 + p3)])
            s0 = y0 * keep + s0 * damp
            s1 = y1 * keep + s1 * damp
            s2 = y2 * keep + s2 * damp
            s3 = y3 * keep + s3 * damp
            v0 = x + s0 * feedback
            v1 = x + s1 * feedback
            v2 = x + s2 * feedback
            v3 = x + s3 * feedback
            rev[U(o0 + p0)] = v0 if abs(v0) >= 1e-20 else 0.0
            rev[U(o1 + p1)] = v1 if abs(v1) >= 1e-20 else 0.0
            rev[U(o2 + p2)] = v2 if abs(v2) >= 1e-20 else 0.0
            rev[U(o3 + p3)] = v3 if abs(v3) >= 1e-20 else 0.0
            p0 = p0 + 1 if p0 + 1 < n0 else 0
            p1 = p1 + 1 if p1 + 1 < n1 else 0
            p2 = p2 + 1 if p2 + 1 < n2 else 0
            p3 = p3 + 1 if p3 + 1 < n3 else 0
            a = (y0 + y1) + (y2 + y3)
            y = F(rev[U(o4 + p4)])  # all-pass 1
            v = a + y * 0.5
            rev[U(o4 + p4)] = v if abs(v) >= 1e-20 else 0.0
            a = y - a
            p4 = p4 + 1 if p4 + 1 < n4 else 0
            y = F(rev[U(o5 + p5)])  # all-pass 2
            v = a + y * 0.5
            rev[U(o5 + p5)] = v if abs(v) >= 1e-20 else 0.0
            a = y - a
            p5 = p5 + 1 if p5 + 1 < n5 else 0
            dst[offout + k] += gain * a
        ms[MS_REV + li], ms[MS_REV + li + 1], ms[MS_REV + li + 2] = p0, p1, p2
        ms[MS_REV + li + 3], ms[MS_REV + li + 4], ms[MS_REV + li + 5] = p3, p4, p5
        ms[sb] = s0 if (abs(s0) > TINY and s0 == s0) else 0.0
        ms[sb + 1] = s1 if (abs(s1) > TINY and s1 == s1) else 0.0
        ms[sb + 2] = s2 if (abs(s2) > TINY and s2 == s2) else 0.0
        ms[sb + 3] = s3 if (abs(s3) > TINY and s3 == s3) else 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def lowpass_block(buf, offl, offr, n, ms, settings):  # type: ignore[no-untyped-def]
    """A fixed 2-pole low-pass at 20 kHz ahead of the limiter: content the true-peak detector sees
    least well (close to Nyquist) is also content nobody hears."""
    b0 = settings[F_LP_B0]
    b1 = 2.0 * b0
    a1 = settings[F_LP_A1]
    a2 = settings[F_LP_A2]
    zl1, zl2 = ms[MS_LP], ms[MS_LP + 1]
    zr1, zr2 = ms[MS_LP + 2], ms[MS_LP + 3]
    for k in range(n):  # both channels in one loop: the CPU overlaps the two recursions
        yl, zl1, zl2 = bq(buf[offl + k], b0, b1, b0, a1, a2, zl1, zl2)
        yr, zr1, zr2 = bq(buf[offr + k], b0, b1, b0, a1, a2, zr1, zr2)
        buf[offl + k] = yl
        buf[offr + k] = yr
    ms[MS_LP] = zl1 if abs(zl1) > TINY and zl1 == zl1 else 0.0
    ms[MS_LP + 1] = zl2 if abs(zl2) > TINY and zl2 == zl2 else 0.0
    ms[MS_LP + 2] = zr1 if abs(zr1) > TINY and zr1 == zr1 else 0.0
    ms[MS_LP + 3] = zr2 if abs(zr2) > TINY and zr2 == zr2 else 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def true_peaks(ml, mr, off, n, line, fir, ceiling, tp_gain):  # type: ignore[no-untyped-def]
    """Per sample, the largest |value| of the 4x-interpolated stereo signal around it (`line[PK + k]`).

    `line` holds, per channel, the last TP_TAPS − 1 inputs then this run (so every interpolation
    window is one contiguous run), then the peaks row. Sample k's window is line[k : k + TP_TAPS];
    its peak is the window's centre sample or one of the three interpolated points after it.
    Four neighbouring samples are interpolated at once (one vector lane each), every point's sum
    in tap order, as a scalar loop would: the same numbers.
    It is skipped when no interpolated point can reach the ceiling: |point| ≤ Σ|taps| × the
    loudest sample in its window (`tp_gain` = the largest Σ|taps| of the three phases). Returns 1
    if the interpolation ran.
    """
    keep = TP_TAPS - 1
    loudest = 0.0
    for k in range(keep):
        loudest = max(loudest, abs(line[k]), abs(line[LINE + k]))
    for k in range(n):
        xl = ml[off + k]
        xr = mr[off + k]
        if xl != xl or abs(xl) > 1e6:
            xl = 0.0
        if xr != xr or abs(xr) > 1e6:
            xr = 0.0
        line[keep + k] = xl
        line[LINE + keep + k] = xr
        loudest = max(loudest, abs(xl), abs(xr))
    centre = TP_TAPS // 2 - 1
    ran = 0 if loudest * tp_gain <= ceiling else 1
    for k in range(0, n, 4):  # four samples at a time (a run may end up to 3 samples past n: room kept)
        pk = vmax(vabs(vload(line, centre + k)), vabs(vload(line, LINE + centre + k)))
        if ran:
            for ph in range(3):
                for src in (0, LINE):
                    acc = splat(0.0)
                    for j in range(TP_TAPS):
                        acc = acc + splat(fir[ph * TP_TAPS + j]) * vload(line, src + j + k)
                    pk = vmax(pk, vabs(acc))
        vstore(line, PK + k, pk)
    for k in range(keep):  # the history for the next run
        line[k] = line[n + k]
        line[LINE + k] = line[LINE + n + k]
    return ran


@njit(cache=True, fastmath=FMA, error_model="numpy")
def limiter_block(ml, mr, off, n, out, out_off, ms, delay, line, q, box, fir, ceiling, release, tp_gain):  # type: ignore[no-untyped-def]
    """Look-ahead limiter holding a true-peak ceiling.

    Peaks are found on a 4x interpolation of the input (so inter-sample overs count), the gain each
    one needs is held over the look-ahead window (sliding minimum), released smoothly, then averaged
    over the window: by the time a peak leaves the delay line the gain has reached what it needs,
    and never more steeply than a window-long ramp. Returns 1 if the 4x interpolation ran.

    At rest (gain 1 for a whole window, every gain in the hold window 1, no peak over the ceiling in
    this run) the limiter is a delay line, and runs as one (`calm` counts the samples at rest).
    """
    ran = true_peaks(ml, mr, off, n, line, fir, ceiling, tp_gain)
    pos = int(ms[MS_LIM_POS])
    qh = int(ms[MS_LIM_QHEAD])
    qt = int(ms[MS_LIM_QTAIL])
    nabs = ms[MS_LIM_N]
    r = ms[MS_LIM_REL]
    total = ms[MS_LIM_SUM]
    gr = ms[MS_GR]
    peak = ms[MS_PEAK]
    calm = ms[MS_LIM_CALM]
    keep = TP_TAPS - 1
    over = 0.0
    for k in range(n):
        over = max(over, line[PK + k])
    if calm >= LOOKAHEAD and over <= ceiling:
        for k in range(n):
            delay[U(pos)] = line[keep + k]
            delay[U(LIM_LINE + pos)] = line[LINE + keep + k]
            rd = (pos - LIM_DELAY) & LIM_MASK
            yl = min(ceiling, max(-ceiling, delay[U(rd)]))
            yr = min(ceiling, max(-ceiling, delay[U(LIM_LINE + rd)]))
            pos = (pos + 1) & LIM_MASK
            out[out_off + 2 * k] = yl
            out[out_off + 2 * k + 1] = yr
            peak = max(peak, abs(yl), abs(yr))
        # what the sample-by-sample path leaves after a run of unit gains: one deque entry, a box of
        # ones (summing exactly to the window)
        qh = qt
        q[2 * (qt & LIM_MASK)] = 1.0
        q[2 * (qt & LIM_MASK) + 1] = nabs + n - 1
        qt += 1
        ms[MS_LIM_POS] = pos
        ms[MS_LIM_QHEAD] = qh
        ms[MS_LIM_QTAIL] = qt
        ms[MS_LIM_N] = nabs + n
        ms[MS_LIM_REL] = 1.0
        ms[MS_LIM_SUM] = float(LOOKAHEAD)
        ms[MS_GR] = min(gr, 1.0)
        ms[MS_PEAK] = peak
        ms[MS_LIM_CALM] = min(calm + n, 1e9)
        return ran
    for k in range(n):
        xl = line[keep + k]
        xr = line[LINE + keep + k]
        pk = line[PK + k]
        g = 1.0 if pk <= ceiling else ceiling / pk
        # sliding minimum over the hold window (monotonic deque)
        while qt > qh and q[2 * ((qt - 1) & LIM_MASK)] >= g:
            qt -= 1
        q[2 * (qt & LIM_MASK)] = g
        q[2 * (qt & LIM_MASK) + 1] = nabs
        qt += 1
        while q[2 * (qh & LIM_MASK) + 1] <= nabs - LIM_HOLD:
            qh += 1
        held = q[2 * (qh & LIM_MASK)]
        r = min(held, r + (1.0 - r) * (1.0 - release))
        if r > 1.0 - 1e-9:  # the release would creep toward 1 for ever (−1e-8 dB away): arrive
            r = 1.0
        calm = calm + 1.0 if r == 1.0 else 0.0
        bi = int(nabs) % LOOKAHEAD
        total += r - box[bi]
        box[bi] = r
        gain = min(1.0, total / LOOKAHEAD)
        nabs += 1.0
        # the delayed audio meets the gain its peaks asked for
        delay[U(pos)] = xl
        delay[U(LIM_LINE + pos)] = xr
        rd = (pos - LIM_DELAY) & LIM_MASK
        yl = delay[U(rd)] * gain
        yr = delay[U(LIM_LINE + rd)] * gain
        pos = (pos + 1) & LIM_MASK
        yl = min(ceiling, max(-ceiling, yl))
        yr = min(ceiling, max(-ceiling, yr))
        out[out_off + 2 * k] = yl
        out[out_off + 2 * k + 1] = yr
        gr = min(gr, gain)
        peak = max(peak, abs(yl), abs(yr))
    if qh > 1 << 40:  # keep the counters small over a very long set
        qt -= qh - (qh & LIM_MASK)
        qh = qh & LIM_MASK
    ms[MS_LIM_POS] = pos
    ms[MS_LIM_QHEAD] = qh
    ms[MS_LIM_QTAIL] = qt
    ms[MS_LIM_N] = nabs
    ms[MS_LIM_REL] = r
    ms[MS_LIM_SUM] = min(float(LOOKAHEAD), max(0.0, total))
    ms[MS_GR] = gr
    ms[MS_PEAK] = peak
    ms[MS_LIM_CALM] = min(calm, 1e9)
    return ran


@njit(cache=True, inline="always", error_model="numpy")
def kept(z):  # type: ignore[no-untyped-def]
    """A filter state worth keeping: NaN and subnormal-bound values become exactly 0."""
    return z if abs(z) >= TINY else 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def chain_filters(buf, offl, offr, n, ms, c, hpf, tlt):  # type: ignore[no-untyped-def]
    """The master chain's filters in place: a 2nd-order Butterworth high-pass (12 dB/octave: a 4th-order
    one delayed a kick's low end by 5 ms, measured) and a first-order tilt, both channels in one loop."""
    h0, h1, h2, h3, h4 = c[MC_HPF], c[MC_HPF + 1], c[MC_HPF + 2], c[MC_HPF + 3], c[MC_HPF + 4]
    t0, t1, t3 = c[MC_TILT], c[MC_TILT + 1], c[MC_TILT + 3]
    a1, a2, b1, b2 = ms[MS_HPF], ms[MS_HPF + 1], ms[MS_HPF + 2], ms[MS_HPF + 3]
    tl, tr = ms[MS_TILT], ms[MS_TILT + 1]
    for k in range(n):
        xl = buf[offl + k]
        xr = buf[offr + k]
        if hpf:
            xl, a1, a2 = bq(xl, h0, h1, h2, h3, h4, a1, a2)
            xr, b1, b2 = bq(xr, h0, h1, h2, h3, h4, b1, b2)
        if tlt:
            yl = t0 * xl + tl
            tl = t1 * xl - t3 * yl
            yr = t0 * xr + tr
            tr = t1 * xr - t3 * yr
            xl = yl
            xr = yr
        buf[offl + k] = xl
        buf[offr + k] = xr
    ms[MS_HPF], ms[MS_HPF + 1], ms[MS_HPF + 2], ms[MS_HPF + 3] = kept(a1), kept(a2), kept(b1), kept(b2)
    ms[MS_TILT], ms[MS_TILT + 1] = kept(tl), kept(tr)


@njit(cache=True, fastmath=FMA, error_model="numpy")
def compressor_block(buf, offl, offr, n, ms, settings):  # type: ignore[no-untyped-def]
    """A slow stereo-linked bus compressor with a soft knee, in place; returns its gain reduction (dB).

    The detector is an RMS average (one pole, `F_COMP_RMS`) of both channels, updated once per run;
    the gain computer is the standard soft knee (Giannoulis, Massberg & Reiss 2012) and the reduction
    follows it with attack/release smoothing. A compressor this slow changes little within a run, so
    the transcendental maths happens once per run and the gain ramps linearly across it.
    """
    acc = 0.0
    for k in range(n):
        acc += buf[offl + k] * buf[offl + k] + buf[offr + k] * buf[offr + k]
    msq = acc / (2.0 * n) if n > 0 else 0.0
    env = ms[MS_COMP_ENV]
    if env != env or msq != msq or msq > 1e12:
        env = 0.0
        msq = 0.0
    env = msq + (env - msq) * math.pow(settings[F_COMP_RMS], n)
    level = 10.0 * math.log10(env + 1e-20)
    over = level - settings[F_COMP_THRESHOLD]
    knee = settings[F_COMP_KNEE]
    slope = settings[F_COMP_SLOPE]
    if 2.0 * over <= -knee:
        target = 0.0
    elif 2.0 * over >= knee:
        target = -slope * over
    else:
        d = over + 0.5 * knee
        target = -slope * d * d / (2.0 * knee)
    gr = ms[MS_COMP_GR]
    if gr != gr:
        gr = 0.0
    coef = settings[F_COMP_ATTACK] if target < gr else settings[F_COMP_RELEASE]
    gr = target + (gr - target) * math.pow(coef, n)
    g1 = math.pow(10.0, (gr + settings[F_COMP_MAKEUP]) / 20.0)
    g0 = ms[MS_COMP_GAIN]
    gi = (g1 - g0) / n if n > 0 else 0.0
    for k in range(n):
        g = g0 + gi * (k + 1)
        buf[offl + k] *= g
        buf[offr + k] *= g
    ms[MS_COMP_ENV] = env
    ms[MS_COMP_GR] = gr
    ms[MS_COMP_GAIN] = g1
    return gr


@njit(cache=True, fastmath=FMA, error_model="numpy")
def loudness_meter(out, frames, ms, c, blocks, settings, meters):  # type: ignore[no-untyped-def]
    """EBU R128 momentary and short-term loudness of what leaves the engine (interleaved stereo).

    K-weighted (two sections per channel), squared and summed over 100 ms blocks; the short-term value
    is the mean over the last 30 blocks (3 s), the momentary over the last 4 (400 ms), channel weights 1
    (BS.1770). Until 3 s have played, the short-term value covers what there is.
    """
    s0, s1, s2, s3, s4 = c[MC_KW], c[MC_KW + 1], c[MC_KW + 2], c[MC_KW + 3], c[MC_KW + 4]
    p0, p1, p2, p3, p4 = c[MC_KW + 5], c[MC_KW + 6], c[MC_KW + 7], c[MC_KW + 8], c[MC_KW + 9]
    a1, a2, a3, a4 = ms[MS_KW], ms[MS_KW + 1], ms[MS_KW + 2], ms[MS_KW + 3]
    b1, b2, b3, b4 = ms[MS_KW + 4], ms[MS_KW + 5], ms[MS_KW + 6], ms[MS_KW + 7]
    acc = ms[MS_LU_ACC]
    got = ms[MS_LU_N]
    count = ms[MS_LU_COUNT]
    block = settings[F_LU_BLOCK]
    for k in range(frames):
        yl, a1, a2 = bq(F(out[2 * k]), s0, s1, s2, s3, s4, a1, a2)
        yr, b1, b2 = bq(F(out[2 * k + 1]), s0, s1, s2, s3, s4, b1, b2)
        yl, a3, a4 = bq(yl, p0, p1, p2, p3, p4, a3, a4)
        yr, b3, b4 = bq(yr, p0, p1, p2, p3, p4, b3, b4)
        acc += yl * yl + yr * yr
        got += 1.0
        if got >= block:
            blocks[int(count) % LU_BLOCKS] = acc / block
            count += 1.0
            acc = 0.0
            got = 0.0
            filled = min(count, float(LU_BLOCKS))
            short = 0.0
            for j in range(int(filled)):
                short += blocks[j]
            mom = 0.0
            for j in range(LU_MOMENTARY):
                mom += blocks[int(count - 1 - j) % LU_BLOCKS]
            meters[MT_SHORT_TERM] = -0.691 + 10.0 * math.log10(short / filled + 1e-30)
            meters[MT_MOMENTARY] = -0.691 + 10.0 * math.log10(mom / LU_MOMENTARY + 1e-30)
    ms[MS_KW], ms[MS_KW + 1], ms[MS_KW + 2], ms[MS_KW + 3] = kept(a1), kept(a2), kept(a3), kept(a4)
    ms[MS_KW + 4], ms[MS_KW + 5], ms[MS_KW + 6], ms[MS_KW + 7] = kept(b1), kept(b2), kept(b3), kept(b4)
    ms[MS_LU_ACC] = acc if acc == acc else 0.0
    ms[MS_LU_N] = got
    ms[MS_LU_COUNT] = count
