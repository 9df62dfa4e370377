"""engine/simd.py: every vec4 operation gives, lane by lane, what the scalar code gives."""

from __future__ import annotations

import numpy as np
from numba import njit

from copilot.engine.simd import lane, splat, vabs, vec, vload, vmax, vstore


@njit(fastmath={"contract"}, error_model="numpy")
def _ops(a, b, out):  # type: ignore[no-untyped-def]
    x = vec(a[0], a[1], a[2], a[3])
    y = vload(b, 1)
    rows = (x + y, x - y, x * y, 2.0 * x - y, x * 0.5 + 3, vabs(x), vmax(x, y), splat(a[2]) + x)
    for r, v in enumerate(rows):
        for i in range(4):
            out[r, i] = lane(v, i)
    vstore(b, 0, x * y + y)


def test_vec4_lanes_match_the_scalar_arithmetic() -> None:
    a = np.array([1.5, -2.25, 3.0, -0.125])
    b = np.array([9.0, 0.5, 4.0, -8.0, 2.0, 7.0])
    out = np.zeros((8, 4))
    before = b.copy()
    _ops(a, b, out)
    y = before[1:5]
    expected = [a + y, a - y, a * y, 2.0 * a - y, a * 0.5 + 3, np.abs(a), np.maximum(a, y), a[2] + a]
    for row, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(row, want, rtol=1e-15, atol=0)
    np.testing.assert_allclose(b[:4], a * y + y, rtol=1e-15)
    assert b[4] == before[4] and b[5] == before[5]  # a store touches exactly four lanes
