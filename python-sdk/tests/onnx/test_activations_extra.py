"""The activations added in KIF 0.2.0 through the ONNX exporter and ONNX Runtime, against Keras and hand values."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

from tests.layers.test_activations_extra import _projection
from tests.onnx.helpers import one_layer, run_onnx, tolerance

# Keras's own (with its defaults) is the oracle except for sparsemax, wrong in Keras <= 3.15 for supports > 1 (keras#23425).
NAMES = ["celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "squareplus",
         "tanh_shrink"]  # fmt: skip


def _x() -> np.ndarray:
    x = (np.random.default_rng(11).normal(size=(3, 8)) * 2).astype("float32")
    x[0] = [-1.0, -0.5, 0.5, 1.0, 0.0, -2.0, 2.0, 0.25]  # the kinks (|x| = 0.5 is not shrunk past zero: f = 0)
    return x


@pytest.mark.parametrize("name", NAMES)
def test_activation_through_onnx_matches_keras(name: str, tmp_path: Path) -> None:
    x = _x()
    (got,) = run_onnx(one_layer("Activation", [x], activation=name), {"in0": x}, tmp_path)
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **tolerance("Activation"), err_msg=name)


def test_sparsemax_through_onnx_is_the_projection(tmp_path: Path) -> None:
    x = _x() * 0.3
    x[1, :3] = 0.4  # ties in the support
    (got,) = run_onnx(one_layer("Activation", [x], activation="sparsemax"), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, _projection(x), rtol=1e-5, atol=1e-6)
    assert ((got > 0).sum(axis=-1) > 1).any()


def test_squareplus_through_onnx_has_no_overflow(tmp_path: Path) -> None:
    x = np.array([[-3e38, -1e4, 0.0, 1e4, 3e38]], dtype="float32")
    (got,) = run_onnx(one_layer("Activation", [x], activation="squareplus"), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, [[1 / 3e38, 1e-4, 1.0, 1e4, 3e38]], rtol=1e-5)  # x for large x, about 1/|x| for very negative x


def test_dense_with_glu_through_onnx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5)).astype("float32")
    kernel = rng.normal(size=(5, 6)).astype("float32")
    model = one_layer("Dense", [x], {"kernel": kernel}, units=6, activation="glu", use_bias=False)
    (got,) = run_onnx(model, {"in0": x}, tmp_path)
    y = x @ kernel
    np.testing.assert_allclose(got, y[:, :3] / (1 + np.exp(-y[:, 3:])), rtol=1e-5, atol=1e-6)


def test_recurrent_layers_with_new_activations_match_keras_in_every_runtime(tmp_path: Path) -> None:
    """LSTM/GRU/SimpleRNN with 0.2.0 activations: the ONNX Scan body, the torch step loop and NumPy against Keras."""
    import torch

    import kif
    import kif.torch
    from kif.keras import export

    rng = np.random.default_rng(6)
    x_in = keras.Input((5, 3))
    outs = [
        keras.layers.LSTM(4, activation="hard_tanh", recurrent_activation="sparse_sigmoid", return_sequences=True)(x_in),
        keras.layers.GRU(3, activation="soft_shrink", recurrent_activation="log_sigmoid")(x_in),
        keras.layers.SimpleRNN(2, activation="squareplus")(x_in),
    ]
    model = keras.Model(x_in, outs)
    for v in model.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.5)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    want = model.predict(x, verbose=0)
    bundle = kif.load(export(model, tmp_path / "rnn.kif"))
    name = bundle.inputs[0].name
    reference = list(kif.run(bundle, {name: x}).values())
    onnx_outs = run_onnx(bundle, {name: x}, tmp_path)
    with torch.no_grad():
        torch_outs = [t.numpy() for t in kif.torch.load(bundle)(torch.from_numpy(x))]
    for runtime, got in (("numpy", reference), ("onnx", onnx_outs), ("torch", torch_outs)):
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"{runtime} output {index}")
