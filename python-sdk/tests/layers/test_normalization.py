"""Normalisation layers against Keras 3 (torch backend), and against NumPy where Keras-torch is wrong.

Keras-torch's LayerNormalization/RMSNormalization hand a contiguous axis list to
F.layer_norm / F.rms_norm, which always normalise the trailing axes: with axis=1 on a
rank-3 input they normalise the wrong axis (or fail). KIF means the axes named (as
TensorFlow does); those cases are checked against a hand-derived NumPy formula.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import kif
from kif import catalog
from tests.layers.harness import assert_close, keras_output, run_layer


def _x(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * 2.0 + 0.5).astype("float32")


def _randomize(layer: Any, seed: int = 1) -> dict[str, np.ndarray]:
    """Give every weight of a built Keras layer random values; return them by Keras name."""
    import keras

    rng = np.random.default_rng(seed)
    out = {}
    for w in layer.weights:
        name = w.path.split("/")[-1]
        value = rng.uniform(0.5, 2.0, size=tuple(w.shape)) if "variance" in name else rng.normal(size=tuple(w.shape))
        w.assign(value.astype("float32"))
        out[name] = keras.ops.convert_to_numpy(w)
    return out


# --- BatchNormalization -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "axis", "center", "scale", "epsilon"),
    [
        ((4, 6), -1, True, True, 1e-3),
        ((2, 3, 4, 5), 1, True, True, 1e-5),
        ((2, 3, 4, 5), -1, False, True, 1e-3),
        ((3, 7, 4), -1, True, False, 0.1),
        ((3, 7, 4), 1, False, False, 1e-3),
    ],
)
def test_batch_normalization_matches_keras(shape: tuple[int, ...], axis: int, center: bool, scale: bool, epsilon: float) -> None:
    import keras

    x = _x(shape)
    layer = keras.layers.BatchNormalization(axis=axis, center=center, scale=scale, epsilon=epsilon)
    layer.build(shape)
    weights = _randomize(layer)
    expected = keras_output(layer, x, training=False)
    got = run_layer("BatchNormalization", x, weights, axis=axis, center=center, scale=scale, epsilon=epsilon)
    assert_close(got, expected, "BatchNormalization")


def test_batch_normalization_hand_derived() -> None:
    x = np.array([[1.0, 2.0], [3.0, 6.0]], dtype="float32")
    w = {
        "gamma": np.array([2.0, 1.0], "float32"),
        "beta": np.array([0.0, 1.0], "float32"),
        "moving_mean": np.array([1.0, 2.0], "float32"),
        "moving_variance": np.array([3.0, 15.0], "float32"),
    }
    got = run_layer("BatchNormalization", x, w, epsilon=1.0)
    # (x - mean) / sqrt(var + 1) * gamma + beta: sqrt(4) = 2, sqrt(16) = 4
    np.testing.assert_allclose(got, [[0.0, 1.0], [2.0, 2.0]], rtol=1e-6)


# --- LayerNormalization -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "axis", "center", "scale", "epsilon"),
    [
        ((3, 8), -1, True, True, 1e-3),
        ((2, 5, 8), -1, False, True, 1e-5),
        ((2, 5, 8), 2, True, False, 1e-3),
        ((2, 5, 8), -1, False, False, 1e-3),
    ],
)
def test_layer_normalization_matches_keras(shape: tuple[int, ...], axis: int, center: bool, scale: bool, epsilon: float) -> None:
    import keras

    x = _x(shape, seed=2)
    layer = keras.layers.LayerNormalization(axis=axis, center=center, scale=scale, epsilon=epsilon)
    layer.build(shape)
    weights = _randomize(layer)
    got = run_layer("LayerNormalization", x, weights, axis=axis, center=center, scale=scale, epsilon=epsilon)
    assert_close(got, keras_output(layer, x), "LayerNormalization")


def test_layer_normalization_over_trailing_axes_matches_keras() -> None:
    import keras

    x = _x((2, 3, 4, 5), seed=3)
    layer = keras.layers.LayerNormalization(axis=[2, 3])
    layer.build(x.shape)
    weights = _randomize(layer)
    assert weights["gamma"].shape == (4, 5)
    got = run_layer("LayerNormalization", [x], weights, axis=[2, 3])
    assert_close(got, keras_output(layer, x), "LayerNormalization")


@pytest.mark.parametrize("axis", [1, [1, 2], [1, 3]])
def test_layer_normalization_on_inner_axes_hand_derived(axis: int | list[int]) -> None:
    x = _x((2, 3, 4, 5), seed=4)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rng = np.random.default_rng(5)
    gamma = rng.normal(size=tuple(x.shape[a] for a in axes)).astype("float32")
    beta = rng.normal(size=gamma.shape).astype("float32")
    bshape = [x.shape[a] if a in axes else 1 for a in range(4)]
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    expected = (x64 - mean) / np.sqrt(var + 1e-3) * gamma.reshape(bshape) + beta.reshape(bshape)
    runner = run_layer
    inputs: Any = x if len(axes) == 1 else [x]
    got = runner("LayerNormalization", inputs, {"gamma": gamma, "beta": beta}, axis=axis)
    assert_close(got, expected, "LayerNormalization")


def test_layer_normalization_rms_scaling_matches_keras() -> None:
    import keras

    x = _x((3, 6), seed=6)
    with pytest.warns(UserWarning, match="deprecated"):
        layer = keras.layers.LayerNormalization(rms_scaling=True)
    layer.build(x.shape)
    weights = _randomize(layer)
    assert set(weights) == {"gamma"}
    got = run_layer("LayerNormalization", x, weights, rms_scaling=True, center=False, scale=True)
    with pytest.warns(UserWarning, match="deprecated"):
        expected = keras_output(layer, x)
    assert_close(got, expected, "LayerNormalization")


def test_layer_normalization_rms_scaling_requires_center_false_and_scale_true() -> None:
    validator = catalog.get("LayerNormalization").validator
    base = {"axis": -1, "epsilon": 1e-3, "center": False, "scale": True, "rms_scaling": True}
    assert not list(validator.iter_errors(base))
    assert list(validator.iter_errors({**base, "center": True}))
    assert list(validator.iter_errors({**base, "scale": False}))
    assert not list(validator.iter_errors({**base, "rms_scaling": False, "center": True, "scale": False}))


def test_layer_normalization_float16_keeps_dtype() -> None:
    import keras

    x = _x((3, 16), seed=7).astype("float16")
    layer = keras.layers.LayerNormalization()
    layer.build(x.shape)
    weights = _randomize(layer)
    got = run_layer("LayerNormalization", x, weights)
    assert got.dtype == np.float16
    assert_close(got, keras_output(layer, x.astype("float32")), "LayerNormalization", "float16")


# --- GroupNormalization -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "groups", "axis", "center", "scale"),
    [
        ((2, 4, 5, 6), 2, -1, True, True),
        ((2, 4, 5, 6), 3, -1, False, True),
        ((2, 6, 4, 5), 3, 1, True, True),
        ((2, 7, 8), -1, -1, True, False),
        ((2, 7, 8), 1, -1, True, True),
        ((3, 8), 4, -1, True, True),
    ],
)
def test_group_normalization_matches_keras(shape: tuple[int, ...], groups: int, axis: int, center: bool, scale: bool) -> None:
    import keras

    x = _x(shape, seed=8)
    layer = keras.layers.GroupNormalization(groups=groups, axis=axis, center=center, scale=scale)
    layer.build(shape)
    weights = _randomize(layer)
    got = run_layer("GroupNormalization", x, weights, groups=groups, axis=axis, center=center, scale=scale)
    assert_close(got, keras_output(layer, x), "GroupNormalization")


def test_group_normalization_groups_must_divide_channels() -> None:
    with pytest.raises(kif.KifError, match="divide the 6 channels"):
        run_layer("GroupNormalization", _x((2, 6)), {"gamma": np.ones(6, "float32"), "beta": np.zeros(6, "float32")}, groups=4)


# --- UnitNormalization --------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization_matches_keras(axis: int | list[int]) -> None:
    import keras

    x = _x((2, 3, 4), seed=9)
    layer = keras.layers.UnitNormalization(axis=axis)
    assert_close(run_layer("UnitNormalization", x, axis=axis), keras_output(layer, x), "UnitNormalization")


def test_unit_normalization_of_zero_and_tiny_vectors() -> None:
    x = np.array([[0.0, 0.0], [3e-20, 4e-20], [3.0, 4.0]], dtype="float64")
    got = run_layer("UnitNormalization", x)
    # x / max(||x||, 1e-12): 0 stays 0; a norm of 5e-20 is floored at 1e-12
    np.testing.assert_allclose(got, [[0.0, 0.0], [3e-8, 4e-8], [0.6, 0.8]], rtol=1e-12, atol=0)


# --- RMSNormalization ---------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [None, 1e-3])
def test_rms_normalization_matches_keras(epsilon: float | None) -> None:
    import keras

    x = _x((2, 5, 8), seed=10)
    layer = keras.layers.RMSNormalization() if epsilon is None else keras.layers.RMSNormalization(epsilon=epsilon)
    layer.build(x.shape)
    weights = _randomize(layer)
    assert set(weights) == {"scale"}
    attrs = {} if epsilon is None else {"epsilon": epsilon}
    assert_close(run_layer("RMSNormalization", x, weights, **attrs), keras_output(layer, x), "RMSNormalization")


def test_rms_normalization_over_trailing_axes_matches_keras() -> None:
    import keras

    x = _x((2, 3, 4, 5), seed=11)
    layer = keras.layers.RMSNormalization(axis=[2, 3])
    layer.build(x.shape)
    weights = _randomize(layer)
    assert_close(run_layer("RMSNormalization", [x], weights, axis=[2, 3]), keras_output(layer, x), "RMSNormalization")


def test_rms_normalization_on_an_inner_axis_hand_derived() -> None:
    x = _x((2, 3, 4), seed=12)
    scale = np.array([0.5, 1.0, 2.0], dtype="float32")
    x64 = x.astype(np.float64)
    expected = x64 / np.sqrt((x64**2).mean(axis=1, keepdims=True) + 1e-6) * scale.reshape(1, 3, 1)
    assert_close(run_layer("RMSNormalization", x, {"scale": scale}, axis=1), expected, "RMSNormalization")
