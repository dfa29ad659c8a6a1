"""UpSampling2D(interpolation=bicubic/lanczos3/lanczos5/area) files written by Keras 3 on TensorFlow and by tf_keras
convert, reproduce TensorFlow, run through kif.torch, ONNX and to_keras; tf.keras's gaussian and mitchellcubic convert
too (their values: tests/layers/test_upsampling_tf.py); an unknown interpolation is refused naming the layer and option."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_upsampling"
FILES = ["keras3_model.h5", "keras3_model.keras", "tf_keras_model.h5"]


def _expected(name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    data = np.load(FIXTURES / (name.split(".")[0] + ".npz"))
    return data["x"], [data[f"y{i}"] for i in range(4)]


@pytest.mark.parametrize("name", FILES)
def test_converts_and_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    bundle = convert(FIXTURES / name, tmp_path / "model.kif")
    assert kif.validate(bundle).ok
    model = kif.load(bundle)
    assert [layer.attributes["interpolation"] for layer in model.layers] == ["bicubic", "lanczos3", "lanczos5", "area"]
    x, want = _expected(name)
    for got, y in zip(kif.run(model, {model.inputs[0].name: x}).values(), want, strict=True):
        np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5)


def test_importers_and_to_keras_reproduce_tensorflow(tmp_path: Path) -> None:
    import onnxruntime as ort
    import torch

    import kif.onnx
    import kif.torch
    from kif.keras import to_keras

    model = kif.load(convert(FIXTURES / "keras3_model.keras", tmp_path / "model.kif"))
    x, want = _expected("keras3_model")
    with torch.no_grad():
        torch_out = kif.torch.load(model)(torch.from_numpy(x))
    session = ort.InferenceSession(str(kif.onnx.export(model, tmp_path / "m.onnx")), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {model.inputs[0].name: x})
    rebuilt = to_keras(model)
    keras_out = [np.asarray(rebuilt.predict(x, verbose=0)[i]) for i in range(4)]
    for outputs in (torch_out, onnx_out, keras_out):
        for got, y in zip(outputs, want, strict=True):
            np.testing.assert_allclose(np.asarray(got), y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("interpolation", "converts"), [("gaussian", True), ("mitchellcubic", True), ("cubic", False)])
def test_tf_keras_only_interpolations_convert_and_unknown_ones_are_refused(interpolation: str, converts: bool, tmp_path: Path) -> None:
    import h5py

    src = tmp_path / "model.h5"
    src.write_bytes((FIXTURES / "tf_keras_model.h5").read_bytes())
    with h5py.File(src, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["interpolation"] = interpolation
        f.attrs["model_config"] = json.dumps(config)
    if converts:
        model = kif.load(convert(src, tmp_path / "out.kif"))
        assert model.layers[0].attributes["interpolation"] == interpolation
        return
    with pytest.raises(KifError, match=rf"UpSampling2D.*interpolation={interpolation!r}"):
        convert(src, tmp_path / "out.kif")


@pytest.mark.parametrize(
    ("kind", "name"), [("Resizing", "gaussian_down_aa1"), ("Resizing", "mitchellcubic_mixed_aa0"), ("UpSampling2D", "gaussian")]
)
def test_to_keras_computes_the_tf_keras_only_kernels(kind: str, name: str) -> None:
    """Keras 3 has no gaussian or mitchellcubic; to_keras's kif> layers compute TensorFlow's on Keras-torch."""
    from kif.keras import to_keras

    data = np.load(FIXTURES / ("tf_resize_extra.npz" if kind == "Resizing" else "tf_keras.npz"))
    x, y = data[f"{name}/x"], data[f"{name}/y"]
    b = kif.GraphBuilder("m")
    i = b.input("x", "float32", (None, *x.shape[1:]))
    if kind == "Resizing":
        attrs = {"height": y.shape[1], "width": y.shape[2], "interpolation": name.split("_")[0], "antialias": name.endswith("aa1")}
    else:
        attrs = {"size": [2, 3], "interpolation": name}
    b.output(b.add(kind, i, **attrs))
    np.testing.assert_allclose(np.asarray(to_keras(b.build()).predict(x, verbose=0)), y, rtol=1e-5, atol=1e-5)
