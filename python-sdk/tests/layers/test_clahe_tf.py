"""ContrastLimitedAdaptiveHistogramEqualization against TensorFlow: goldens written by Keras 3 on its TensorFlow
backend (tests/fixtures/tf_clahe/generate.py), the reading the spec page follows where Keras-torch departs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import torch

import kif
import kif.torch
from kif.keras import convert, to_keras
from kif.keras.to_keras import register_keras_objects
from tests.layers.harness import run_layer
from tests.onnx.helpers import one_layer

TYPE = "ContrastLimitedAdaptiveHistogramEqualization"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_clahe"
CONFIGS: dict[str, dict] = json.loads((FIXTURES / "cases.json").read_text())
TOL = {"rtol": 1e-4, "atol": 1e-3}  # the spec's float32 class


def _attrs(config: dict) -> dict[str, object]:
    return {k: list(v) if isinstance(v, list) else v for k, v in config.items()}


def _case(name: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = np.load(FIXTURES / "cases.npz")
    return arrays[f"{name}/x"], arrays[f"{name}/y"]


def test_fixture_comes_from_keras3_on_tensorflow() -> None:
    producer = json.loads((FIXTURES / "producer.json").read_text())
    assert producer["keras"].startswith("3.") and "tensorflow" in producer
    assert len(CONFIGS) >= 15


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_runtime_matches_tensorflow(name: str) -> None:
    x, want = _case(name)
    got = run_layer(TYPE, x, **_attrs(CONFIGS[name]))
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_torch_importer_matches_tensorflow(name: str) -> None:
    x, want = _case(name)
    out = kif.torch.load(one_layer(TYPE, [x], **_attrs(CONFIGS[name])))(torch.from_numpy(x))
    got = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("name", ["default_high_contrast", "low_contrast_grid3x4_clip4", "gradient_odd_default"])
def test_these_goldens_are_where_keras_torch_departs(name: str) -> None:
    """Fractional clip limits and padding beyond one row: Keras-torch (int64 histograms, edge padding) differs from
    TensorFlow, so only TF's own outputs can check them."""
    x, want = _case(name)
    config = CONFIGS[name]
    torch_keras = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(
        value_range=tuple(config["value_range"]), clip_limit=config["clip_limit"], tile_grid_size=tuple(config["tile_grid_size"])
    )
    assert np.abs(np.asarray(torch_keras(x)) - want).max() > 1


def test_model_file_written_by_tensorflow_converts_and_reproduces_it(tmp_path: Path) -> None:
    bundle = kif.load(convert(FIXTURES / "model.keras", tmp_path / "model.kif"))
    assert [ly.type for ly in bundle.layers] == [TYPE] * 3
    arrays = np.load(FIXTURES / "model.npz")
    x = arrays["x"]
    want = [arrays[f"y{i}"] for i in range(3)]
    got = kif.run(bundle, {bundle.inputs[0].name: x})
    for out, expected in zip(bundle.outputs, want, strict=True):
        np.testing.assert_allclose(got[out.name], expected, **TOL)
    module_out = kif.torch.load(bundle)(torch.from_numpy(x))
    outs = module_out if isinstance(module_out, (list, tuple)) else [module_out]
    for t, expected in zip(outs, want, strict=True):
        np.testing.assert_allclose(t.numpy(), expected, **TOL)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_keras_importer_matches_tensorflow_on_torch(name: str, tmp_path: Path) -> None:
    """to_keras rebuilds the layer with TF's reading, so Keras-torch reproduces TF's goldens too."""
    x, want = _case(name)
    rebuilt = to_keras(one_layer(TYPE, [x], **_attrs(CONFIGS[name])))
    assert type(rebuilt.layers[-1]).__name__ == TYPE
    np.testing.assert_allclose(np.asarray(rebuilt.predict(x, verbose=0)), want, **TOL)


def test_rebuilt_model_saves_loads_and_exports_the_same_layer(tmp_path: Path) -> None:
    bundle = kif.load(convert(FIXTURES / "model.keras", tmp_path / "model.kif"))
    rebuilt = to_keras(bundle)
    rebuilt.save(tmp_path / "rebuilt.keras")
    register_keras_objects()
    loaded = keras.saving.load_model(tmp_path / "rebuilt.keras", compile=False)
    arrays = np.load(FIXTURES / "model.npz")
    for got, i in zip(loaded.predict(arrays["x"], verbose=0), range(3), strict=True):
        np.testing.assert_allclose(np.asarray(got), arrays[f"y{i}"], **TOL)
    again = kif.load(convert(tmp_path / "rebuilt.keras", tmp_path / "again.kif"))
    assert [(ly.type, ly.attributes) for ly in again.layers] == [(ly.type, ly.attributes) for ly in bundle.layers]
