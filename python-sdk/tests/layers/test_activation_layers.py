"""ReLU, LeakyReLU, ELU, PReLU and Softmax layers against Keras 3 (torch backend) and hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest

import kif
from tests.layers.harness import assert_close, keras_output, run_layer


def _x(shape: tuple[int, ...], seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype("float32")


@pytest.mark.parametrize(
    ("max_value", "negative_slope", "threshold"),
    [(None, 0.0, 0.0), (6.0, 0.0, 0.0), (2.5, 0.0, 0.0), (None, 0.1, 0.0), (None, 0.0, 0.5), (4.0, 0.2, 1.0), (0.5, 0.3, 1.0)],
)
def test_relu_matches_keras(max_value: float | None, negative_slope: float, threshold: float) -> None:
    import keras

    x = _x((4, 10))
    x[0, :6] = [threshold, 0.0, -threshold, max_value or 7.0, 1.0, -1.0]  # on the kinks
    layer = keras.layers.ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)
    got = run_layer("ReLU", x, max_value=max_value, negative_slope=negative_slope, threshold=threshold)
    assert_close(got, keras_output(layer, x), "ReLU")


def test_relu_hand_derived_piecewise_definition() -> None:
    x = np.array([[-2.0, 0.0, 1.0, 1.5, 3.0, 9.0]], dtype="float32")
    got = run_layer("ReLU", x, max_value=4.0, negative_slope=0.5, threshold=1.0)
    # x > 1: min(x, 4); x <= 1 (the threshold itself included): 0.5 * (x - 1)
    np.testing.assert_array_equal(got, [[-1.5, -0.5, 0.0, 1.5, 3.0, 4.0]])


def test_relu_defaults_are_plain_relu() -> None:
    got = run_layer("ReLU", np.array([[-1.0, 0.0, 2.0]], dtype="float32"))
    np.testing.assert_array_equal(got, [[0.0, 0.0, 2.0]])


@pytest.mark.parametrize("negative_slope", [None, 0.01, 0.5])
def test_leaky_relu_matches_keras(negative_slope: float | None) -> None:
    import keras

    x = _x((3, 4, 5), seed=1)
    layer = keras.layers.LeakyReLU() if negative_slope is None else keras.layers.LeakyReLU(negative_slope=negative_slope)
    attrs = {} if negative_slope is None else {"negative_slope": negative_slope}
    assert_close(run_layer("LeakyReLU", x, **attrs), keras_output(layer, x), "LeakyReLU")


def test_leaky_relu_layer_default_slope_is_0_3() -> None:
    got = run_layer("LeakyReLU", np.array([[-10.0, 0.0, 1.0]], dtype="float32"))
    np.testing.assert_allclose(got, [[-3.0, 0.0, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("alpha", [None, 0.5, 2.0])
def test_elu_matches_keras(alpha: float | None) -> None:
    import keras

    x = _x((4, 6), seed=2)
    layer = keras.layers.ELU() if alpha is None else keras.layers.ELU(alpha=alpha)
    attrs = {} if alpha is None else {"alpha": alpha}
    assert_close(run_layer("ELU", x, **attrs), keras_output(layer, x), "ELU")


@pytest.mark.parametrize("shared_axes", [None, [1, 2], [1], [3]])
def test_prelu_on_feature_maps_matches_keras(shared_axes: list[int] | None) -> None:
    import keras

    x = _x((2, 4, 5, 3), seed=3)
    layer = keras.layers.PReLU(shared_axes=shared_axes)
    layer.build(x.shape)
    layer.alpha.assign(np.random.default_rng(4).uniform(0.0, 0.5, size=tuple(layer.alpha.shape)).astype("float32"))
    alpha = keras.ops.convert_to_numpy(layer.alpha)
    got = run_layer("PReLU", x, {"alpha": alpha}, shared_axes=shared_axes or [])
    assert_close(got, keras_output(layer, x), "PReLU")


def test_prelu_on_vectors_matches_keras() -> None:
    import keras

    x = _x((5, 7), seed=5)
    layer = keras.layers.PReLU()
    layer.build(x.shape)
    layer.alpha.assign(np.linspace(0.0, 0.6, 7, dtype="float32"))
    got = run_layer("PReLU", [x], {"alpha": keras.ops.convert_to_numpy(layer.alpha)})
    assert_close(got, keras_output(layer, x), "PReLU")


def test_prelu_rejects_alpha_of_the_wrong_shape() -> None:
    with pytest.raises(kif.KifError, match="expected alpha of shape"):
        run_layer("PReLU", _x((2, 4, 5, 3)), {"alpha": np.zeros((4, 5, 3), "float32")}, shared_axes=[1, 2])


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_softmax_matches_keras(axis: int | list[int]) -> None:
    import keras

    x = _x((2, 3, 4), seed=6)
    layer = keras.layers.Softmax(axis=axis)
    assert_close(run_layer("Softmax", x, axis=axis), keras_output(layer, x), "Softmax")


@pytest.mark.parametrize("mask_shape", [(2, 3, 4), (2, 1, 4), (4,)])
def test_softmax_with_mask_matches_keras(mask_shape: tuple[int, ...]) -> None:
    import keras

    x = _x((2, 3, 4), seed=7)
    mask = np.random.default_rng(8).uniform(size=mask_shape) > 0.4
    layer = keras.layers.Softmax()
    expected = keras.ops.convert_to_numpy(layer(x, mask=mask))
    got = run_layer("Softmax", [x, mask], free_batch=len(mask_shape) == 3)
    assert_close(got, expected, "Softmax")


def test_softmax_fully_masked_slice_is_zero() -> None:
    x = np.array([[1.0, 2.0, 3.0], [1.0, -50.0, 3.0]], dtype="float32")
    mask = np.array([[False, False, False], [True, False, True]])
    got = run_layer("Softmax", [x, mask])
    e = np.exp(-2.0)
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.0], [e / (1 + e), 0.0, 1 / (1 + e)]], rtol=1e-6, atol=0)


def test_softmax_mask_must_broadcast() -> None:
    with pytest.raises(kif.KifError, match="broadcastable"):
        run_layer("Softmax", [_x((2, 3, 4)), np.ones((2, 3, 3), dtype=bool)])


@pytest.mark.parametrize("layer_type", ["ReLU", "LeakyReLU", "ELU", "Softmax"])
def test_float16_keeps_dtype(layer_type: str) -> None:
    import keras

    x = _x((3, 8), seed=9).astype("float16")
    got = run_layer(layer_type, x)
    assert got.dtype == np.float16
    layer = getattr(keras.layers, layer_type)()
    assert_close(got, keras_output(layer, x.astype("float32")), layer_type, "float16")
