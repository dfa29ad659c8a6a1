"""Shape layers against Keras 3 (torch backend) and hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest

from kif.layers.registry import ShapeError, TensorType
from kif.layers.shape_ops import Cropping2D, Permute, Reshape
from tests.layers.harness import assert_close, keras_output, run_layer


def _x(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _data(shape: tuple[int, ...], data_format: str) -> np.ndarray:
    """Channels-last shape given; moved to channels-first when asked, so spatial sizes stay the same."""
    x = _x(*shape)
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


@pytest.mark.parametrize("target", [[4, 6], [-1, 3], [2, -1, 2], [24]])
def test_reshape_matches_keras(target: list[int]) -> None:
    import keras

    x = _x(3, 2, 3, 4)
    expected = keras_output(keras.layers.Reshape(target), x)
    np.testing.assert_array_equal(run_layer("Reshape", x, target_shape=target), expected)


def test_reshape_shape_rule_resolves_and_rejects() -> None:
    x = TensorType("float32", (None, 2, 3, 4))
    assert Reshape.infer({"target_shape": [-1, 3]}, [x], {})[0].shape == (None, 8, 3)
    with pytest.raises(ShapeError, match="elements per sample"):
        Reshape.infer({"target_shape": [5, 5]}, [x], {})
    with pytest.raises(ShapeError, match="at most one -1"):
        Reshape.infer({"target_shape": [-1, -1]}, [x], {})


@pytest.mark.parametrize("dims", [[2, 1], [3, 1, 2], [1, 2, 3]])
def test_permute_matches_keras(dims: list[int]) -> None:
    import keras

    x = _x(2, 3, 4) if len(dims) == 2 else _x(2, 3, 4, 5)
    expected = keras_output(keras.layers.Permute(dims), x)
    np.testing.assert_array_equal(run_layer("Permute", x, dims=dims), expected)


def test_permute_rejects_non_permutation() -> None:
    with pytest.raises(ShapeError, match="permutation"):
        Permute.infer({"dims": [0, 1]}, [TensorType("float32", (None, 3, 4))], {})


def test_repeat_vector_matches_keras() -> None:
    import keras

    x = _x(3, 5)
    np.testing.assert_array_equal(run_layer("RepeatVector", x, n=4), keras_output(keras.layers.RepeatVector(4), x))


CROP_PAD = {
    1: ([1, 2], (2, 7, 3)),
    2: ([[1, 0], [2, 1]], (2, 6, 7, 3)),
    3: ([[1, 1], [0, 2], [2, 0]], (2, 4, 5, 6, 2)),
}


def test_cropping_1d_matches_keras() -> None:
    import keras

    amounts, shape = CROP_PAD[1]
    x = _x(*shape)
    layer = keras.layers.Cropping1D(cropping=amounts)
    np.testing.assert_array_equal(run_layer("Cropping1D", x, cropping=amounts), keras_output(layer, x))


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cropping_matches_keras(n: int, data_format: str) -> None:
    import keras

    amounts, shape = CROP_PAD[n]
    x = _data(shape, data_format)
    layer = getattr(keras.layers, f"Cropping{n}D")(cropping=amounts, data_format=data_format)
    got = run_layer(f"Cropping{n}D", x, cropping=amounts, data_format=data_format)
    np.testing.assert_array_equal(got, keras_output(layer, x))


def test_cropping_rejects_crop_as_large_as_input() -> None:
    with pytest.raises(ShapeError, match="cropping"):
        Cropping2D.infer({"cropping": [[2, 2], [0, 0]], "data_format": "channels_last"}, [TensorType("float32", (None, 4, 5, 1))], {})


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding_matches_keras(n: int, data_format: str) -> None:
    import keras

    amounts, shape = CROP_PAD[n]
    x = _data(shape, data_format)
    layer = getattr(keras.layers, f"ZeroPadding{n}D")(padding=amounts, data_format=data_format)
    got = run_layer(f"ZeroPadding{n}D", x, padding=amounts, data_format=data_format)
    np.testing.assert_array_equal(got, keras_output(layer, x))


def test_upsampling_1d_matches_keras() -> None:
    import keras

    x = _x(2, 5, 3)
    np.testing.assert_array_equal(run_layer("UpSampling1D", x, size=3), keras_output(keras.layers.UpSampling1D(3), x))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("size", [[2, 2], [3, 2]])
def test_upsampling_2d_matches_keras(interpolation: str, data_format: str, size: list[int]) -> None:
    import keras

    x = _x(2, 4, 5, 3) if data_format == "channels_last" else _x(2, 3, 4, 5)
    layer = keras.layers.UpSampling2D(size=size, data_format=data_format, interpolation=interpolation)
    got = run_layer("UpSampling2D", x, size=size, data_format=data_format, interpolation=interpolation)
    assert_close(got, keras_output(layer, x), "UpSampling2D")


def test_upsampling_2d_bilinear_hand_derived() -> None:
    # One row [0, 4] doubled: source coordinates (o + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (-> 1).
    x = np.array([0.0, 4.0], dtype="float32").reshape(1, 1, 2, 1)
    got = run_layer("UpSampling2D", x, size=[1, 2], interpolation="bilinear")
    np.testing.assert_allclose(got.reshape(-1), [0.0, 1.0, 3.0, 4.0])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_upsampling_3d_matches_keras(data_format: str) -> None:
    import keras

    x = _x(2, 2, 3, 4, 2)
    layer = keras.layers.UpSampling3D(size=(2, 1, 3), data_format=data_format)
    got = run_layer("UpSampling3D", x, size=[2, 1, 3], data_format=data_format)
    np.testing.assert_array_equal(got, keras_output(layer, x))
