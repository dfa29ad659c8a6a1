"""The float32 gelu (kif.layers._gelu32) against math.erfc in float64, in ulp of float32."""

from __future__ import annotations

import math

import numpy as np

from kif.layers import _gelu32, activations


def _exact(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x.astype(np.float64)])


def _ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_gelu_float32_within_two_ulp_over_the_real_line() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            np.linspace(-14.3, 14.3, 40001, dtype=np.float32),
            (rng.standard_normal(40000) * 3).astype(np.float32),
            np.float32(10) ** np.linspace(-37, 0, 2001, dtype=np.float32),
            -(np.float32(10) ** np.linspace(-37, 0, 2001, dtype=np.float32)),
        ]
    )
    exact = _exact(x)
    got = activations.gelu(x)
    assert got.dtype == np.float32
    normal = np.abs(exact) >= np.finfo(np.float32).tiny  # subnormal results keep only absolute precision
    assert _ulp_error(got, exact)[normal].max() <= 2.0
    assert np.abs(got.astype(np.float64) - exact)[~normal].max() <= 2 * 2.0**-149


def test_gelu_float32_tail_and_special_values() -> None:
    x = np.array([-13.0, -10.0, -5.0, -3.0, -1e-30, 0.0, -0.0, 1e-30, 3.0, 3e38, -3e38], np.float32)
    exact = _exact(x)
    got = activations.gelu(x)
    normal = np.abs(exact) >= np.finfo(np.float32).tiny
    assert _ulp_error(got[normal], exact[normal]).max() <= 2.0
    assert got[-1] == 0 and got[-2] == np.float32(3e38)
    # a block holding a non-finite value follows IEEE arithmetic on the formula (0.5 x erfc(-x/√2))
    special = np.array([np.inf, -np.inf, np.nan, -3.0], np.float32)
    with np.errstate(invalid="ignore"):
        out = activations.gelu(special)
    assert out[0] == np.inf and np.isnan(out[1]) and np.isnan(out[2])
    assert _ulp_error(out[3:], _exact(special[3:])).max() <= 2.0


def test_gelu_float32_across_blocks_and_views() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, _gelu32.BLOCK + 77)) * 4).astype(np.float32)
    x[1, 6] = np.inf  # only the block holding it takes the float64 path
    view = x[:, ::2]
    with np.errstate(invalid="ignore"):
        got = activations.gelu(view)
    finite = np.isfinite(view)
    assert got.shape == view.shape and got[~finite][0] == np.inf
    assert _ulp_error(got[finite], _exact(view[finite])).max() <= 2.0
