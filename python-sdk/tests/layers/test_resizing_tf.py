"""Resizing with every tf.image.resize method: the reference runtime, the torch and ONNX importers, the Keras
converter and to_keras reproduce TensorFlow's outputs.

Oracle: fixtures written by Keras 3 on TensorFlow (tests/fixtures/tf_signal/generate.py, run by hand): TensorFlow
defines bicubic, lanczos3, lanczos5 and area, which Keras on torch lacks or computes differently. Hand-derived
values pin the area rule and the bicubic 1/1024 quantisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif import catalog
from kif.keras import convert
from kif.layers._resize import axis_weights
from kif.layers._resize_filters import scale_and_translate
from tests.layers.harness import run_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_signal"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "resize.json").read_text(encoding="utf-8"))
ARRAYS = np.load(FIXTURES / "resize.npz")
KEYS = ("height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_value", "antialias", "data_format")


def _attrs(name: str) -> dict[str, Any]:
    return {k: CASES[name][k] for k in KEYS}


def _check(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype == np.uint8:
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # rounding of a value within float error of a half
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_fixture_covers_every_interpolation_and_option() -> None:
    seen = {(c["interpolation"], c["antialias"]) for c in CASES.values()}
    assert seen >= {(i, a) for i in ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area") for a in (False, True)}
    assert any(c["crop_to_aspect_ratio"] for c in CASES.values()) and any(c["pad_to_aspect_ratio"] for c in CASES.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_runtime_reproduces_tensorflow(name: str) -> None:
    _check(run_layer("Resizing", ARRAYS[f"{name}/x"], **_attrs(name)), ARRAYS[f"{name}/y"])


@pytest.mark.parametrize("name", sorted(n for n in CASES if "_down_" in n or "_up_aa1" in n or "crop" in n or "pad" in n or "uint8" in n))
def test_torch_importer_reproduces_tensorflow(name: str) -> None:
    from tests.torch.harness import run_torch

    _check(run_torch("Resizing", ARRAYS[f"{name}/x"], **_attrs(name)), ARRAYS[f"{name}/y"])


@pytest.mark.parametrize("name", sorted(n for n in CASES if "_mixed_" in n or "crop" in n or "pad" in n or "uint8" in n or "first" in n))
def test_onnx_importer_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import one_layer, run_onnx

    x = ARRAYS[f"{name}/x"]
    (got,) = run_onnx(one_layer("Resizing", [x], static=True, **_attrs(name)), {"in0": x}, tmp_path)
    _check(np.asarray(got), ARRAYS[f"{name}/y"])


def test_area_by_hand() -> None:
    """TensorFlow's own worked example: 4 cells to 3 (s = 4/3) average [0, 4/3), [4/3, 8/3), [8/3, 4)."""
    v = np.array([1.0, 2.0, 4.0, 8.0])
    want = [(1 + 2 / 3) * 0.75, (2 / 3 * 2 + 2 / 3 * 4) * 0.75, (1 / 3 * 4 + 8) * 0.75]
    np.testing.assert_allclose(axis_weights(4, 3, "area") @ v, want, rtol=1e-6)
    np.testing.assert_allclose(axis_weights(2, 4, "area") @ np.array([3.0, 5.0]), [3, 3, 5, 5], rtol=1e-6)  # upscaling repeats


def test_bicubic_uses_keys_a_minus_half_quantised_to_1024ths() -> None:
    """Upscaling 5 -> 9: u = (o + 0.5) * 5/9 - 0.5. Row 4 has u = 2 exactly: weight 1 on cell 2. The unquantised
    kernel (what antialias=True uses) differs by up to ~4e-4, so the quantisation is part of the definition."""
    w = axis_weights(5, 9, "bicubic")
    np.testing.assert_allclose(w[4], [0, 0, 1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    assert np.abs(w - scale_and_translate(5, 9, "bicubic", False)).max() > 1e-4
    u = 0.5 * 5 / 9 - 0.5  # row 0: taps -2..1, of which -2 and -1 fall outside and are dropped
    t = round((u - np.floor(u)) * 1024) / 1024
    k = lambda x: (1.5 * x - 2.5) * x * x + 1 if x < 1 else ((-0.5 * x + 2.5) * x - 4) * x + 2  # noqa: E731
    inside = np.array([k(1 - t), k(2 - t)])
    np.testing.assert_allclose(w[0, :2], inside / inside.sum(), rtol=1e-6)


def test_new_interpolations_need_spec_0_2_0() -> None:
    layer = {"type": "Resizing", "attributes": {"interpolation": "lanczos3"}}
    assert catalog.required_version([layer]) == "0.2.0"
    assert catalog.required_version([{"type": "Resizing", "attributes": {"interpolation": "bilinear"}}]) == "0.1.0"


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras3_file_converts_and_reproduces_tensorflow(suffix: str, tmp_path: Path) -> None:
    bundle = convert(FIXTURES / f"resize_model{suffix}", tmp_path / "model.kif")
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    data = np.load(FIXTURES / "resize_model.npz")
    model = kif.load(bundle)
    assert model.kif_version == "0.2.0"
    outputs = list(kif.run(model, {"image": data["x"]}).values())
    assert len(outputs) == 6
    for i, got in enumerate(outputs):
        np.testing.assert_allclose(got, data[f"y{i}"], rtol=1e-5, atol=1e-5, err_msg=f"output {i}")


def test_to_keras_rebuild_reproduces_tensorflow_on_torch(tmp_path: Path) -> None:
    """Keras on torch has no lanczos or area: the rebuilt layer (kif>Resizing) computes TensorFlow's rule."""
    import keras

    from kif.keras import export, to_keras
    from kif.keras.to_keras import register_keras_objects

    rebuilt = to_keras(convert(FIXTURES / "resize_model.keras", tmp_path / "model.kif"))
    data = np.load(FIXTURES / "resize_model.npz")
    outs = rebuilt.predict(data["x"], verbose=0)
    for i, got in enumerate(outs):
        np.testing.assert_allclose(np.asarray(got), data[f"y{i}"], rtol=1e-5, atol=1e-5, err_msg=f"output {i}")
    rebuilt.save(tmp_path / "rebuilt.keras")
    register_keras_objects()
    again = keras.models.load_model(tmp_path / "rebuilt.keras")
    np.testing.assert_allclose(np.asarray(again.predict(data["x"], verbose=0)[1]), data["y1"], rtol=1e-5, atol=1e-5)
    exported = kif.load(export(rebuilt, tmp_path / "back.kif"))
    methods = [layer.attributes["interpolation"] for layer in exported.layers if layer.type == "Resizing"]
    assert methods == ["bicubic", "lanczos3", "lanczos5", "area", "bicubic", "lanczos3"]


def test_unknown_interpolation_is_refused_naming_the_option(tmp_path: Path) -> None:
    """A method tf.image.resize does not have: one error, nothing written (gaussian and mitchellcubic, tf.keras 2's, are
    defined since 0.2.0: tests/layers/test_upsampling_tf.py)."""
    from kif.errors import KifError

    model = kif.GraphBuilder("r")
    x = model.input("x", "float32", (None, 4, 4, 1))
    with pytest.raises(KifError, match="interpolation"):
        model.add("Resizing", x, height=2, width=2, interpolation="cubic")
