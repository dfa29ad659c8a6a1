"""Fit the polynomial of kif/layers/_gelu32.py (run by hand; needs SciPy): prints the float32 coefficients.

p(q) ≈ (1 + S u) erfcx(u / √2) with q = (u - K) / (u + K), K = 3.2, S = 2√2 / K, over 0 <= u <= 14.5:
least squares on 6000 Chebyshev nodes of q, reweighted (Lawson) towards the minimax relative error.

    python python-sdk/tools/fit_gelu32.py
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx

K, DEGREE, U_MAX = 3.2, 10, 14.5


def main() -> None:
    s = 2 * np.sqrt(2.0) / K
    q_max = (U_MAX - K) / (U_MAX + K)
    j = np.arange(6000)
    q = 0.5 * (q_max - 1) + 0.5 * (q_max + 1) * np.cos(np.pi * (j + 0.5) / j.size)
    u = K * (1 + q) / (1 - q)
    f = (1 + s * u) * erfcx(u / np.sqrt(2.0))
    weight = np.ones_like(f)
    vander = np.vander(q, DEGREE + 1)
    for _ in range(80):
        coef, *_ = np.linalg.lstsq(vander * weight[:, None], f * weight, rcond=None)
        err = np.abs(vander @ coef - f) / f
        weight = weight * np.sqrt(err / err.max()) + 1e-6
    print(f"max relative error {err.max():.3e}")
    print(tuple(float(np.float32(c)) for c in coef))


if __name__ == "__main__":
    main()
