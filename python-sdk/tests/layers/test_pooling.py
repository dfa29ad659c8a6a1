"""Pooling layers against Keras 3 (torch backend) and hand-derived values.

AveragePooling with padding="same" and unequal padding on the two sides is checked against
hand-derived values only: there Keras-torch counts replicated edge cells, which KIF (like
TensorFlow) excludes.
"""

from __future__ import annotations

import numpy as np
import pytest

from kif.layers.pooling import MaxPooling2D
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer

SHAPES = {1: (2, 9, 3), 2: (2, 7, 8, 3), 3: (2, 5, 6, 7, 2)}


def _input(n: int, data_format: str, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=SHAPES[n]).astype("float32")
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


# (pool, strides, padding): "same" cases here pad symmetrically, where Keras-torch agrees with TensorFlow.
WINDOWS = [(2, None, "valid"), (3, 2, "valid"), (3, 1, "same"), (1, 2, "same"), (2, 1, "valid")]


@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pooling_matches_keras(kind: str, n: int, window: tuple[int, int | None, str], data_format: str) -> None:
    import keras

    pool, stride, padding = window
    x = _input(n, data_format)
    layer = getattr(keras.layers, f"{kind}Pooling{n}D")(pool_size=pool, strides=stride, padding=padding, data_format=data_format)
    expected = keras_output(layer, x)
    got = run_layer(
        f"{kind}Pooling{n}D",
        x,
        pool_size=[pool] * n,
        strides=None if stride is None else [stride] * n,
        padding=padding,
        data_format=data_format,
    )
    assert_close(got, expected, f"{kind}Pooling{n}D")


def test_max_pooling_same_with_uneven_padding_matches_keras() -> None:
    # Replicated edge cells never change a maximum, so Keras-torch is a valid oracle here.
    import keras

    x = _input(2, "channels_last", seed=1)
    layer = keras.layers.MaxPooling2D(pool_size=(2, 3), strides=(2, 2), padding="same")
    got = run_layer("MaxPooling2D", x, pool_size=[2, 3], strides=[2, 2], padding="same")
    np.testing.assert_array_equal(got, keras_output(layer, x))


def test_average_pooling_same_excludes_padding_1d() -> None:
    # pool 4, stride 1, n 5: total padding 3 -> 1 before, 2 after; each mean is over the real cells only.
    x = np.array([1, 2, 3, 4, 5], dtype="float32").reshape(1, 5, 1)
    got = run_layer("AveragePooling1D", x, pool_size=[4], strides=[1], padding="same")
    expected = [(1 + 2 + 3) / 3, (1 + 2 + 3 + 4) / 4, (2 + 3 + 4 + 5) / 4, (3 + 4 + 5) / 3, (4 + 5) / 2]
    assert_close(got, np.array(expected, dtype="float32").reshape(1, 5, 1), "AveragePooling1D")


def test_average_pooling_same_excludes_padding_2d() -> None:
    # 3x3 input, 2x2 windows, stride 2: one padded row and column at the end.
    x = np.arange(1, 10, dtype="float32").reshape(1, 3, 3, 1)
    got = run_layer("AveragePooling2D", x, pool_size=[2, 2], strides=[2, 2], padding="same")
    expected = np.array([[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9.0]], dtype="float32").reshape(1, 2, 2, 1)
    assert_close(got, expected, "AveragePooling2D")


def test_average_pooling_same_excludes_padding_3d_channels_first() -> None:
    x = np.arange(8, dtype="float64").reshape(1, 1, 2, 2, 2)
    got = run_layer("AveragePooling3D", x, pool_size=[3, 3, 3], strides=[1, 1, 1], padding="same", data_format="channels_first")
    # Padding 1 before, 1 after on each axis of size 2: every window covers the whole 2x2x2 input.
    np.testing.assert_allclose(got, np.full((1, 1, 2, 2, 2), 3.5))


def test_average_pooling_float16_matches_keras() -> None:
    import keras

    x = _input(2, "channels_last").astype("float16")
    layer = keras.layers.AveragePooling2D(pool_size=3, strides=2)
    got = run_layer("AveragePooling2D", x, pool_size=[3, 3], strides=[2, 2])
    assert got.dtype == np.float16
    assert_close(got, keras_output(layer, x), "AveragePooling2D", "float16")


def test_valid_pooling_rejects_window_larger_than_input() -> None:
    attrs = {"pool_size": [4, 4], "strides": None, "padding": "valid", "data_format": "channels_last"}
    with pytest.raises(ShapeError, match="pool_size"):
        MaxPooling2D.infer(attrs, [TensorType("float32", (None, 3, 8, 1))], {})


@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling_matches_keras(kind: str, n: int, keepdims: bool, data_format: str) -> None:
    import keras

    x = _input(n, data_format, seed=2)
    layer = getattr(keras.layers, f"Global{kind}Pooling{n}D")(data_format=data_format, keepdims=keepdims)
    got = run_layer(f"Global{kind}Pooling{n}D", x, data_format=data_format, keepdims=keepdims)
    assert_close(got, keras_output(layer, x), f"Global{kind}Pooling{n}D")


def _mask() -> np.ndarray:
    mask = np.ones((2, 9), dtype=bool)
    mask[0, 5:] = False
    mask[1, [0, 3]] = False
    return mask


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_1d_mask_matches_keras(data_format: str, keepdims: bool) -> None:
    import keras

    x = _input(1, data_format, seed=3)
    mask = _mask()
    layer = keras.layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
    expected = keras_output(layer, x, mask=mask)
    got = run_layer("GlobalAveragePooling1D", [x, mask], data_format=data_format, keepdims=keepdims)
    assert_close(got, expected, "GlobalAveragePooling1D")


def test_global_max_pooling_1d_mask_excludes_masked_steps() -> None:
    x = _input(1, "channels_last", seed=4)
    x[0, 7] = 100.0  # a large value on a masked step must not win
    mask = _mask()
    got = run_layer("GlobalMaxPooling1D", [x, mask])
    expected = np.stack([x[b][mask[b]].max(axis=0) for b in range(2)])
    np.testing.assert_array_equal(got, expected)


def test_global_pooling_1d_all_masked_rows() -> None:
    x = _input(1, "channels_last", seed=5)
    mask = np.zeros((2, 9), dtype=bool)
    mask[1, 2] = True
    avg = run_layer("GlobalAveragePooling1D", [x, mask])
    mx = run_layer("GlobalMaxPooling1D", [x, mask])
    assert np.isnan(avg[0]).all() and np.isneginf(mx[0]).all()
    assert_close(avg[1], x[1, 2], "GlobalAveragePooling1D")
    np.testing.assert_array_equal(mx[1], x[1, 2])


def test_global_pooling_1d_null_mask_is_unmasked() -> None:
    x = _input(1, "channels_last", seed=6)
    got = run_layer("GlobalAveragePooling1D", [x, None])
    assert_close(got, x.mean(axis=1), "GlobalAveragePooling1D")


def test_max_pooling_integer_input_hand_derived() -> None:
    x = np.array([3, -7, 5, 1, -2], dtype="int32").reshape(1, 5, 1)
    got = run_layer("MaxPooling1D", x, pool_size=[2], strides=[2], padding="same")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got.reshape(-1), [3, 5, -2])  # the last window holds only the real cell -2
