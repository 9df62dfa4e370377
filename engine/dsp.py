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

TINY = 1e-30  # below this a filter state is flushed to zero: subnormals cost 8-10 % (engine.md)
N_REV = len(COMBS) + len(ALLPASSES)
LIM_DELAY = LOOKAHEAD - 1 + TP_TAPS // 2
LIM_HOLD = LOOKAHEAD + 1
HR = 32  # true-peak history ring (stored twice so the taps are always one contiguous run)


@njit(cache=True, inline="always")
def biquad(x, c, ci, s, si):  # type: ignore[no-untyped-def]
    """Transposed direct form II; coefficients c[ci:ci+5] = b0 b1 b2 a1 a2, state s[si:si+2]."""
    y = c[ci] * x + s[si]
    s[si] = c[ci + 1] * x - c[ci + 3] * y + s[si + 1]
    s[si + 1] = c[ci + 2] * x - c[ci + 4] * y
    return y


@njit(cache=True, inline="always")
def bq(x, b0, b1, b2, a1, a2, z1, z2):  # type: ignore[no-untyped-def]
    """Transposed direct form II, pure: returns (y, z1', z2') so states can live in registers."""
    y = b0 * x + z1
    return y, b1 * x - a1 * y + z2, b2 * x - a2 * y


@njit(cache=True)
def eq_block(buf, off, n, c, s, base, gl0, gli, gm0, gmi, gh0, ghi):  # type: ignore[no-untyped-def]
    """The LR8 three-band EQ over n samples (14 biquads), bands by subtraction (see design.py).

    Sections in `c`: 0-1 LP low split, 2-3 HP high split, 4-5 AP low split, 6-7 AP high split.
    Coefficients and states are copied into locals for the run: numba cannot prove the arrays do
    not alias, and would otherwise reload every one of them on every sample.
    """
    l0, l1, l2, l3, l4 = c[0], c[1], c[2], c[3], c[4]
    m0, m1, m2, m3, m4 = c[5], c[6], c[7], c[8], c[9]
    h0, h1, h2, h3, h4 = c[10], c[11], c[12], c[13], c[14]
    k0, k1, k2, k3, k4 = c[15], c[16], c[17], c[18], c[19]
    p0, p1, p2, p3, p4 = c[20], c[21], c[22], c[23], c[24]
    q0, q1, q2, q3, q4 = c[25], c[26], c[27], c[28], c[29]
    r0, r1, r2, r3, r4 = c[30], c[31], c[32], c[33], c[34]
    t0, t1, t2, t3, t4 = c[35], c[36], c[37], c[38], c[39]
    z = s[base:base + 28]
    a0, a1_, b0_, b1_ = z[0], z[1], z[2], z[3]
    c0, c1, d0, d1, e0, e1, f0, f1 = z[4], z[5], z[6], z[7], z[8], z[9], z[10], z[11]
    g0, g1, i0, i1, j0, j1, u0, u1 = z[12], z[13], z[14], z[15], z[16], z[17], z[18], z[19]
    v0, v1, w0, w1, x0, x1, y0, y1 = z[20], z[21], z[22], z[23], z[24], z[25], z[26], z[27]
    for k in range(n):
        x = buf[off + k]
        xa, a0, a1_ = bq(x, p0, p1, p2, p3, p4, a0, a1_)
        xa, b0_, b1_ = bq(xa, q0, q1, q2, q3, q4, b0_, b1_)
        low, c0, c1 = bq(x, l0, l1, l2, l3, l4, c0, c1)
        low, d0, d1 = bq(low, m0, m1, m2, m3, m4, d0, d1)
        low, e0, e1 = bq(low, l0, l1, l2, l3, l4, e0, e1)
        low, f0, f1 = bq(low, m0, m1, m2, m3, m4, f0, f1)
        high, g0, g1 = bq(xa - low, h0, h1, h2, h3, h4, g0, g1)
        high, i0, i1 = bq(high, k0, k1, k2, k3, k4, i0, i1)
        high, j0, j1 = bq(high, h0, h1, h2, h3, h4, j0, j1)
        high, u0, u1 = bq(high, k0, k1, k2, k3, k4, u0, u1)
        y, v0, v1 = bq(xa, r0, r1, r2, r3, r4, v0, v1)
        y, w0, w1 = bq(y, t0, t1, t2, t3, t4, w0, w1)
        la, x0, x1 = bq(low, r0, r1, r2, r3, r4, x0, x1)
        la, y0, y1 = bq(la, t0, t1, t2, t3, t4, y0, y1)
        mid = y - la - high
        buf[off + k] = (gl0 + k * gli) * la + (gm0 + k * gmi) * mid + (gh0 + k * ghi) * high
    z[0], z[1], z[2], z[3] = a0, a1_, b0_, b1_
    z[4], z[5], z[6], z[7], z[8], z[9], z[10], z[11] = c0, c1, d0, d1, e0, e1, f0, f1
    z[12], z[13], z[14], z[15], z[16], z[17], z[18], z[19] = g0, g1, i0, i1, j0, j1, u0, u1
    z[20], z[21], z[22], z[23], z[24], z[25], z[26], z[27] = v0, v1, w0, w1, x0, x1, y0, y1


