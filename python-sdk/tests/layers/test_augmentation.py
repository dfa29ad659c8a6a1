"""Augmentation: every Keras data augmentation layer converts from a real file and is the identity at inference.

Oracle: Keras 3 (torch backend) predicting from the file it saved, and for tf.keras 2 files (TF 2.3-2.5 class names
and configs, written with h5py in tf.keras's layout) a hand-derived NumPy Dense after the identity.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from keras import layers as L

import kif
from kif.errors import KifError
from kif.keras import convert, to_keras
from kif.keras.augment_map import CLASSES
from tests._keras_zip import rewrite_config
from tests.keras.test_traps import _write_legacy_h5

SHAPE = (10, 12, 3)
FACTORIES: dict[str, Callable[[], Any]] = {
    "AugMix": lambda: L.AugMix(value_range=(0, 1)),
    "CutMix": lambda: L.CutMix(factor=0.5),
    "MaxNumBoundingBoxes": lambda: L.MaxNumBoundingBoxes(5),  # boxes only: the image passes unchanged
    "MixUp": lambda: L.MixUp(alpha=0.3),
    "RandAugment": lambda: L.RandAugment(value_range=(0, 1), num_ops=3),
    "RandomBrightness": lambda: L.RandomBrightness(0.4, value_range=(0, 1)),
    "RandomColorDegeneration": lambda: L.RandomColorDegeneration(0.5),
    "RandomColorJitter": lambda: L.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, hue_factor=0.3),
    "RandomContrast": lambda: L.RandomContrast(0.5),
    "RandomCrop": lambda: L.RandomCrop(10, 12),  # the input's size: Keras's symbolic shape agrees with what it computes
    "RandomElasticTransform": lambda: L.RandomElasticTransform(factor=1.0, scale=0.5, value_range=(0, 1)),
    "RandomErasing": lambda: L.RandomErasing(factor=1.0, value_range=(0, 1)),
    "RandomFlip": lambda: L.RandomFlip("horizontal_and_vertical", seed=3),
    "RandomGaussianBlur": lambda: L.RandomGaussianBlur(factor=1.0, kernel_size=5, sigma=0.8, value_range=(0, 1)),
    "RandomGrayscale": lambda: L.RandomGrayscale(1.0),
    "RandomHue": lambda: L.RandomHue(0.5, value_range=(0, 1)),
    "RandomInvert": lambda: L.RandomInvert(1.0, value_range=(0, 1)),
    "RandomPerspective": lambda: L.RandomPerspective(factor=1.0, scale=0.8),
    "RandomPosterization": lambda: L.RandomPosterization(2, value_range=(0, 1)),
    "RandomRotation": lambda: L.RandomRotation(0.4, fill_mode="constant", fill_value=0.5),
    "RandomSaturation": lambda: L.RandomSaturation(0.6, value_range=(0, 1)),
    "RandomSharpness": lambda: L.RandomSharpness(0.8, value_range=(0, 1)),
    "RandomShear": lambda: L.RandomShear(x_factor=(0.1, 0.4), y_factor=(0.0, 0.3)),  # a scalar factor does not reload (Keras)
    "RandomTranslation": lambda: L.RandomTranslation(0.3, (-0.2, 0.4), fill_mode="nearest"),
    "RandomZoom": lambda: L.RandomZoom((-0.3, 0.2), 0.25, interpolation="nearest"),
    "Solarization": lambda: L.Solarization(addition_factor=0.5, threshold_factor=0.5, value_range=(0, 1)),
}
KERAS2_ONLY = {"RandomHeight", "RandomWidth"}
# Keras 3.15 cannot write these to a legacy .h5 (model.save deep-copies a module object in their config).
H5_UNWRITABLE = {"RandomBrightness", "RandomColorDegeneration", "RandomPosterization", "RandomSaturation",
                 "RandomSharpness", "Solarization"}  # fmt: skip
FILES = [(c, "keras") for c in sorted(FACTORIES)] + [(c, "h5") for c in sorted(set(FACTORIES) - H5_UNWRITABLE)]


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, size=(2, *SHAPE)).astype("float32")


def _model(cls: str) -> keras.Model:
    x_in = keras.Input(SHAPE)
    y = L.Dense(4, name="head")(FACTORIES[cls]()(x_in))
    model = keras.Model(x_in, y)
    rng = np.random.default_rng(1)
    model.get_layer("head").set_weights([rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=4).astype("float32")])
    return model


def test_the_factories_cover_every_keras_3_class() -> None:
    assert set(FACTORIES) == set(CLASSES) - KERAS2_ONLY - {"Equalization"}  # Equalization has its own test (not in graphs)
    assert all(getattr(keras.layers, c, None) is not None for c in FACTORIES)


@pytest.mark.parametrize("cls", sorted(H5_UNWRITABLE))
def test_the_h5_exclusions_are_still_keras_s_own(cls: str, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="pickle"):
        _model(cls).save(tmp_path / "model.h5")


@pytest.mark.parametrize(("cls", "fmt"), FILES)
def test_converted_file_reproduces_keras_inference(cls: str, fmt: str, tmp_path: Path) -> None:
    model = _model(cls)
    src = tmp_path / f"model.{fmt}"
    model.save(src)
    reloaded = keras.saving.load_model(src, compile=False)
    x = _image()
    expected = np.asarray(reloaded.predict(x, verbose=0))
    bundle = kif.load(convert(src, tmp_path / "model.kif"))
    (layer,) = [layer for layer in bundle.layers if layer.type == "Augmentation"]
    assert layer.attributes["keras_class"] == cls
    assert "name" not in layer.attributes["config"]
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    kernel, bias = model.get_layer("head").get_weights()
    np.testing.assert_allclose(got, x @ kernel + bias, rtol=1e-5, atol=1e-5)  # hand-derived: the identity, then Dense


@pytest.mark.parametrize("cls", sorted(FACTORIES))
def test_round_trip_to_keras_rebuilds_the_class(cls: str, tmp_path: Path) -> None:
    model = _model(cls)
    kif.keras.export(model, tmp_path / "model.kif")
    rebuilt = to_keras(tmp_path / "model.kif")
    kinds = {type(layer).__name__ for layer in rebuilt.layers}
    assert cls in kinds or (cls == "RandomShear" and "Identity" in kinds)  # Keras cannot rebuild its own RandomShear config
    x = _image(2)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_equalization_is_the_identity_in_a_model_at_inference(tmp_path: Path) -> None:
    """Keras 3 Equalization transforms only when training=True: its symbolic call returns its input, so a saved
    model's graph does not even hold it, and the converted model is the Dense head alone, as Keras predicts."""
    layer = L.Equalization(value_range=(0, 1), bins=64)
    x = _image(4)
    assert np.abs(np.asarray(layer(x, training=True)) - x).max() > 0.01  # it does compute in training
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    x_in = keras.Input(SHAPE)
    model = keras.Model(x_in, L.Dense(4, name="head")(layer(x_in)))
    model.save(tmp_path / "eq.keras")
    expected = np.asarray(keras.saving.load_model(tmp_path / "eq.keras").predict(x, verbose=0))
    bundle = kif.load(convert(tmp_path / "eq.keras", tmp_path / "eq.kif"))
    assert [layer.type for layer in bundle.layers] == ["Dense"]
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # A graph that does hold it (a file written by another tool) converts to Augmentation, the identity.
    bundle = kif.load(convert(_with_node(tmp_path / "eq.keras", "Equalization"), tmp_path / "eq-node.kif"))
    (aug,) = [layer for layer in bundle.layers if layer.type == "Augmentation"]
    assert aug.attributes["keras_class"] == "Equalization"
    np.testing.assert_allclose(kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name], expected, rtol=1e-6, atol=1e-6)


