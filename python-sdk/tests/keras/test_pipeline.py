"""keras.layers.Pipeline converts by flattening: each inner layer becomes what it maps to alone, chained in order.

Oracle: Keras 3 (torch backend) predicting from the file it saved (a live model's Normalization inside a Pipeline
holds meta-device tensors on torch, so the reloaded model is the reference), and a hand-derived NumPy computation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from keras import layers as L

import kif
from kif.errors import KifError
from kif.keras import convert
from tests._keras_zip import rewrite_config

RNG = np.random.default_rng(0)
DATA = RNG.uniform(0, 255, size=(16, 6, 6, 3)).astype("float32") / 255.0
SRC = Path(__file__).resolve().parents[2] / "src"


def _normalization() -> Any:
    layer = L.Normalization(axis=-1)
    layer.adapt(DATA)  # mean and variance become stored weights (vars/0, vars/1, vars/2)
    return layer


def _head(model: keras.Model) -> None:
    rng = np.random.default_rng(1)
    model.get_layer("head").set_weights([rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=4).astype("float32")])


def _flat() -> keras.Model:
    pipeline = L.Pipeline([L.Rescaling(1 / 255.0), L.CenterCrop(6, 6), _normalization(), L.RandomFlip(seed=2)])
    x_in = keras.Input((8, 8, 3))
    model = keras.Model(x_in, L.Dense(4, name="head")(pipeline(x_in)))
    _head(model)
    return model


def _nested() -> keras.Model:
    inner = L.Pipeline([L.RandomRotation(0.3), _normalization()], name="inner")
    outer = L.Pipeline([L.Rescaling(1 / 255.0), L.CenterCrop(6, 6), inner, L.RandomFlip()], name="outer")
    model = keras.Sequential([keras.Input((8, 8, 3)), outer, L.Dense(4, name="head")])
    _head(model)
    return model


def _hand(model: keras.Model, x: np.ndarray, norm: Any) -> np.ndarray:
    """Rescaling, the centre 6x6 crop, Normalization by the adapted statistics, identity augmentations, Dense."""
    mean, var = (np.asarray(keras.ops.convert_to_numpy(v)).reshape(-1) for v in (norm.mean, norm.variance))
    y = (x / 255.0)[:, 1:7, 1:7, :]
    y = (y - mean) / np.sqrt(np.maximum(var, 1e-7))
    kernel, bias = model.get_layer("head").get_weights()
    return y @ kernel + bias  # type: ignore[no-any-return]


def _normalization_of(model: keras.Model) -> Any:
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, L.Normalization):
            return layer
        stack.extend(getattr(layer, "layers", []) if isinstance(layer, L.Pipeline) else [])
    raise AssertionError("no Normalization")


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("build", [_flat, _nested], ids=["flat", "nested"])
def test_pipeline_converts_and_matches_keras(build: Any, fmt: str, tmp_path: Path) -> None:
    src = tmp_path / f"model.{fmt}"
    build().save(src)
    reloaded = keras.saving.load_model(src, compile=False)
    x = np.random.default_rng(3).uniform(0, 255, size=(2, 8, 8, 3)).astype("float32")
    expected = np.asarray(reloaded.predict(x, verbose=0))
    bundle = kif.load(convert(src, tmp_path / "model.kif"))
    types = [layer.type for layer in bundle.layers]
    middle = ["Augmentation", "Normalization", "Augmentation"] if build is _nested else ["Normalization", "Augmentation"]
    assert types == ["Rescaling", "CenterCrop", *middle, "Dense"]  # flattened in order, nothing else added
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, _hand(reloaded, x, _normalization_of(reloaded)), rtol=1e-4, atol=1e-4)


def _keras_with_config(tmp_path: Path, edit: Any) -> Path:
    """A real .keras file of the flat model whose config.json ``edit`` rewrote (the Pipeline's config is passed)."""
    src = tmp_path / "good.keras"
    _flat().save(src)

    def edit_pipeline(config: dict[str, Any]) -> None:
        edit(next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Pipeline")["config"])

    return rewrite_config(src, tmp_path / "hostile.keras", edit_pipeline)


def _too_deep(config: dict[str, Any]) -> None:
    entry = {"module": "keras.layers", "class_name": "Rescaling", "config": {"name": "r", "scale": 1.0, "offset": 0.0}}
    for depth in range(9):
        entry = {"module": "keras.layers", "class_name": "Pipeline", "config": {"name": f"p{depth}", "layers": [entry]}}
    config["layers"] = [entry]


def _inner_model(config: dict[str, Any]) -> None:
    inner = keras.Sequential([keras.Input((8, 8, 3)), L.Rescaling(2.0)], name="seq")
    config["layers"] = [json.loads(json.dumps(keras.saving.serialize_keras_object(inner)))]


HOSTILE = {
    "layers not a list": (lambda c: c.update(layers={"a": 1}), "'layers' to be an array"),
    "an inner layer not an object": (lambda c: c.update(layers=[3]), "a layer object"),
    "nested too deep": (_too_deep, "nested at most 8 deep"),
    "a model inside": (_inner_model, "inner layer 'seq' is a Sequential model"),
    "an unknown inner class": (lambda c: c["layers"][1].update(class_name="Nope"), "(Nope): unknown layer class"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_pipeline_config_is_one_kif_error(case: str, tmp_path: Path) -> None:
    edit, fragment = HOSTILE[case]
    src = _keras_with_config(tmp_path, edit)
    with pytest.raises(KifError) as raised:
        convert(src, tmp_path / "out.kif")
    assert fragment in str(raised.value)
    assert not (tmp_path / "out.kif").exists()


def test_hostile_pipeline_cli_is_one_line(tmp_path: Path) -> None:
    src = _keras_with_config(tmp_path, _too_deep)
    env = {**os.environ, "PYTHONPATH": str(SRC), "KERAS_BACKEND": "torch"}
    done = subprocess.run(
        [sys.executable, "-m", "kif", "convert", str(src), str(tmp_path / "o.kif")], capture_output=True, text=True, env=env
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "convert-config" in done.stderr


def test_a_shared_pipeline_is_flattened_per_call_and_converts_back(tmp_path: Path) -> None:
    pipeline = L.Pipeline([L.Rescaling(0.5, offset=1.0), L.RandomFlip()])
    a, b = keras.Input((4, 4, 3)), keras.Input((4, 4, 3))
    keras.Model([a, b], L.Subtract()([pipeline(a), pipeline(b)])).save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    x, y = (np.random.default_rng(s).uniform(size=(2, 4, 4, 3)).astype("float32") for s in (4, 5))
    expected = np.asarray(reloaded.predict([x, y], verbose=0))
    np.testing.assert_allclose(expected, (x - y) * 0.5, rtol=1e-6, atol=1e-6)  # hand-derived
    bundle = kif.load(convert(tmp_path / "model.keras", tmp_path / "model.kif"))
    assert [layer.type for layer in bundle.layers].count("Rescaling") == 2
    feeds = {bundle.inputs[0].name: x, bundle.inputs[1].name: y}
    np.testing.assert_allclose(kif.run(bundle, feeds)[bundle.outputs[0].name], expected, rtol=1e-6, atol=1e-6)
    rebuilt = kif.keras.to_keras(tmp_path / "model.kif")
    np.testing.assert_allclose(rebuilt.predict([x, y], verbose=0), expected, rtol=1e-6, atol=1e-6)
