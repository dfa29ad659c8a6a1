"""The exact gelu, x Φ(x), in float32 arithmetic to about 2 ulp (spec/layers/activations.md: a few ulp of the
compute precision over the whole real line), about three times faster than the float64 Cephes evaluation.

With u = |x|: gelu(x) = max(x, 0) - u Φ(-u), and u Φ(-u) = u p(q) exp(-u²/2) / (2 + 2 S u), where
q = (u - K) / (u + K) maps [0, ∞) onto [-1, 1) and p, a degree-10 polynomial, approximates
(1 + S u) erfcx(u / √2) (between 0.71 and 1) to 1.2e-9 relative over 0 <= u <= 14.5 (beyond that
gelu(-u) is below the smallest float32). Only q and p are float32; u², the exponential and the
product are float64, where they are exact to 1e-16 (x² of a float32 is exact in float64), so the
result is rounded once: measured over 3·10⁶ points of [-15, 15] and 2·10⁵ of ±[1e-38, 1], the error
is at most 1.9 ulp of float32 (tests/layers/test_gelu_float32.py checks 2 ulp against math.erfc).
The coefficients come from tools/fit_gelu32.py (weighted least squares in float64, rounded to float32).

Blocks of ``BLOCK`` elements keep the temporaries in cache; a block with an infinity or NaN is left to
the float64 path, which applies IEEE arithmetic to the formula (gelu(-inf) = NaN, gelu(inf) = inf).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

K = np.float32(3.2)
S = 2.0 * np.sqrt(2.0) / 3.2
P = tuple(
    np.float32(c)
    for c in (
        0.00010120152728632092, 0.00024059669522102922, -0.0005452492623589933, -0.0017613796517252922,
        0.0038651295471936464, 0.0089815529063344, -0.0442410409450531, 0.06332412362098694,
        0.013040389865636826, -0.21816036105155945, 0.8804041147232056,
    )
)  # fmt: skip
BLOCK = 16384
_ZERO = np.float32(0)


def gelu(x: np.ndarray, fallback: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """gelu of a float32 array (a new array); ``fallback`` (float64 exact) takes blocks that are not all finite."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    n = min(BLOCK, flat.size)
    u32, q32, p32 = (np.empty(n, np.float32) for _ in range(3))
    a64, e64, d64 = (np.empty(n, np.float64) for _ in range(3))
    for start in range(0, flat.size, BLOCK):
        b, o = flat[start : start + BLOCK], out[start : start + BLOCK]
        m = b.size
        u, q, p, a, e, d = u32[:m], q32[:m], p32[:m], a64[:m], e64[:m], d64[:m]
        np.abs(b, out=u)
        if not np.isfinite(u.max()):
            o[...] = fallback(b)
            continue
        np.add(u, K, out=p)
        np.subtract(u, K, out=q)
        np.divide(q, p, out=q)
        np.multiply(q, P[0], out=p)
        p += P[1]
        for c in P[2:]:
            p *= q
            p += c
        np.copyto(a, u)
        np.multiply(a, a, out=e)
        e *= -0.5
        np.exp(e, out=e)
        np.multiply(a, 2.0 * S, out=d)
        d += 2.0
        np.multiply(a, p, out=a)
        a *= e
        a /= d  # u Φ(-u), rounded once below
        np.copyto(u, a, casting="same_kind")
        np.maximum(b, _ZERO, out=o)
        o -= u
    return out.reshape(np.shape(x))
