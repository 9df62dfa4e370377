"""DSP building blocks for the kernel: numba, float64 state, no allocation, never raising.

Each function works on a short run of samples (a sub-block, at most `layout.SUB`) held in scratch
arrays, so parameters are re-read often enough for clean ramps and rarely enough to stay cheap.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .layout import (
    ALLPASSES,
    COMBS,
    ECHO_FRAMES,
    F_LP_A1,
    F_LP_A2,
    F_LP_B0,
    LOOKAHEAD,
    MS_ECHO_D,
    MS_ECHO_LP_L,
    MS_ECHO_LP_R,
    MS_ECHO_W,
    MS_GR,
    MS_LIM_N,
    MS_LIM_POS,
    MS_LIM_QHEAD,
    MS_LIM_QTAIL,
    MS_LIM_REL,
    MS_LIM_SUM,
    MS_LP,
    MS_PEAK,
    MS_REV,
    MS_TP_POS,
    S_SVF,
    TP_TAPS,
)

# Fused multiply-add only: it shortens the biquad recursions; no other fast-math (NaN checks stay).
FMA = {"contract"}
TINY = 1e-30  # below this a filter state is flushed to zero: subnormals cost 8-10 % (engine.md)
N_REV = len(COMBS) + len(ALLPASSES)
LIM_DELAY = LOOKAHEAD - 1 + TP_TAPS // 2
LIM_HOLD = LOOKAHEAD + 1
HR = 32  # true-peak history ring (stored twice so the taps are always one contiguous run)


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
    return y, b1 * x - a1 * y + z2, b2 * x - a2 * y


@njit(cache=True, fastmath=FMA, error_model="numpy")
def eq_stereo(bl, br, offl, offr, n, c, s, base, gl0, gli, gm0, gmi, gh0, ghi):  # type: ignore[no-untyped-def]
    """The LR8 three-band EQ on both channels of a deck in one pass (14 biquads each).

    Bands by subtraction (see design.py): xa = AP_lo(x), low = LR8_lo(x), rest = xa - low,
    high = LR8_hi(rest), y = AP_hi(xa), la = AP_hi(low), mid = y - la - high. Sections in `c`:
    l/m LP low split, h/k HP high split, p/q AP low split, r/t AP high split. Coefficients and
    states live in locals for the run (numba cannot prove the arrays do not alias, and would reload
    them every sample); the two channels interleave, so the CPU overlaps their recursions.
    """
    l0, l1, l2, l3, l4 = c[0], c[1], c[2], c[3], c[4]
    m0, m1, m2, m3, m4 = c[5], c[6], c[7], c[8], c[9]
    h0, h1, h2, h3, h4 = c[10], c[11], c[12], c[13], c[14]
    k0, k1, k2, k3, k4 = c[15], c[16], c[17], c[18], c[19]
    p0, p1, p2, p3, p4 = c[20], c[21], c[22], c[23], c[24]
    q0, q1, q2, q3, q4 = c[25], c[26], c[27], c[28], c[29]
    r0, r1, r2, r3, r4 = c[30], c[31], c[32], c[33], c[34]
    t0, t1, t2, t3, t4 = c[35], c[36], c[37], c[38], c[39]
    zL0a, zL0b = s[base + 0], s[base + 1]
    zL1a, zL1b = s[base + 2], s[base + 3]
    zL2a, zL2b = s[base + 4], s[base + 5]
    zL3a, zL3b = s[base + 6], s[base + 7]
    zL4a, zL4b = s[base + 8], s[base + 9]
    zL5a, zL5b = s[base + 10], s[base + 11]
    zL6a, zL6b = s[base + 12], s[base + 13]
    zL7a, zL7b = s[base + 14], s[base + 15]
    zL8a, zL8b = s[base + 16], s[base + 17]
    zL9a, zL9b = s[base + 18], s[base + 19]
    zL10a, zL10b = s[base + 20], s[base + 21]
    zL11a, zL11b = s[base + 22], s[base + 23]
    zL12a, zL12b = s[base + 24], s[base + 25]
    zL13a, zL13b = s[base + 26], s[base + 27]
    zR0a, zR0b = s[base + 28], s[base + 29]
    zR1a, zR1b = s[base + 30], s[base + 31]
    zR2a, zR2b = s[base + 32], s[base + 33]
    zR3a, zR3b = s[base + 34], s[base + 35]
    zR4a, zR4b = s[base + 36], s[base + 37]
    zR5a, zR5b = s[base + 38], s[base + 39]
    zR6a, zR6b = s[base + 40], s[base + 41]
    zR7a, zR7b = s[base + 42], s[base + 43]
    zR8a, zR8b = s[base + 44], s[base + 45]
    zR9a, zR9b = s[base + 46], s[base + 47]
    zR10a, zR10b = s[base + 48], s[base + 49]
    zR11a, zR11b = s[base + 50], s[base + 51]
    zR12a, zR12b = s[base + 52], s[base + 53]
    zR13a, zR13b = s[base + 54], s[base + 55]
    for k in range(n):
        gl = gl0 + k * gli
        gm = gm0 + k * gmi
        gh = gh0 + k * ghi
        xL = bl[offl + k]
        xR = br[offr + k]
        xaL, zL0a, zL0b = bq(xL, p0, p1, p2, p3, p4, zL0a, zL0b)
        xaR, zR0a, zR0b = bq(xR, p0, p1, p2, p3, p4, zR0a, zR0b)
        xaL, zL1a, zL1b = bq(xaL, q0, q1, q2, q3, q4, zL1a, zL1b)
        xaR, zR1a, zR1b = bq(xaR, q0, q1, q2, q3, q4, zR1a, zR1b)
        lowL, zL2a, zL2b = bq(xL, l0, l1, l2, l3, l4, zL2a, zL2b)
        lowR, zR2a, zR2b = bq(xR, l0, l1, l2, l3, l4, zR2a, zR2b)
        lowL, zL3a, zL3b = bq(lowL, m0, m1, m2, m3, m4, zL3a, zL3b)
        lowR, zR3a, zR3b = bq(lowR, m0, m1, m2, m3, m4, zR3a, zR3b)
        lowL, zL4a, zL4b = bq(lowL, l0, l1, l2, l3, l4, zL4a, zL4b)
        lowR, zR4a, zR4b = bq(lowR, l0, l1, l2, l3, l4, zR4a, zR4b)
        lowL, zL5a, zL5b = bq(lowL, m0, m1, m2, m3, m4, zL5a, zL5b)
        lowR, zR5a, zR5b = bq(lowR, m0, m1, m2, m3, m4, zR5a, zR5b)
        highL, zL6a, zL6b = bq((xaL - lowL), h0, h1, h2, h3, h4, zL6a, zL6b)
        highR, zR6a, zR6b = bq((xaR - lowR), h0, h1, h2, h3, h4, zR6a, zR6b)
        highL, zL7a, zL7b = bq(highL, k0, k1, k2, k3, k4, zL7a, zL7b)
        highR, zR7a, zR7b = bq(highR, k0, k1, k2, k3, k4, zR7a, zR7b)
        highL, zL8a, zL8b = bq(highL, h0, h1, h2, h3, h4, zL8a, zL8b)
        highR, zR8a, zR8b = bq(highR, h0, h1, h2, h3, h4, zR8a, zR8b)
        highL, zL9a, zL9b = bq(highL, k0, k1, k2, k3, k4, zL9a, zL9b)
        highR, zR9a, zR9b = bq(highR, k0, k1, k2, k3, k4, zR9a, zR9b)
        yL, zL10a, zL10b = bq(xaL, r0, r1, r2, r3, r4, zL10a, zL10b)
        yR, zR10a, zR10b = bq(xaR, r0, r1, r2, r3, r4, zR10a, zR10b)
        yL, zL11a, zL11b = bq(yL, t0, t1, t2, t3, t4, zL11a, zL11b)
        yR, zR11a, zR11b = bq(yR, t0, t1, t2, t3, t4, zR11a, zR11b)
        laL, zL12a, zL12b = bq(lowL, r0, r1, r2, r3, r4, zL12a, zL12b)
        laR, zR12a, zR12b = bq(lowR, r0, r1, r2, r3, r4, zR12a, zR12b)
        laL, zL13a, zL13b = bq(laL, t0, t1, t2, t3, t4, zL13a, zL13b)
        laR, zR13a, zR13b = bq(laR, t0, t1, t2, t3, t4, zR13a, zR13b)
        bl[offl + k] = gl * laL + gm * (yL - laL - highL) + gh * highL
        br[offr + k] = gl * laR + gm * (yR - laR - highR) + gh * highR
    s[base + 0], s[base + 1] = zL0a, zL0b
    s[base + 2], s[base + 3] = zL1a, zL1b
    s[base + 4], s[base + 5] = zL2a, zL2b
    s[base + 6], s[base + 7] = zL3a, zL3b
    s[base + 8], s[base + 9] = zL4a, zL4b
    s[base + 10], s[base + 11] = zL5a, zL5b
    s[base + 12], s[base + 13] = zL6a, zL6b
    s[base + 14], s[base + 15] = zL7a, zL7b
    s[base + 16], s[base + 17] = zL8a, zL8b
    s[base + 18], s[base + 19] = zL9a, zL9b
    s[base + 20], s[base + 21] = zL10a, zL10b
    s[base + 22], s[base + 23] = zL11a, zL11b
    s[base + 24], s[base + 25] = zL12a, zL12b
    s[base + 26], s[base + 27] = zL13a, zL13b
    s[base + 28], s[base + 29] = zR0a, zR0b
    s[base + 30], s[base + 31] = zR1a, zR1b
    s[base + 32], s[base + 33] = zR2a, zR2b
    s[base + 34], s[base + 35] = zR3a, zR3b
    s[base + 36], s[base + 37] = zR4a, zR4b
    s[base + 38], s[base + 39] = zR5a, zR5b
    s[base + 40], s[base + 41] = zR6a, zR6b
    s[base + 42], s[base + 43] = zR7a, zR7b
    s[base + 44], s[base + 45] = zR8a, zR8b
    s[base + 46], s[base + 47] = zR9a, zR9b
    s[base + 48], s[base + 49] = zR10a, zR10b
    s[base + 50], s[base + 51] = zR11a, zR11b
    s[base + 52], s[base + 53] = zR12a, zR12b
    s[base + 54], s[base + 55] = zR13a, zR13b


@njit(cache=True, fastmath=FMA, error_model="numpy")
def filter_block(bl, br, offl, offr, n, s, base, v, sr):  # type: ignore[no-untyped-def]
    """The one-knob filter: 0.5 open, below a low-pass closing to 40 Hz, above a high-pass up to 8 kHz.

    Near the centre the filtered signal is cross-faded with the dry one, so turning the knob through
    0.5 never clicks. Coefficients are computed once per sub-block (cheap, and stable for a TPT SVF).
    """
    d = v - 0.5
    if d != d:
        d = 0.0
    mag = abs(d) * 2.0
    if mag < 1e-4:
        s[base + S_SVF] = 0.0
        s[base + S_SVF + 1] = 0.0
        s[base + S_SVF + 2] = 0.0
        s[base + S_SVF + 3] = 0.0
        return
    wet = min(1.0, mag / 0.1)
    fc = 20000.0 * math.pow(40.0 / 20000.0, mag) if d < 0 else 20.0 * math.pow(8000.0 / 20.0, mag)
    fc = min(fc, 0.45 * sr)
    g = math.tan(math.pi * fc / sr)
    k = 1.0 / (0.7071 + 0.6 * mag)  # flat near the centre, a resonant edge as it closes
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    a3 = g * a2
    for ch in range(2):
        buf = bl if ch == 0 else br
        off = offl if ch == 0 else offr
        i1 = s[base + S_SVF + 2 * ch]
        i2 = s[base + S_SVF + 2 * ch + 1]
        for j in range(n):
            x = buf[off + j]
            v3 = x - i2
            v1 = a1 * i1 + a2 * v3
            v2 = i2 + a2 * i1 + a3 * v3
            i1 = 2.0 * v1 - i1
            i2 = 2.0 * v2 - i2
            y = v2 if d < 0 else x - k * v1 - v2
            buf[off + j] = x + wet * (y - x)
        if abs(i1) < TINY:
            i1 = 0.0
        if abs(i2) < TINY:
            i2 = 0.0
        s[base + S_SVF + 2 * ch] = i1
        s[base + S_SVF + 2 * ch + 1] = i2


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
def hermite(buf, frames, p, ch):  # type: ignore[no-untyped-def]
    """4-point cubic read of interleaved stereo float32 at fractional frame p (silence outside)."""
    if p != p or p <= -1.0 or p >= frames:
        return 0.0
    i = math.floor(p)
    f = p - i
    j = int(i)
    if 1 <= j < frames - 2:
        xm1 = buf[2 * (j - 1) + ch]
        x0 = buf[2 * j + ch]
        x1 = buf[2 * (j + 1) + ch]
        x2 = buf[2 * (j + 2) + ch]
    else:  # the first and last few frames: the track is silent beyond its ends
        xm1 = _at(buf, frames, j - 1, ch)
        x0 = _at(buf, frames, j, ch)
        x1 = _at(buf, frames, j + 1, ch)
        x2 = _at(buf, frames, j + 2, ch)
    c1 = 0.5 * (x1 - xm1)
    c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2
    c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1)
    return ((c3 * f + c2) * f + c1) * f + x0


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
    for k in range(n):
        d += (target - d) * 0.0005
        rp = w - d
        fl = math.floor(rp)
        fr = rp - fl
        i0 = int(fl) & mask
        i1 = (i0 + 1) & mask
        yl = echo[i0] + fr * (echo[i1] - echo[i0])
        yr = echo[ECHO_FRAMES + i0] + fr * (echo[ECHO_FRAMES + i1] - echo[ECHO_FRAMES + i0])
        lpl += 0.4 * (yr - lpl)  # darker each repeat; cross-fed: ping-pong
        lpr += 0.4 * (yl - lpr)
        a = inl[offin + k] + feedback * lpl
        b = inr[offin + k] + feedback * lpr
        if abs(a) < 1e-20 or a != a:
            a = 0.0
        if abs(b) < 1e-20 or b != b:
            b = 0.0
        echo[w] = a
        echo[ECHO_FRAMES + w] = b
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
def reverb_block(rev, lens, ms, inl, inr, offin, outl, outr, offout, n, feedback, damp, gain, acc):  # type: ignore[no-untyped-def]
    """A small Freeverb-style room: 4 damped combs in parallel, then 2 all-passes, per channel.

    Line by line over the whole run (not sample by sample over all lines): each line's position
    and state stay in registers, and the combs run without waiting on each other. `acc` is a
    scratch row (the kernel never allocates).
    """
    for ch in range(2):
        src = inl if ch == 0 else inr
        dst = outl if ch == 0 else outr
        off = 0
        for i in range(ch * N_REV):
            off += lens[i]
        for k in range(n):
            acc[k] = 0.0
        for c in range(len(COMBS)):
            li = ch * N_REV + c
            length = lens[li]
            pos = int(ms[MS_REV + li])
            st = ms[MS_REV + 2 * N_REV + ch * 4 + c]
            for k in range(n):
                y = rev[off + pos]
                st = y * (1.0 - damp) + st * damp
                v = src[offin + k] * 0.03 + st * feedback
                if abs(v) < 1e-20 or v != v:
                    v = 0.0
                rev[off + pos] = v
                acc[k] += y
                pos += 1
                if pos >= length:
                    pos = 0
            ms[MS_REV + li] = pos
            ms[MS_REV + 2 * N_REV + ch * 4 + c] = st if (abs(st) > TINY and st == st) else 0.0
            off += length
        for ap in range(len(ALLPASSES)):
            li = ch * N_REV + len(COMBS) + ap
            length = lens[li]
            pos = int(ms[MS_REV + li])
            for k in range(n):
                y = rev[off + pos]
                x = acc[k]
                v = x + y * 0.5
                if abs(v) < 1e-20 or v != v:
                    v = 0.0
                rev[off + pos] = v
                acc[k] = y - x
                pos += 1
                if pos >= length:
                    pos = 0
            ms[MS_REV + li] = pos
            off += length
        for k in range(n):
            dst[offout + k] += gain * acc[k]


@njit(cache=True, fastmath=FMA, error_model="numpy")
def lowpass_block(buf, offl, offr, n, ms, settings):  # type: ignore[no-untyped-def]
    """A fixed 2-pole low-pass at 20 kHz ahead of the limiter: content the true-peak detector sees
    least well (close to Nyquist) is also content nobody hears."""
    b0 = settings[F_LP_B0]
    b1 = 2.0 * b0
    a1 = settings[F_LP_A1]
    a2 = settings[F_LP_A2]
    for ch in range(2):
        off = offl if ch == 0 else offr
        z1 = ms[MS_LP + 2 * ch]
        z2 = ms[MS_LP + 2 * ch + 1]
        for k in range(n):
            y, z1, z2 = bq(buf[off + k], b0, b1, b0, a1, a2, z1, z2)
            buf[off + k] = y
        ms[MS_LP + 2 * ch] = z1 if abs(z1) > TINY and z1 == z1 else 0.0
        ms[MS_LP + 2 * ch + 1] = z2 if abs(z2) > TINY and z2 == z2 else 0.0


@njit(cache=True, fastmath=FMA, error_model="numpy")
def limiter_block(ml, mr, off, n, out, out_off, ms, delay, hist, q, box, fir, ceiling, release, tp_gain):  # type: ignore[no-untyped-def]
    """Look-ahead limiter holding a true-peak ceiling.

    Peaks are found on a 4x interpolation of the input (so inter-sample overs count), the gain each
    one needs is held over the look-ahead window (sliding minimum), released smoothly, then averaged
    over the window: by the time a peak leaves the delay line the gain has reached what it needs,
    and never more steeply than a window-long ramp. Returns 1 if the 4x interpolation ran.
    """
    pos = int(ms[MS_LIM_POS])
    tp = int(ms[MS_TP_POS])
    qh = int(ms[MS_LIM_QHEAD])
    qt = int(ms[MS_LIM_QTAIL])
    nabs = ms[MS_LIM_N]
    r = ms[MS_LIM_REL]
    total = ms[MS_LIM_SUM]
    gr = ms[MS_GR]
    peak = ms[MS_PEAK]
    half = TP_TAPS // 2
    loudest = 0.0
    for k in range(n):
        loudest = max(loudest, abs(ml[off + k]), abs(mr[off + k]))
    for j in range(2 * HR):
        loudest = max(loudest, abs(hist[j]), abs(hist[2 * HR + j]))
    quiet = loudest * tp_gain <= ceiling  # no inter-sample peak can reach the ceiling in this run
    for k in range(n):
        xl = ml[off + k]
        xr = mr[off + k]
        if xl != xl or abs(xl) > 1e6:
            xl = 0.0
        if xr != xr or abs(xr) > 1e6:
            xr = 0.0
        # 4x true-peak estimate around the sample `half` steps back
        hist[tp] = xl
        hist[tp + HR] = xl
        hist[2 * HR + tp] = xr
        hist[2 * HR + tp + HR] = xr
        tp = (tp + 1) & (HR - 1)
        start = tp + HR - TP_TAPS
        pk = max(abs(hist[start + half - 1]), abs(hist[2 * HR + start + half - 1]))
        for ph in range(0 if quiet else 3):
            al = 0.0
            ar = 0.0
            for j in range(TP_TAPS):
                h = fir[ph * TP_TAPS + j]
                al += h * hist[start + j]
                ar += h * hist[2 * HR + start + j]
            pk = max(pk, abs(al), abs(ar))
        g = 1.0 if pk <= ceiling else ceiling / pk
        # sliding minimum over the hold window (monotonic deque)
        while qt > qh and q[2 * ((qt - 1) & 255)] >= g:
            qt -= 1
        q[2 * (qt & 255)] = g
        q[2 * (qt & 255) + 1] = nabs
        qt += 1
        while q[2 * (qh & 255) + 1] <= nabs - LIM_HOLD:
            qh += 1
        held = q[2 * (qh & 255)]
        r = min(held, r + (1.0 - r) * (1.0 - release))
        bi = int(nabs) % LOOKAHEAD
        total += r - box[bi]
        box[bi] = r
        gain = min(1.0, total / LOOKAHEAD)
        nabs += 1.0
        # the delayed audio meets the gain its peaks asked for
        delay[pos] = xl
        delay[256 + pos] = xr
        rd = (pos - LIM_DELAY) & 255
        yl = delay[rd] * gain
        yr = delay[256 + rd] * gain
        pos = (pos + 1) & 255
        yl = min(ceiling, max(-ceiling, yl))
        yr = min(ceiling, max(-ceiling, yr))
        out[out_off + 2 * k] = yl
        out[out_off + 2 * k + 1] = yr
        gr = min(gr, gain)
        peak = max(peak, abs(yl), abs(yr))
    if qh > 1 << 40:  # keep the counters small over a very long set
        qt -= qh - (qh & 255)
        qh = qh & 255
    ms[MS_LIM_POS] = pos
    ms[MS_TP_POS] = tp
    ms[MS_LIM_QHEAD] = qh
    ms[MS_LIM_QTAIL] = qt
    ms[MS_LIM_N] = nabs
    ms[MS_LIM_REL] = r
    ms[MS_LIM_SUM] = min(float(LOOKAHEAD), max(0.0, total))
    ms[MS_GR] = gr
    ms[MS_PEAK] = peak
    return 0 if quiet else 1


def reverb_lengths(sr: float) -> np.ndarray:
    """Per-line lengths (left then right, right a little longer for width)."""
    from .layout import STEREO_SPREAD

    scale = sr / 44100.0
    left = [max(8, round(x * scale)) for x in COMBS + ALLPASSES]
    right = [n + max(1, round(STEREO_SPREAD * scale)) for n in left]
    return np.array(left + right, np.int64)