def _with_node(src: Path, cls: str) -> Path:
    """A copy of ``src`` whose config routes the head through an extra ``cls`` layer (what Keras itself never writes)."""

    def edit(config: dict[str, Any]) -> None:
        layers = config["config"]["layers"]
        head = next(layer for layer in layers if layer["config"]["name"] == "head")
        source = head["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
        spec = {"shape": [None, *SHAPE], "dtype": "float32", "keras_history": source}
        tensor = {"class_name": "__keras_tensor__", "config": spec}
        config_of = {"name": "eq", "value_range": [0, 1], "bins": 64}
        node = {"args": [tensor], "kwargs": {}}
        extra = {"module": "keras.layers", "class_name": cls, "config": config_of, "name": "eq", "inbound_nodes": [node]}
        head["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["eq", 0, 0]
        layers.insert(layers.index(head), extra)

    return rewrite_config(src, src.with_name(f"with-{cls}.keras"), edit)


def test_random_crop_to_another_size_is_the_identity_as_in_keras_3(tmp_path: Path) -> None:
    """Keras 3.15 RandomCrop returns its input at inference (keras#21868), whatever its symbolic shape says."""
    model = keras.Sequential([keras.Input(SHAPE), L.RandomCrop(4, 5)])
    model.save(tmp_path / "crop.keras")
    x = _image(3)
    expected = np.asarray(keras.saving.load_model(tmp_path / "crop.keras").predict(x, verbose=0))
    bundle = kif.load(convert(tmp_path / "crop.keras", tmp_path / "crop.kif"))
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    assert expected.shape == x.shape
    np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------- tf.keras 2 files (TF 2.3-2.5 layout)

TF2_LAYERS: list[tuple[str, dict[str, Any]]] = [
    ("RandomFlip", {"mode": "horizontal_and_vertical", "seed": None}),
    ("RandomRotation", {"factor": 0.2, "fill_mode": "reflect", "fill_value": 0.0, "interpolation": "bilinear", "seed": None}),
    ("RandomZoom", {"height_factor": 0.2, "width_factor": None, "fill_mode": "reflect", "interpolation": "bilinear", "seed": 4}),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1, "fill_mode": "reflect", "interpolation": "bilinear"}),
    ("RandomContrast", {"factor": 0.3, "seed": None}),
    ("RandomHeight", {"factor": 0.2, "interpolation": "bilinear", "seed": None}),
    ("RandomWidth", {"factor": [0.1, 0.3], "interpolation": "nearest", "seed": 1}),
]


