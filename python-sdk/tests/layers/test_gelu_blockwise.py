"""gelu over an input larger than one block (activations._GELU_CHUNK) against math.erfc element by element."""

from __future__ import annotations

import math

import numpy as np

from kif.layers import activations


def test_blockwise_gelu_matches_math_erfc_across_block_edges() -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((3, activations._GELU_CHUNK + 123)) * 4).astype(np.float32)
    x[0, :6] = [-12.0, -5.0, -3.0, 0.0, 3.0, 9.0]
    expected = np.array([0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x.reshape(-1).astype(np.float64)]).reshape(x.shape)
    got = activations.gelu(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-7, atol=1e-38)


def test_blockwise_gelu_of_a_non_contiguous_view() -> None:
    x = np.linspace(-6, 6, 2 * (activations._GELU_CHUNK + 5), dtype=np.float64).reshape(2, -1)[:, ::2]
    expected = np.vectorize(lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2.0)))(x)
    np.testing.assert_allclose(activations.gelu(x), expected, rtol=1e-14, atol=1e-300)
