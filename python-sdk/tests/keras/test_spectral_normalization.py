"""Keras 3 SpectralNormalization converts to the wrapped layer with its stored kernel: at inference Keras calls the
wrapped layer as it is (the normalization runs only in training and writes the kernel back). Oracle: Keras 3 (torch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

import kif
from kif.keras import convert

RNG = np.random.default_rng(4)


def _models() -> dict[str, tuple[keras.Model, np.ndarray]]:
    inp = keras.Input((6,))
    dense = keras.Model(inp, keras.layers.SpectralNormalization(keras.layers.Dense(4, activation="tanh"), power_iterations=2)(inp))
    img = keras.Input((5, 5, 2))
    conv = keras.layers.SpectralNormalization(keras.layers.Conv2D(3, 3, padding="same"))
    conv_model = keras.Model(img, keras.layers.Dense(2)(conv(img)))
    return {
        "dense": (dense, RNG.normal(size=(3, 6)).astype("float32")),
        "conv": (conv_model, RNG.normal(size=(2, 5, 5, 2)).astype("float32")),
    }


def _train_steps(model: keras.Model, x: np.ndarray) -> None:
    """Training-mode calls: the power iteration updates vector_u and writes kernel / sigma into the wrapped layer."""
    for layer in model.layers:
        layer.set_weights([w + RNG.normal(0, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
    for _ in range(3):
        model(x, training=True)


def _save(model: keras.Model, fmt: str, tmp_path: Path) -> tuple[Path, Path | None]:
    if fmt == "json":
        (tmp_path / "model.json").write_text(model.to_json())
        model.save_weights(tmp_path / "model.weights.h5")
        return tmp_path / "model.json", tmp_path / "model.weights.h5"
    model.save(tmp_path / f"model.{fmt}")
    return tmp_path / f"model.{fmt}", None


@pytest.mark.parametrize("fmt", ["keras", "h5", "json"])
@pytest.mark.parametrize("name", ["dense", "conv"])
def test_spectral_normalization_is_the_wrapped_layer(name: str, fmt: str, tmp_path: Path) -> None:
    model, x = _models()[name]
    _train_steps(model, x)
    src, weights = _save(model, fmt, tmp_path)
    bundle = convert(src, tmp_path / "model.kif", weights=weights)
    assert kif.validate(bundle).ok
    converted = kif.load(bundle)
    assert converted.layers[0].type == ("Dense" if name == "dense" else "Conv2D")
    assert not any("vector_u" in w for w in converted.weights)
    got = next(iter(kif.run(converted, {converted.inputs[0].name: x}).values()))
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_inference_uses_the_stored_kernel_as_is() -> None:
    """Hand-derived: after training calls, predict is tanh(x @ kernel + bias) with the kernel as stored, not divided again."""
    model, x = _models()["dense"]
    _train_steps(model, x)
    sn = model.layers[-1]
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in (sn.layer.kernel, sn.layer.bias))
    assert abs(np.linalg.norm(kernel, 2) - 1) < 0.05, "training wrote a spectrally normalized kernel back"
    np.testing.assert_allclose(model.predict(x, verbose=0), np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-5)
