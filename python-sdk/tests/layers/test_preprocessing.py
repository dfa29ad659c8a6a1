"""Rescaling, Normalization, CenterCrop and Resizing against Keras 3 (torch backend) and hand-derived values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kif.layers.preprocessing import Rescaling
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer


def _images(shape: tuple[int, ...], data_format: str = "channels_last", seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")
    return np.moveaxis(x, -1, 1).copy() if data_format == "channels_first" else x


@pytest.mark.parametrize(
    ("scale", "offset"),
    [(1 / 255, 0.0), (1 / 127.5, -1.0), ([0.5, 2.0, -1.0], [0.0, 1.0, 2.0]), (2.0, [1.0, 2.0, 3.0])],
)
def test_rescaling_matches_keras(scale: Any, offset: Any) -> None:
    import keras

    x = _images((2, 4, 5, 3))
    expected = keras_output(keras.layers.Rescaling(scale, offset), x)
    assert_close(run_layer("Rescaling", x, scale=scale, offset=offset), expected, "Rescaling")


def test_rescaling_uint8_gives_float32() -> None:
    import keras

    x = _images((2, 4, 5, 3)).astype("uint8")
    expected = keras_output(keras.layers.Rescaling(1 / 255), x)
    got = run_layer("Rescaling", x, scale=1 / 255)
    assert got.dtype == np.float32
    assert_close(got, expected, "Rescaling")


def test_rescaling_nested_scale_for_channels_first() -> None:
    x = np.ones((1, 3, 2, 2), dtype="float32")
    got = run_layer("Rescaling", x, scale=[[[1.0]], [[2.0]], [[3.0]]])
    np.testing.assert_array_equal(got[0, :, 0, 0], [1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="broadcast"):
        Rescaling.infer({"scale": [1.0, 2.0], "offset": 0.0}, [TensorType("float32", (None, 4, 3))], {})


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize(
    ("axis", "mean", "variance"),
    [
        (-1, [1.0, 2.0, 3.0], [4.0, 0.25, 9.0]),
        (None, 5.0, 4.0),
        ((1, 2), [[1.0] * 5, [2.0] * 5, [3.0] * 5, [4.0] * 5], [[2.0] * 5] * 4),
    ],
)
def test_normalization_with_given_statistics_matches_keras(axis: Any, mean: Any, variance: Any, invert: bool) -> None:
    import keras

    x = _images((2, 4, 5, 3), seed=1)
    layer = keras.layers.Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
    expected = keras_output(layer, x)
    kif_axis = [] if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    kept = [x.shape[a] for a in kif_axis]
    weights = {
        "mean": np.broadcast_to(np.asarray(mean, "float32"), kept).reshape(-1),
        "variance": np.broadcast_to(np.asarray(variance, "float32"), kept).reshape(-1),
    }
    got = run_layer("Normalization", x, weights, axis=kif_axis, invert=invert)
    assert_close(got, expected, "Normalization")


def test_normalization_adapted_weights_match_keras() -> None:
    import keras

    x = _images((6, 3, 4, 2), seed=2)
    layer = keras.layers.Normalization(axis=(2, 3))
    layer.adapt(x)
    expected = keras_output(layer, x)
    weights = {
        "mean": keras.ops.convert_to_numpy(layer.adapt_mean).reshape(-1),
        "variance": keras.ops.convert_to_numpy(layer.adapt_variance).reshape(-1),
    }
    got = run_layer("Normalization", x, weights, axis=[2, 3])
    assert_close(got, expected, "Normalization")


def test_normalization_zero_variance_uses_epsilon() -> None:
    x = np.array([[1.0, 3.0]], dtype="float32")
    weights = {"mean": np.array([1.0, 2.0], "float32"), "variance": np.array([0.0, 1.0], "float32")}
    got = run_layer("Normalization", x, weights, axis=[-1])
    np.testing.assert_allclose(got, [[0.0, 1.0]])
    weights["mean"] = np.array([0.0, 0.0], "float32")
    got = run_layer("Normalization", x, weights, axis=[-1])
    np.testing.assert_allclose(got, [[1.0 / 1e-7, 3.0]], rtol=1e-6)


def test_normalization_integer_input_gives_float32() -> None:
    x = np.array([[2, 4]], dtype="int32")
    weights = {"mean": np.array([2.0], "float32"), "variance": np.array([4.0], "float32")}
    got = run_layer("Normalization", x, weights, axis=[])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[0.0, 1.0]])


@pytest.mark.parametrize(
    ("shape", "size"), [((2, 8, 9, 3), (4, 5)), ((2, 7, 6, 3), (7, 6)), ((2, 4, 9, 3), (6, 5)), ((2, 5, 5, 3), (8, 10))]
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_center_crop_matches_keras(shape: tuple[int, ...], size: tuple[int, int], data_format: str) -> None:
    import keras

    x = _images(shape, data_format, seed=3)
    layer = keras.layers.CenterCrop(*size, data_format=data_format)
    got = run_layer("CenterCrop", x, height=size[0], width=size[1], data_format=data_format)
    assert_close(got, keras_output(layer, x), "CenterCrop")


def test_center_crop_uint8_gives_float32() -> None:
    import keras

    x = _images((1, 6, 6, 1)).astype("uint8")
    got = run_layer("CenterCrop", x, height=2, width=4)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, keras_output(keras.layers.CenterCrop(2, 4), x))


RESIZE_CASES: list[dict[str, Any]] = [
    {"height": 8, "width": 10, "interpolation": "bilinear"},
    {"height": 3, "width": 4, "interpolation": "bilinear"},
    {"height": 3, "width": 4, "interpolation": "bilinear", "antialias": True},
    {"height": 9, "width": 5, "interpolation": "bilinear", "antialias": True},
    {"height": 11, "width": 3, "interpolation": "nearest"},
    {"height": 4, "width": 4, "interpolation": "nearest", "crop_to_aspect_ratio": True},
    {"height": 5, "width": 3, "interpolation": "bilinear", "crop_to_aspect_ratio": True},
    {"height": 4, "width": 4, "interpolation": "bilinear", "pad_to_aspect_ratio": True, "fill_value": 7.5},
    {"height": 9, "width": 2, "interpolation": "nearest", "pad_to_aspect_ratio": True, "fill_value": -1.0},
]


@pytest.mark.parametrize("attrs", RESIZE_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resizing_matches_keras(attrs: dict[str, Any], data_format: str) -> None:
    import keras

    x = _images((2, 6, 9, 3), data_format, seed=4)
    layer = keras.layers.Resizing(**attrs, data_format=data_format)
    got = run_layer("Resizing", x, **attrs, data_format=data_format)
    assert_close(got, keras_output(layer, x), "Resizing")


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_resizing_uint8_rounds_like_keras(interpolation: str) -> None:
    import keras

    x = _images((2, 6, 8, 3), seed=5).astype("uint8")
    # Dyadic scales keep the bilinear weights exact, so rounding cannot differ between implementations.
    layer = keras.layers.Resizing(12, 4, interpolation=interpolation)
    got = run_layer("Resizing", x, height=12, width=4, interpolation=interpolation)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, keras_output(layer, x))


def test_resizing_nearest_hand_derived() -> None:
    # 10 -> 3 cells: sources floor((2o + 1) * 10 / 6) = 1, 5, 8.
    x = np.arange(10, dtype="float32").reshape(1, 1, 10, 1)
    got = run_layer("Resizing", x, height=1, width=3, interpolation="nearest")
    np.testing.assert_array_equal(got.reshape(-1), [1.0, 5.0, 8.0])


def test_resizing_float16_keeps_dtype_and_matches_keras() -> None:
    import keras

    x = _images((1, 6, 9, 2), seed=6).astype("float16")
    got = run_layer("Resizing", x, height=4, width=5)
    assert got.dtype == np.float16
    assert_close(got, keras_output(keras.layers.Resizing(4, 5), x), "Resizing", "float16")


def test_resizing_schema_rejects_crop_and_pad_together() -> None:
    from kif import catalog

    definition = catalog.get("Resizing")
    attrs = {**definition.defaults, "height": 2, "width": 2}
    assert definition.validator.is_valid(attrs)
    assert not definition.validator.is_valid({**attrs, "crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True})
