"""ContrastLimitedAdaptiveHistogramEqualization (spec/layers/ContrastLimitedAdaptiveHistogramEqualization.md).

Oracles: Keras 3 (torch backend) where its reading agrees with TensorFlow's (integral clip limit in counts, padding
of at most one row and column, or an image pre-padded symmetrically), and hand-derived values where it departs.
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
import kif.onnx
import kif.torch
from kif.errors import KifError
from kif.keras import convert, export, to_keras
from kif.layers.clahe import ContrastLimitedAdaptiveHistogramEqualization as Clahe
from kif.layers.registry import ShapeError, TensorType
from tests._keras_zip import VALUE_RANGE_CASES, assert_one_conversion_error
from tests.layers.harness import run_layer
from tests.onnx.helpers import one_layer

TYPE = "ContrastLimitedAdaptiveHistogramEqualization"
TOL = {"rtol": 1e-4, "atol": 1e-3}  # the schema's float32 class


def _attrs(
    value_range: tuple[float, float] = (0, 255),
    clip_limit: float = 4.0,
    tile_grid_size: tuple[int, int] = (8, 8),
    data_format: str = "channels_last",
) -> dict[str, object]:
    return {"value_range": list(value_range), "clip_limit": clip_limit, "tile_grid_size": list(tile_grid_size), "data_format": data_format}


def _images(seed: int, shape: tuple[int, ...], value_range: tuple[float, float] = (0, 255), low: int = 0, high: int = 256) -> np.ndarray:
    """Integers in the [0, 255] scale (the bin of each pixel is then exact), mapped to value_range."""
    u = np.random.default_rng(seed).integers(low, high, size=shape).astype("float32")
    lo, hi = value_range
    return u if (lo, hi) == (0, 255) else (u / np.float32(255) * np.float32(hi - lo) + np.float32(lo)).astype("float32")


def _keras(x: np.ndarray, **kwargs: object) -> np.ndarray:
    return np.asarray(keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)(x))


# (shape, tile_grid_size, clip_limit, value_range, data_format): clip_limit * tile pixels / 256 is an integer or <= 0
AGREE = [
    ((2, 16, 16, 3), (2, 2), 4.0, (0, 255), "channels_last"),  # tiles of 64: limit 1
    ((1, 16, 16, 2), (2, 2), 8.0, (0, 1), "channels_last"),  # limit 2
    ((1, 2, 11, 9), (2, 3), 0.0, (-1, 1), "channels_first"),  # no clip; padding one row
    ((1, 12, 20, 1), (3, 5), 0.0, (0, 255), "channels_last"),  # no clip; tiles 4 x 4
]


@pytest.mark.parametrize(("shape", "grid", "clip", "value_range", "data_format"), AGREE)
def test_kernel_matches_keras(
    shape: tuple[int, ...], grid: tuple[int, int], clip: float, value_range: tuple[float, float], data_format: str
) -> None:
    x = _images(sum(shape), shape, value_range, 40, 200)
    want = _keras(x, value_range=value_range, tile_grid_size=grid, clip_limit=clip, data_format=data_format)
    got = run_layer(TYPE, x, **_attrs(value_range, clip, grid, data_format))
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL)


def test_computes_at_inference_in_model_predict() -> None:
    x = _images(3, (1, 16, 16, 1), low=100, high=110)
    i = keras.Input((16, 16, 1))
    model = keras.Model(i, keras.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2), clip_limit=40.0)(i))
    want = model.predict(x, verbose=0)
    assert np.abs(want - x).max() > 50  # not the identity
    np.testing.assert_allclose(run_layer(TYPE, x, **_attrs(clip_limit=40.0, tile_grid_size=(2, 2))), want, **TOL)


def test_padding_beyond_one_row_is_symmetric_as_tensorflow_s() -> None:
    """Keras-torch pads by replication; the oracle is Keras on the image padded symmetrically by NumPy, then cropped."""
    x = _images(7, (1, 13, 10, 2), low=20, high=230)
    padded = np.pad(x, [(0, 0), (0, 2), (0, 2), (0, 0)], mode="symmetric")  # grid 3 x 4: tiles 5 x 3
    want = _keras(padded, tile_grid_size=(3, 4), clip_limit=0.0)[:, :13, :10]
    np.testing.assert_allclose(run_layer(TYPE, x, **_attrs(clip_limit=0.0, tile_grid_size=(3, 4))), want, **TOL)


def test_fractional_clip_limit_by_hand() -> None:
    """One tile of [[0, 0], [0, 128]], clip_limit 4: limit 4*4/256 = 1/16; Keras-torch truncates it to 0 (identity)."""
    x = np.array([[[[0.0], [0.0]], [[0.0], [128.0]]]], np.float32)
    got = run_layer(TYPE, x, **_attrs(clip_limit=4.0, tile_grid_size=(1, 1)))
    limit = 4 * 4 / 256
    excess = (3 - limit) + (1 - limit)
    hist = np.full(256, excess / 256)
    hist[[0, 128]] += limit
    cdf = np.cumsum(hist)
    lut = (cdf - cdf[0]) * 255 / (4 - cdf[0])
    np.testing.assert_allclose(got[0, :, :, 0], [[0.0, 0.0], [0.0, lut[128]]], rtol=1e-5)
    assert abs(lut[128] - 128) > 1  # where Keras-torch (integer histograms) returns 128


def _model(shape: tuple[int, ...] = (16, 16, 3), **kwargs: object) -> keras.Model:
    x_in = keras.Input(shape)
    return keras.Model(x_in, keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)(x_in))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_converted_file_reproduces_keras(fmt: str, tmp_path: Path) -> None:
    src = tmp_path / f"model.{fmt}"
    _model(value_range=(0, 1), tile_grid_size=(2, 2), clip_limit=4.0).save(src)
    x = _images(1, (2, 16, 16, 3), (0, 1))
    expected = np.asarray(keras.saving.load_model(src, compile=False).predict(x, verbose=0))
    bundle = kif.load(convert(src, tmp_path / "model.kif"))
    (layer,) = bundle.layers
    assert (layer.type, layer.attributes) == (TYPE, _attrs((0, 1), 4.0, (2, 2)))
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    np.testing.assert_allclose(got, expected, **TOL)


def test_round_trip_through_to_keras(tmp_path: Path) -> None:
    model = _model(tile_grid_size=(2, 2), clip_limit=8.0)
    bundle = export(model, tmp_path / "model.kif")
    rebuilt = to_keras(bundle)
    assert type(rebuilt.layers[-1]).__name__ == TYPE
    x = _images(2, (1, 16, 16, 3))
    np.testing.assert_allclose(np.asarray(rebuilt.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)), **TOL)
    assert [(ly.type, ly.attributes) for ly in kif.load(export(rebuilt, tmp_path / "again.kif")).layers] == [
        (ly.type, ly.attributes) for ly in kif.load(bundle).layers
    ]


@pytest.mark.parametrize(("shape", "grid", "clip", "value_range", "data_format"), AGREE)
def test_torch_importer_matches_keras(
    shape: tuple[int, ...], grid: tuple[int, int], clip: float, value_range: tuple[float, float], data_format: str
) -> None:
    x = _images(sum(shape), shape, value_range, 40, 200)
    want = _keras(x, value_range=value_range, tile_grid_size=grid, clip_limit=clip, data_format=data_format)
    module = kif.torch.load(one_layer(TYPE, [x], **_attrs(value_range, clip, grid, data_format)))
    out = module(torch.from_numpy(x))
    np.testing.assert_allclose((out[0] if isinstance(out, (list, tuple)) else out).numpy(), want, **TOL)


def test_torch_importer_follows_tensorflow_where_keras_torch_departs() -> None:
    """Symmetric padding of two rows and a fractional clip limit: the torch module equals the reference kernel."""
    x = _images(8, (1, 13, 10, 2), low=20, high=230)
    attrs = _attrs(clip_limit=3.0, tile_grid_size=(3, 4))
    out = kif.torch.load(one_layer(TYPE, [x], **attrs))(torch.from_numpy(x))
    got = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    np.testing.assert_allclose(got, run_layer(TYPE, x, **attrs), **TOL)
    assert np.abs(got - _keras(x, tile_grid_size=(3, 4), clip_limit=3.0)).max() > 1  # Keras-torch departs here


def test_onnx_refuses_with_the_reason(tmp_path: Path) -> None:
    from kif.onnx import support

    with pytest.raises(KifError, match="histogram") as caught:
        kif.onnx.export(kif.load(export(_model(), tmp_path / "model.kif")), tmp_path / "model.onnx")
    assert "histogram" in support.reason(TYPE) and TYPE in str(caught.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [*VALUE_RANGE_CASES, ({"tile_grid_size": [0, 2]}, "tile_grid_size"), ({"clip_limit": "big"}, "clip_limit")],
)
def test_hostile_configs_are_one_conversion_error(config: dict[str, object], message: str, tmp_path: Path) -> None:
    src = tmp_path / "model.keras"
    _model().save(src)
    assert_one_conversion_error(src, TYPE, message, tmp_path, **config)


@pytest.mark.parametrize(
    ("attrs", "shape", "dtype"),
    [
        (_attrs((1, 1)), (None, 4, 4, 3), "float32"),
        (_attrs(), (None, 4, 3), "float32"),
        (_attrs(), (None, 4, 4, 3), "uint8"),
        (_attrs(tile_grid_size=(0, 1)), (None, 4, 4, 3), "float32"),
        (_attrs(tile_grid_size=(8, 8)), (None, 1, 16, 3), "float32"),  # padding 7 rows > 1 row: TF refuses
    ],
)
def test_shape_rule_refuses(attrs: dict[str, object], shape: tuple[int | None, ...], dtype: str) -> None:
    with pytest.raises(ShapeError):
        Clahe.infer(attrs, [TensorType(dtype, shape)], {})


def test_a_huge_tile_grid_is_refused_before_it_allocates() -> None:
    """Tiles of one pixel on a 4000 x 4000 image need ~4e9 histogram bins: limit-exceeded, not a MemoryError."""
    b = kif.GraphBuilder("big")
    b.output(b.add(TYPE, b.input("x", "float32", (1, 4000, 4000, 1)), name="clahe", **_attrs(tile_grid_size=(4000, 4000))))
    with pytest.raises(KifError) as caught:
        kif.run(b.build(), {"x": np.zeros((1, 4000, 4000, 1), np.float32)})
    assert caught.value.code == "limit-exceeded" and "working array" in str(caught.value)
