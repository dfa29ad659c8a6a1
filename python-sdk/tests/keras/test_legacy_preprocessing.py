"""Preprocessing layers as TF 2.3-2.5 wrote them (tf.keras.layers.experimental.preprocessing.*): legacy .h5 files
written here with h5py in TensorFlow's layout (keras_version 2.4.0, the configs of that era: Normalization with
`axis` only, Resizing without crop_to_aspect_ratio, tf.keras.layers.experimental.SyncBatchNormalization) and
.keras configs whose module names the experimental namespace. Oracle: the same layers in Keras 3 (torch backend)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif.keras import convert

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(12)
MEAN, VAR = RNG.normal(0, 1, 3).astype("float32"), RNG.uniform(0.5, 2, 3).astype("float32")
GAMMA, BETA = RNG.normal(1, 0.2, 3).astype("float32"), RNG.normal(0, 0.2, 3).astype("float32")
BN_MEAN, BN_VAR = RNG.normal(0, 0.3, 3).astype("float32"), RNG.uniform(0.5, 1.5, 3).astype("float32")
X = RNG.uniform(0, 255, (2, 7, 9, 3)).astype("float32")


def _layer(class_name: str, name: str, **config: Any) -> dict[str, Any]:
    return {"class_name": class_name, "config": {"name": name, "trainable": True, "dtype": "float32", **config}}


def _tf24_layers(normalization: dict[str, Any], resize: str) -> list[dict[str, Any]]:
    bn = {"axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}
    bn |= {f"{k}_initializer": {"class_name": "Zeros", "config": {}} for k in ("beta", "gamma", "moving_mean", "moving_variance")}
    bn |= {"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}
    return [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 7, 9, 3], "dtype": "float32", "name": "image"}},
        _layer("Rescaling", "rescaling", scale=1 / 127.5, offset=-1.0),
        _layer("CenterCrop", "center_crop", height=5, width=6),
        _layer("Resizing", "resizing", height=4, width=8, interpolation=resize),
        _layer("Normalization", "normalization", **normalization),
        _layer("SyncBatchNormalization", "sync_batch_normalization", **bn),
    ]


def _weights() -> dict[str, list[tuple[str, np.ndarray]]]:
    return {
        "rescaling": [],
        "center_crop": [],
        "resizing": [],
        "normalization": [("normalization/mean:0", MEAN), ("normalization/variance:0", VAR), ("normalization/count:0", np.int64(40))],
        "sync_batch_normalization": [
            (f"sync_batch_normalization/{n}:0", v)
            for n, v in (("gamma", GAMMA), ("beta", BETA), ("moving_mean", BN_MEAN), ("moving_variance", BN_VAR))
        ],
    }


def _write_tf24_h5(path: Path, layers: list[dict[str, Any]], version: str = "2.4.0") -> None:
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = version
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode() for n in _weights()], dtype="S")
        for layer, weights in _weights().items():
            sub = group.create_group(layer)
            sub.attrs["weight_names"] = np.array([n.encode() for n, _ in weights], dtype="S") if weights else np.array([], dtype="S1")
            for name, value in weights:
                sub.create_dataset(name, data=value)


def _oracle(resize: str) -> np.ndarray:
    model = keras.Sequential(
        [
            keras.Input((7, 9, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1.0),
            keras.layers.CenterCrop(5, 6),
            keras.layers.Resizing(4, 8, interpolation=resize),
            keras.layers.Normalization(mean=MEAN, variance=VAR),
            keras.layers.BatchNormalization(epsilon=0.001),
        ]
    )
    model.layers[-1].set_weights([GAMMA, BETA, BN_MEAN, BN_VAR])
    return keras.ops.convert_to_numpy(model(X, training=False))


def _run(bundle: Path) -> np.ndarray:
    assert kif.validate(bundle).ok
    model = kif.load(bundle)
    return next(iter(kif.run(model, {model.inputs[0].name: X}).values()))


TF23 = {"axis": [-1]}  # TF 2.3: get_config is {"axis": self.axis}
TF24 = {"axis": [-1], "mean": None, "variance": None}  # TF 2.4/2.5 added the constructor statistics


@pytest.mark.parametrize(("normalization", "version"), [(TF23, "2.4.0"), (TF24, "2.4.0"), (TF24, "2.5.0")], ids=["tf2.3", "tf2.4", "tf2.5"])
@pytest.mark.parametrize("resize", ["bilinear", "nearest"])
def test_tf2x_experimental_preprocessing_h5(normalization: dict[str, Any], version: str, resize: str, tmp_path: Path) -> None:
    src = tmp_path / "old.h5"
    _write_tf24_h5(src, _tf24_layers(normalization, resize), version)
    bundle = convert(src, tmp_path / "model.kif")
    types = [layer.type for layer in kif.load(bundle).layers]
    assert types == ["Rescaling", "CenterCrop", "Resizing", "Normalization", "BatchNormalization"]
    np.testing.assert_allclose(_run(bundle), _oracle(resize), rtol=1e-5, atol=1e-5)


def _keras_zip(path: Path, module: str, registered: str | None) -> None:
    """A saving_lib archive whose preprocessing layers name the experimental module (and optionally register there)."""
    layers = []
    for layer in _tf24_layers(TF24, "bilinear")[:4]:
        entry = {"module": "keras.layers" if layer["class_name"] == "InputLayer" else module, "registered_name": None, **layer}
        if layer["class_name"] != "InputLayer" and registered is not None:
            entry["registered_name"] = f"{registered}>{layer['class_name']}"
        entry["inbound_nodes"] = []
        layers.append(entry)
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {"name": "sequential", "layers": layers}}
    weights = tmp = path.with_suffix(".weights.h5")
    with h5py.File(tmp, "w") as f:
        f.create_group("layers")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "2.15.0"}))
        z.write(weights, "model.weights.h5")


@pytest.mark.parametrize(
    ("module", "registered"),
    [("keras.layers.experimental.preprocessing", None), ("keras.src.layers.preprocessing", "keras.layers.experimental.preprocessing")],
)
def test_experimental_module_paths_in_keras_zip(module: str, registered: str | None, tmp_path: Path) -> None:
    src = tmp_path / "model.keras"
    _keras_zip(src, module, registered)
    bundle = convert(src, tmp_path / "model.kif")
    assert [layer.type for layer in kif.load(bundle).layers] == ["Rescaling", "CenterCrop", "Resizing"]
    oracle = keras.Sequential(
        [keras.Input((7, 9, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1.0), keras.layers.CenterCrop(5, 6), keras.layers.Resizing(4, 8)]
    )
    np.testing.assert_allclose(_run(bundle), keras.ops.convert_to_numpy(oracle(X, training=False)), rtol=1e-5, atol=1e-5)
