"""LocallyConnected1D/2D against a hand-written loop over output positions and taps (Keras 3 has no such layer;
the tf_keras-written fixtures are checked in tests/keras/test_keras2_layers.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kif.layers import kernels
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import run_layer

RNG = np.random.default_rng(7)


def _loop(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, strides: list[int], padding: str, first: bool) -> np.ndarray:
    """y[b, *o, f] = bias[*o, f] + sum of x[b, cell(o, t), c] * kernel[*o, *t, c, f], cells outside the input reading 0."""
    d = x.ndim - 2
    xl = np.moveaxis(x, 1, -1) if first else x
    out, ksize = kernel.shape[:d], kernel.shape[d : 2 * d]
    lefts = [k // 2 if padding == "same" else 0 for k in ksize]
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]), np.float64)
    for o in itertools.product(*(range(n) for n in out)):
        for t in itertools.product(*(range(k) for k in ksize)):
            cell = [oi * s - left + ti for oi, s, left, ti in zip(o, strides, lefts, t, strict=True)]
            if all(0 <= c < n for c, n in zip(cell, xl.shape[1:-1], strict=True)):
                y[(slice(None), *o)] += xl[(slice(None), *cell)] @ kernel[(*o, *t)]
        if bias is not None:
            y[(slice(None), *o)] += bias[o]
    return np.moveaxis(y, -1, 1) if first else y


CASES_1D = [([9], [3], [1], "valid"), ([9], [2], [2], "same"), ([8], [4], [3], "same"), ([7], [3], [2], "valid")]
CASES_2D = [([5, 6], [2, 3], [1, 2], "valid"), ([5, 6], [3, 2], [2, 1], "same"), ([4, 4], [1, 1], [1, 1], "valid")]


def _out(n: int, k: int, s: int, padding: str) -> int:
    return -(-n // s) if padding == "same" else (n - k) // s + 1


@pytest.mark.parametrize(("spatial", "ksize", "strides", "padding"), CASES_1D + CASES_2D)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_matches_the_loop(spatial: list[int], ksize: list[int], strides: list[int], padding: str, data_format: str) -> None:
    channels, filters, d = 3, 4, len(spatial)
    first = data_format == "channels_first"
    x = RNG.normal(size=(2, channels, *spatial) if first else (2, *spatial, channels)).astype("float32")
    out = [_out(n, k, s, padding) for n, k, s in zip(spatial, ksize, strides, strict=True)]
    kernel = RNG.normal(size=(*out, *ksize, channels, filters)).astype("float32")
    bias = RNG.normal(size=(*out, filters)).astype("float32")
    got = run_layer(
        f"LocallyConnected{d}D", x, {"kernel": kernel, "bias": bias},
        filters=filters, kernel_size=ksize, strides=strides, padding=padding, data_format=data_format,
    )  # fmt: skip
    np.testing.assert_allclose(got, _loop(x, kernel, bias, strides, padding, first), rtol=1e-5, atol=1e-5)


def test_no_bias_and_activation() -> None:
    x = RNG.normal(size=(2, 6, 2)).astype("float32")
    kernel = RNG.normal(size=(4, 3, 2, 5)).astype("float32")
    got = run_layer("LocallyConnected1D", x, {"kernel": kernel}, filters=5, kernel_size=[3], use_bias=False, activation="relu")
    np.testing.assert_allclose(got, np.maximum(_loop(x, kernel, None, [1], "valid", False), 0), rtol=1e-5, atol=1e-5)


def test_one_position_is_a_dense_layer() -> None:
    """A window over the whole input gives one output position: a Dense on the flattened input (hand-derived)."""
    x = RNG.normal(size=(3, 2, 2, 3)).astype("float32")
    kernel = RNG.normal(size=(1, 1, 2, 2, 3, 4)).astype("float32")
    got = run_layer("LocallyConnected2D", x, {"kernel": kernel}, filters=4, kernel_size=[2, 2], use_bias=False)
    np.testing.assert_allclose(got[:, 0, 0], x.reshape(3, -1) @ kernel.reshape(-1, 4), rtol=1e-5, atol=1e-5)


def test_shape_rule() -> None:
    infer = kernels()["LocallyConnected2D"].infer
    attrs = {"filters": 4, "kernel_size": [2, 3], "strides": [1, 2], "padding": "same", "data_format": "channels_first"}
    attrs |= {"activation": "linear", "use_bias": True}
    x = TensorType("float32", (None, 3, 5, 6))
    assert infer(attrs, [x], {"kernel": (5, 3, 2, 3, 3, 4), "bias": (5, 3, 4)}) == [TensorType("float32", (None, 4, 5, 3))]
    with pytest.raises(ShapeError, match="kernel of shape"):
        infer(attrs, [x], {"kernel": (4, 3, 2, 3, 3, 4)})
    with pytest.raises(ShapeError, match="bias of shape"):
        infer(attrs, [x], {"bias": (5, 4)})
    with pytest.raises(ShapeError, match="floating"):
        infer(attrs, [TensorType("int32", (None, 3, 5, 6))], {})
    with pytest.raises(ShapeError, match="at least 3 cells"):
        infer({**attrs, "padding": "valid"}, [TensorType("float32", (None, 3, 5, 2))], {})
