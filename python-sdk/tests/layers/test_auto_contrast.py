"""AutoContrast (spec/layers/AutoContrast.md): the kernel, the converter, to_keras and the torch and ONNX importers.

Oracles: Keras 3 (torch backend; its AutoContrast runs the same operations on every backend) and hand-derived values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import torch

import kif
import kif.torch
from kif.errors import KifError
from kif.keras import convert, export, to_keras
from kif.layers.auto_contrast import AutoContrast
from kif.layers.registry import ShapeError, TensorType
from tests._keras_zip import VALUE_RANGE_CASES, assert_one_conversion_error
from tests.layers.harness import run_layer
from tests.onnx.helpers import feeds_for, one_layer, run_onnx

TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float16": {"rtol": 1e-2, "atol": 1e-2}}  # the schema's class
RANGES = [(0, 255), (0, 1), (-1, 1), (10, 20)]


def _images(seed: int, low: float, high: float, dtype: str = "float32", shape: tuple[int, ...] = (2, 5, 4, 3)) -> np.ndarray:
    """Images whose channels do not reach the bounds, with a constant channel, a +inf and a NaN."""
    span = high - low
    x = np.random.default_rng(seed).uniform(low + 0.2 * span, low + 0.7 * span, size=shape).astype("float32")
    x[0, :, :, 1] = x[0, 0, 0, 1]  # high == low
    x[1, 2, 1, 0] = np.inf  # scale 0: finite values go to low, the inf stays
    x[1, 0, 0, 2] = np.nan  # the whole channel stays as it was
    return x.astype(dtype)


def _keras(x: np.ndarray, value_range: tuple[float, float], **kwargs: object) -> np.ndarray:
    dtype = str(x.dtype) if x.dtype.kind == "f" else None
    return np.asarray(keras.layers.AutoContrast(value_range=value_range, dtype=dtype, **kwargs)(x))


def _close(got: np.ndarray, want: np.ndarray, dtype: str = "float32") -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got.astype("float64"), want.astype("float64"), equal_nan=True, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("value_range", RANGES)
def test_kernel_matches_keras(value_range: tuple[float, float], dtype: str) -> None:
    x = _images(sum(value_range), *value_range, dtype=dtype)
    got = run_layer("AutoContrast", x, value_range=list(value_range))
    _close(got, _keras(x, value_range), dtype)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool"])
def test_integer_and_bool_images_come_back_as_float32_as_in_keras(dtype: str) -> None:
    x = np.random.default_rng(3).integers(0, 2 if dtype == "bool" else 200, size=(2, 4, 5, 3)).astype(dtype)
    x[0, :, :, 0] = x[0, 0, 0, 0]  # a constant channel keeps its (converted) values
    got = run_layer("AutoContrast", x, value_range=[0, 255])
    want = _keras(x, (0, 255))
    assert want.dtype == np.float32  # Keras 3.15 never reaches its round-and-saturate branch
    _close(got, want)
    np.testing.assert_array_equal(got[0, :, :, 0], x[0, :, :, 0].astype("float32"))


def test_hand_derived_values() -> None:
    """One image, two channels: [10, 20, 30, 40] stretches to [0, 85, 170, 255]; the constant channel of 5s is kept."""
    x = np.array([[[[10.0, 5.0], [20.0, 5.0]], [[30.0, 5.0], [40.0, 5.0]]]], np.float32)
    got = run_layer("AutoContrast", x, value_range=[0, 255])
    np.testing.assert_allclose(got[..., 0], [[[0.0, 85.0], [170.0, 255.0]]], rtol=1e-6)
    np.testing.assert_array_equal(got[..., 1], x[..., 1])
    # value_range (0, 1): the same stretch, /255 back; a constant channel at 0 (0 * inf is NaN too) is kept
    x01 = np.concatenate([x[..., :1] / 100, np.zeros_like(x[..., :1])], axis=-1)
    got = run_layer("AutoContrast", x01, value_range=[0, 1])
    np.testing.assert_allclose(got[..., 0], [[[0.0, 1 / 3], [2 / 3, 1.0]]], rtol=1e-6)
    np.testing.assert_array_equal(got[..., 1], 0.0)
    # a +inf maximum: scale 0, the finite values become lo, the inf (inf * 0 = NaN) keeps its value
    xinf = np.array([[[[np.inf], [1.0]], [[2.0], [3.0]]]], np.float32)
    np.testing.assert_array_equal(run_layer("AutoContrast", xinf, value_range=[0, 255]), [[[[np.inf], [0.0]], [[0.0], [0.0]]]])
    # a NaN anywhere in a channel: the channel is returned as it was
    xnan = np.array([[[[np.nan], [1.0]], [[2.0], [3.0]]]], np.float32)
    np.testing.assert_array_equal(run_layer("AutoContrast", xnan, value_range=[0, 255]), xnan)


def test_reduction_is_over_axes_1_and_2_as_keras_s_even_for_channels_first() -> None:
    """Keras 3.15 ignores data_format here: a channels_first layer reduces [C, H] per column, as KIF's type does."""
    x = np.random.default_rng(5).uniform(0, 255, size=(2, 3, 4, 6)).astype("float32")
    want = _keras(x, (0, 255), data_format="channels_first")
    _close(run_layer("AutoContrast", x, value_range=[0, 255]), want)
    low, high = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(want, (x - low) * (255 / (high - low)), rtol=1e-5, atol=1e-4)  # by hand