@njit(cache=True)
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


@njit(cache=True)
def flush_state(s, base, n):  # type: ignore[no-untyped-def]
    for i in range(base, base + n):
        v = s[i]
        if abs(v) < TINY or v != v:
            s[i] = 0.0


@njit(cache=True, inline="always")
def _at(buf, frames, j, ch):  # type: ignore[no-untyped-def]
    if j < 0 or j >= frames:
        return 0.0
    return buf[2 * j + ch]


@njit(cache=True, inline="always")
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


@njit(cache=True)
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


@njit(cache=True)
def reverb_block(rev, lens, ms, inl, inr, offin, outl, outr, offout, n, feedback, damp, gain):  # type: ignore[no-untyped-def]
    """A small Freeverb-style room: 4 damped combs and 2 all-passes per channel."""
    for ch in range(2):
        src = inl if ch == 0 else inr
        dst = outl if ch == 0 else outr
        base = 0
        for i in range(ch * N_REV):
            base += lens[i]
        for k in range(n):
            x = src[offin + k] * 0.03
            acc = 0.0
            off = base
            for c in range(len(COMBS)):
                li = ch * N_REV + c
                length = lens[li]
                pos = int(ms[MS_REV + li])
                y = rev[off + pos]
                st = ms[MS_REV + 2 * N_REV + ch * 4 + c]
                st = y * (1.0 - damp) + st * damp
                v = x + st * feedback
                if abs(v) < 1e-20 or v != v:
                    v = 0.0
                rev[off + pos] = v
                ms[MS_REV + 2 * N_REV + ch * 4 + c] = st
                pos += 1
                if pos >= length:
                    pos = 0
                ms[MS_REV + li] = pos
                acc += y
                off += length
            for a in range(len(ALLPASSES)):
                li = ch * N_REV + len(COMBS) + a
                length = lens[li]
                pos = int(ms[MS_REV + li])
                y = rev[off + pos]
                v = acc + y * 0.5
                if abs(v) < 1e-20 or v != v:
                    v = 0.0
                rev[off + pos] = v
                acc = y - acc
                pos += 1
                if pos >= length:
                    pos = 0
                ms[MS_REV + li] = pos
                off += length
            dst[offout + k] += gain * acc
    for i in range(2 * N_REV, 2 * N_REV + 8):
        st = ms[MS_REV + i]
        if abs(st) < TINY or st != st:
            ms[MS_REV + i] = 0.0


@njit(cache=True)
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


@njit(cache=True)
def limiter_block(ml, mr, off, n, out, out_off, ms, delay, hist, q, box, fir, ceiling, release):  # type: ignore[no-untyped-def]
    """Look-ahead limiter holding a true-peak ceiling.

    Peaks are found on a 4x interpolation of the input (so inter-sample overs count), the gain each
    one needs is held over the look-ahead window (sliding minimum), released smoothly, then averaged
    over the window: by the time a peak leaves the delay line the gain has reached what it needs,
    and never more steeply than a window-long ramp.
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
        for ph in range(3):
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


def reverb_lengths(sr: float) -> np.ndarray:
    """Per-line lengths (left then right, right a little longer for width)."""
    from .layout import STEREO_SPREAD

    scale = sr / 44100.0
    left = [max(8, round(x * scale)) for x in COMBS + ALLPASSES]
    right = [n + max(1, round(STEREO_SPREAD * scale)) for n in left]
    return np.array(left + right, np.int64)