def _tf2_file(path: Path, layers: list[tuple[str, dict[str, Any]]], version: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    kernel, bias = rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=2).astype("float32")
    entries = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, *SHAPE], "dtype": "float32", "sparse": False,
                                                        "ragged": False, "name": "input_1"}}]  # fmt: skip
    for i, (cls, config) in enumerate(layers):
        entries.append({"class_name": cls, "config": {"name": f"aug_{i}", "trainable": True, "dtype": "float32", **config}})
    dense = {"name": "dense", "trainable": True, "dtype": "float32", "units": 2, "activation": "linear", "use_bias": True}
    entries.append({"class_name": "Dense", "config": dense})
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": entries}}
    weights: dict[str, list[tuple[str, np.ndarray]]] = {f"aug_{i}": [] for i in range(len(layers))}
    weights["dense"] = [("dense/kernel:0", kernel), ("dense/bias:0", bias)]
    _write_legacy_h5(path, config, weights, version=version, as_bytes=version < "2.4")
    return kernel, bias


@pytest.mark.parametrize("version", ["2.3.0", "2.4.0", "2.5.0"])
def test_tf_keras_2_experimental_preprocessing_layers_are_the_identity(version: str, tmp_path: Path) -> None:
    kernel, bias = _tf2_file(tmp_path / "old.h5", TF2_LAYERS, version)
    bundle = kif.load(convert(tmp_path / "old.h5", tmp_path / "old.kif"))
    kinds = [(layer.type, layer.attributes.get("keras_class")) for layer in bundle.layers]
    assert kinds[: len(TF2_LAYERS)] == [("Augmentation", cls) for cls, _ in TF2_LAYERS]
    x = _image(4)
    got = kif.run(bundle, {bundle.inputs[0].name: x})[bundle.outputs[0].name]
    np.testing.assert_allclose(got, x @ kernel + bias, rtol=1e-5, atol=1e-5)  # hand-derived: identity, then Dense


def test_tf_keras_2_random_crop_is_refused_naming_the_layer(tmp_path: Path) -> None:
    _tf2_file(tmp_path / "crop.h5", [("RandomCrop", {"height": 4, "width": 4, "seed": None})], "2.4.0")
    with pytest.raises(KifError, match=r"'aug_0' \(RandomCrop\).*resizes"):
        convert(tmp_path / "crop.h5", tmp_path / "crop.kif")
    assert not (tmp_path / "crop.kif").exists()


def test_keras_2_only_classes_convert_back_as_identity(tmp_path: Path) -> None:
    _tf2_file(tmp_path / "old.h5", TF2_LAYERS[-2:], "2.5.0")
    rebuilt = to_keras(convert(tmp_path / "old.h5", tmp_path / "old.kif"))
    assert [type(layer).__name__ for layer in rebuilt.layers if type(layer).__name__ != "InputLayer"] == ["Identity", "Identity", "Dense"]


def test_schema_rejects_an_unknown_class() -> None:
    from kif import catalog

    validator = catalog.get("Augmentation").validator
    assert list(validator.iter_errors({"keras_class": "RandomFlip", "config": {}})) == []
    assert list(validator.iter_errors({"keras_class": "Dense", "config": {}}))
    assert json.dumps(sorted(CLASSES)) == json.dumps(list(CLASSES))