def test_unbatched_keras_call_is_the_batched_kif_layer() -> None:
    x = _images(9, 0, 1)[:1]
    unbatched = np.asarray(keras.layers.AutoContrast(value_range=(0, 1))(x[0]))
    _close(run_layer("AutoContrast", x, value_range=[0, 1])[0], unbatched)


def _model(value_range: tuple[float, float], data_format: str = "channels_last", dtype: str = "float32") -> keras.Model:
    x_in = keras.Input((5, 4, 3), dtype=dtype)
    return keras.Model(x_in, keras.layers.AutoContrast(value_range=value_range, data_format=data_format, dtype=dtype)(x_in))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize(
    ("value_range", "data_format"), [((0, 255), "channels_last"), ((1, 0), "channels_first"), ((-1, 1), "channels_last")]
)
def test_converted_file_reproduces_keras(fmt: str, value_range: tuple[float, float], data_format: str, tmp_path: Path) -> None:
    src = tmp_path / f"model.{fmt}"
    _model(value_range, data_format).save(src)
    lo, hi = sorted(value_range)
    x = _images(1, lo, hi)
    expected = np.asarray(keras.saving.load_model(src, compile=False).predict(x, verbose=0))
    bundle = kif.load(convert(src, tmp_path / "model.kif"))
    (layer,) = bundle.layers
    assert (layer.type, layer.attributes) == ("AutoContrast", {"value_range": [lo, hi]})
    _close(kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name], expected)


def test_round_trip_through_to_keras(tmp_path: Path) -> None:
    model = _model((0, 1))
    bundle = export(model, tmp_path / "model.kif")
    rebuilt = to_keras(bundle)
    assert [type(layer).__name__ for layer in rebuilt.layers][-1] == "AutoContrast"
    x = _images(2, 0, 1)
    _close(np.asarray(rebuilt.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)))
    assert [(ly.type, ly.attributes) for ly in kif.load(export(rebuilt, tmp_path / "again.kif")).layers] == [
        (ly.type, ly.attributes) for ly in kif.load(bundle).layers
    ]


@pytest.mark.parametrize("dtype", ["float32", "float16", "uint8"])
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_torch_and_onnx_importers_match_keras(value_range: tuple[float, float], dtype: str, tmp_path: Path) -> None:
    x = _images(4, *value_range, dtype="float32")
    x = np.nan_to_num(x, nan=0.5, posinf=value_range[1]).astype(dtype) if dtype == "uint8" else x.astype(dtype)
    want = _keras(x, value_range)
    tol_dtype = "float16" if dtype == "float16" else "float32"
    model = one_layer("AutoContrast", [x], value_range=list(value_range))
    module = kif.torch.load(model)
    out = module(torch.from_numpy(x))
    _close((out[0] if isinstance(out, (list, tuple)) else out).numpy(), want, tol_dtype)
    (got,) = run_onnx(model, feeds_for([x]), tmp_path)
    _close(got, want, tol_dtype)


@pytest.mark.parametrize(("config", "message"), [*VALUE_RANGE_CASES, ({"value_range": [0, 1, 2]}, "value_range")])
def test_hostile_configs_are_one_conversion_error(config: dict[str, object], message: str, tmp_path: Path) -> None:
    src = tmp_path / "model.keras"
    _model((0, 255)).save(src)
    assert_one_conversion_error(src, "AutoContrast", message, tmp_path, **config)


@pytest.mark.parametrize(
    ("attrs", "shape"),
    [({"value_range": [1, 1]}, (None, 4, 4, 3)), ({"value_range": [2, 1]}, (None, 4, 4, 3)), ({"value_range": [0, 255]}, (None, 4, 3))],
)
def test_shape_rule_refuses_bad_bounds_and_ranks(attrs: dict[str, object], shape: tuple[int | None, ...]) -> None:
    with pytest.raises(ShapeError):
        AutoContrast.infer(attrs, [TensorType("float32", shape)], {})


def test_a_document_with_equal_bounds_is_a_shape_mismatch() -> None:
    b = kif.GraphBuilder("bad")
    b.output(b.add("AutoContrast", b.input("x", "float32", (None, 4, 4, 3)), name="ac", value_range=[1, 1]))
    with pytest.raises(KifError, match="lo < hi") as caught:
        b.build()
    assert caught.value.code == "shape-mismatch"
