"""The known traps of old and odd Keras files (issue 4), each on a small file.

Real files come from the producer-written fixtures (tests/fixtures/keras, outputs recorded by tf.keras); where
no real file shows a trap, a synthetic one is written with h5py + json in the layout the old writer used,
and the oracle is a hand-derived NumPy value.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
RTOL = ATOL = 1e-4  # as test_fixtures.py: recorded by TensorFlow, a few layers deep


def _run_fixture(bundle: Path, folder: Path) -> None:
    """Run a converted fixture and compare with what tf.keras recorded."""
    meta = json.loads((folder / "fixture.json").read_text())
    model = kif.load(bundle)
    inputs = dict(np.load(folder / "inputs.npz"))
    outputs = kif.run(model, {name: inputs[name] for name in meta["input_order"]})
    expected = np.load(folder / "outputs.npz")
    for got, key in zip(outputs.values(), meta["outputs"], strict=True):
        np.testing.assert_allclose(got, expected[key], rtol=RTOL, atol=ATOL)


def _dense_config(name: str, units: int, **extra: Any) -> dict[str, Any]:
    config = {"name": name, "trainable": True, "units": units, "activation": "linear", "use_bias": True}
    return {"class_name": "Dense", "config": {**config, **extra}}


def _write_legacy_h5(
    path: Path, config: dict[str, Any], layers: dict[str, list[tuple[str, np.ndarray]]], version: str = "2.2.4", as_bytes: bool = True
) -> None:
    """A Keras 2 legacy HDF5 model file: model_config + model_weights/<layer>/<weight name> with weight_names.

    Keras ≤ 2.3 wrote with h5py 2, which stored every string attribute as bytes.
    """

    def text(value: str) -> Any:
        return np.bytes_(value) if as_bytes else value

    def names(values: list[str]) -> np.ndarray:
        return np.array([v.encode() for v in values], dtype="S") if as_bytes else np.array(values, dtype=h5py.string_dtype())

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = text(version)
        f.attrs["backend"] = text("tensorflow")
        f.attrs["model_config"] = text(json.dumps(config))
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = names(list(layers))
        group.attrs["keras_version"] = text(version)
        for layer, weights in layers.items():
            sub = group.create_group(layer)
            sub.attrs["weight_names"] = names([n for n, _ in weights]) if weights else np.array([], dtype="S1")
            for name, value in weights:
                sub.create_dataset(name, data=value)


# ---------------------------------------------------------------- file layout


def test_hdf5_file_named_keras_is_read_as_hdf5(tmp_path: Path) -> None:
    folder = FIXTURES / "tf_keras" / "cnn_bn_pool"
    lying = tmp_path / "model.keras"
    shutil.copy(folder / "model.h5", lying)
    _run_fixture(convert(lying, tmp_path / "model.kif"), folder)


def test_byte_string_attributes(tmp_path: Path) -> None:
    """Old writers stored model_config, keras_version, layer_names and weight_names as bytes."""
    folder = FIXTURES / "tf_keras" / "depthwise_separable"
    src = tmp_path / "model.h5"
    shutil.copy(folder / "model.h5", src)
    with h5py.File(src, "r+") as f:
        for key in ("model_config", "keras_version", "backend"):
            f.attrs[key] = np.bytes_(str(f.attrs[key]))
        weights = f["model_weights"]
        weights.attrs["layer_names"] = np.array([str(n).encode() for n in weights.attrs["layer_names"]], dtype="S")
        for layer in weights.values():
            names = [str(n) for n in layer.attrs.get("weight_names", [])]
            if names:
                layer.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
        assert isinstance(f.attrs["model_config"], bytes)
    _run_fixture(convert(src, tmp_path / "model.kif"), folder)


def test_optimizer_state_in_the_file_is_ignored(tmp_path: Path) -> None:
    folder = FIXTURES / "tf_keras" / "cnn_bn_pool"
    src = tmp_path / "model.h5"
    shutil.copy(folder / "model.h5", src)
    with h5py.File(src, "r+") as f:
        f.attrs["training_config"] = json.dumps({"optimizer_config": {"class_name": "Adam", "config": {}}})
        optimizer = f.create_group("optimizer_weights")
        optimizer.attrs["weight_names"] = np.array([b"Adam/iter:0", b"Adam/dense/kernel/m:0"], dtype="S")
        optimizer.create_dataset("Adam/iter:0", data=np.int64(7))
        optimizer.create_dataset("Adam/dense/kernel/m:0", data=np.ones((3, 3), "float32"))
    bundle = convert(src, tmp_path / "model.kif")
    assert not any("Adam" in name for name in kif.load(bundle).weights)
    _run_fixture(bundle, folder)


# ---------------------------------------------------------------- Keras 2.0-2.2 configs


def test_kernel_colon_names_are_matched_by_name_not_position(tmp_path: Path) -> None:
    """``kernel:0`` names, listed bias first: roles follow the weight_names attribute, not paths or order.
    The config is Keras ≤ 2.2's: a Sequential stored as a bare layer list, the input shape given by the
    retired ``batch_input_shape`` kwarg on the first layer (with ``input_dim`` too)."""
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")
    config = {
        "class_name": "Sequential",
        "config": [_dense_config("dense_1", 3, batch_input_shape=[None, 4], input_dim=4, dtype="float32")],
    }
    src = tmp_path / "old.h5"
    _write_legacy_h5(src, config, {"dense_1": [("dense_1/bias:0", bias), ("dense_1/kernel:0", kernel)]})
    model = kif.load(convert(src, tmp_path / "old.kif"))
    x = rng.normal(size=(2, 4)).astype("float32")
    (got,) = kif.run(model, x).values()
    np.testing.assert_allclose(got, x @ kernel + bias, rtol=1e-5, atol=1e-5)


def test_keras2_model_class_and_merge_layer(tmp_path: Path) -> None:
    """Keras 2.0-2.1 named functional models ``Model`` and still had the one-class ``Merge`` layer."""
    rng = np.random.default_rng(1)
    k1, k2 = rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(3, 2)).astype("float32")

    def merge(name: str, mode: str, inbound: list[str]) -> dict[str, Any]:
        cfg = {"name": name, "mode": mode, "concat_axis": -1, "dot_axes": -1, "output_shape": None, "output_mask": None, "arguments": {}}
        return {"class_name": "Merge", "name": name, "config": cfg, "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]]}

    layers = [
        {
            "class_name": "InputLayer",
            "name": "input_1",
            "config": {"name": "input_1", "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False},
            "inbound_nodes": [],
        },
        {**_dense_config("dense_1", 2), "name": "dense_1", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {**_dense_config("dense_2", 2), "name": "dense_2", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        merge("merge_1", "sum", ["dense_1", "dense_2"]),
        merge("merge_2", "concat", ["dense_1", "merge_1"]),
    ]
    config = {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": layers,
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["merge_1", 0, 0], ["merge_2", 0, 0]],
        },
    }
    src = tmp_path / "merge.h5"
    weights = {
        "input_1": [],
        "dense_1": [("dense_1/kernel:0", k1), ("dense_1/bias:0", np.zeros(2, "float32"))],
        "dense_2": [("dense_2/kernel:0", k2), ("dense_2/bias:0", np.ones(2, "float32"))],
        "merge_1": [],
        "merge_2": [],
    }
    _write_legacy_h5(src, config, weights, version="2.0.8")
    model = kif.load(convert(src, tmp_path / "merge.kif"))
    assert [layer.type for layer in model.layers] == ["Dense", "Dense", "Add", "Concatenate"]
    x = rng.normal(size=(2, 3)).astype("float32")
    summed, joined = kif.run(model, x).values()
    np.testing.assert_allclose(summed, x @ k1 + x @ k2 + 1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(joined, np.concatenate([x @ k1, x @ k1 + x @ k2 + 1], axis=-1), rtol=1e-5, atol=1e-5)

    layers[3] = merge("merge_1", "cos", ["dense_1", "dense_2"])
    _write_legacy_h5(src, config, weights, version="2.0.8")
    with pytest.raises(KifError, match=r"merge_1.*Merge.*'cos'"):
        convert(src, tmp_path / "cos.kif")
    assert not (tmp_path / "cos.kif").exists()


# ---------------------------------------------------------------- meaning by generation


def _hard_sigmoid_file(path: Path, version: str, kernel: np.ndarray) -> None:
    config = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": [_dense_config("d", 3, batch_input_shape=[None, 2], activation="hard_sigmoid")]},
    }
    _write_legacy_h5(path, config, {"d": [("d/kernel:0", kernel), ("d/bias:0", np.zeros(3, "float32"))]}, version=version, as_bytes=False)


def test_hard_sigmoid_means_what_its_writer_meant(tmp_path: Path) -> None:
    """Keras 2: clip(0.2x + 0.5, 0, 1). Keras 3: relu6(x + 3) / 6. The writer's keras_version decides."""
    kernel = np.array([[4.0, -1.0, 0.5], [0.0, 2.0, -3.0]], "float32")
    x = np.array([[0.5, 0.25], [-1.0, 1.5]], "float32")
    z = x @ kernel
    expected = {"2.3.1": np.clip(0.2 * z + 0.5, 0, 1), "3.1.0": np.clip(z + 3, 0, 6) / 6}
    for version, want in expected.items():
        src = tmp_path / f"hs{version}.h5"
        _hard_sigmoid_file(src, version, kernel)
        model = kif.load(convert(src, tmp_path / f"hs{version}.kif"))
        assert model.layers[0].attributes["activation"] == ("hard_sigmoid_keras2" if version.startswith("2") else "hard_sigmoid")
        (got,) = kif.run(model, x).values()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(expected["2.3.1"], expected["3.1.0"]), "the two meanings differ on these values"


def test_hard_sigmoid_of_a_json_without_version_follows_module_keys(tmp_path: Path) -> None:
    """An architecture JSON whose weights file carries no version: Keras 3 configs have ``module`` keys."""
    kernel = np.eye(2, 3, dtype="float32") * 4
    h5 = tmp_path / "w.h5"
    _hard_sigmoid_file(h5, "2.3.1", kernel)
    with h5py.File(h5, "r+") as f:
        del f.attrs["keras_version"]
        del f["model_weights"].attrs["keras_version"]
        config = json.loads(f.attrs["model_config"])
    for generation, extra, activation in ((2, {}, "hard_sigmoid_keras2"), (3, {"module": "keras"}, "hard_sigmoid")):
        arch = tmp_path / f"arch{generation}.json"
        arch.write_text(json.dumps({**config, **extra}))
        model = kif.load(convert(arch, tmp_path / f"j{generation}.kif", weights=h5))
        assert model.layers[0].attributes["activation"] == activation


# ---------------------------------------------------------------- retired and neutral kwargs


def test_depthwise_groups_one_is_accepted_and_other_groups_refused(tmp_path: Path) -> None:
    """tf.keras 2.x wrote ``groups: 1`` on DepthwiseConv2D (which has no groups); the real fixture has it."""
    folder = FIXTURES / "tf_keras" / "depthwise_separable"
    with h5py.File(folder / "model.h5") as f:
        config = json.loads(f.attrs["model_config"])
    depthwise = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "DepthwiseConv2D")
    assert depthwise["config"]["groups"] == 1
    _run_fixture(convert(folder / "model.h5", tmp_path / "ok.kif"), folder)

    src = tmp_path / "groups2.h5"
    shutil.copy(folder / "model.h5", src)
    depthwise["config"]["groups"] = 2
    with h5py.File(src, "r+") as f:
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(KifError, match=rf"{depthwise['config']['name']}.*DepthwiseConv2D.*groups=2"):
        convert(src, tmp_path / "bad.kif")
    assert not (tmp_path / "bad.kif").exists()


def test_training_only_keys_are_ignored_and_unknown_options_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(2, 2)).astype("float32")
    extra = {"kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}, "activity_regularizer": None, "kernel_constraint": None}
    for options, ok in ((extra, True), ({"lora_rank": 4}, True), ({"quantization_mode": "int8"}, False)):
        config = {
            "class_name": "Sequential",
            "config": {"name": "s", "layers": [_dense_config("d", 2, batch_input_shape=[None, 2], **options)]},
        }
        src = tmp_path / "opt.h5"
        _write_legacy_h5(src, config, {"d": [("d/kernel:0", kernel), ("d/bias:0", np.zeros(2, "float32"))]})
        if ok:
            convert(src, tmp_path / "opt.kif")
            shutil.rmtree(tmp_path / "opt.kif", ignore_errors=True)
            (tmp_path / "opt.kif").unlink(missing_ok=True)
        else:
            with pytest.raises(KifError, match=r"'d' \(Dense\): option quantization_mode='int8'"):
                convert(src, tmp_path / "opt.kif")


def _tf_op(name: str, function: str, inbound: list[Any]) -> dict[str, Any]:
    config = {"name": name, "trainable": True, "dtype": "float32", "function": function}
    return {"class_name": "TFOpLambda", "name": name, "config": config, "inbound_nodes": [inbound]}


def test_common_tf_op_lambdas_map_to_layers(tmp_path: Path) -> None:
    """tf.keras 2.x: ``x * 2``, ``a + b``, ``tf.nn.relu``, ``tf.nn.softmax`` on Keras tensors become TFOpLambda nodes."""
    layers = [
        {
            "class_name": "InputLayer",
            "name": "x",
            "config": {"name": "x", "batch_input_shape": [None, 3], "dtype": "float32"},
            "inbound_nodes": [],
        },
        _tf_op("tf.math.multiply", "math.multiply", [["x", 0, 0, {"y": 2.0, "name": None}]]),
        _tf_op("tf.__operators__.add", "__operators__.add", [["tf.math.multiply", 0, 0, {"y": ["x", 0, 0], "name": None}]]),
        _tf_op("tf.math.subtract", "math.subtract", [["tf.__operators__.add", 0, 0, {"y": 0.5, "name": None}]]),
        _tf_op("tf.nn.relu", "nn.relu", [["tf.math.subtract", 0, 0, {"name": None}]]),
        _tf_op("tf.nn.softmax", "nn.softmax", [["tf.nn.relu", 0, 0, {"axis": -1, "name": None}]]),
    ]
    outputs = [["tf.nn.relu", 0, 0], ["tf.nn.softmax", 0, 0]]
    config = {
        "class_name": "Functional",
        "config": {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": outputs},
    }
    src = tmp_path / "tfops.h5"
    _write_legacy_h5(src, config, {layer["name"]: [] for layer in layers}, version="2.15.0")
    model = kif.load(convert(src, tmp_path / "tfops.kif"))
    assert [layer.type for layer in model.layers] == ["Rescaling", "Add", "Rescaling", "Activation", "Softmax"]
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]], "float32")
    relu, softmax = kif.run(model, x).values()
    want = np.maximum(3 * x - 0.5, 0)
    np.testing.assert_allclose(relu, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(softmax, np.exp(want) / np.exp(want).sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_tf_op_lambda_is_refused_naming_the_layer_and_function(tmp_path: Path) -> None:
    """tf.keras wrote TensorFlow functions called on Keras tensors as TFOpLambda nodes."""
    layers = [
        {
            "class_name": "InputLayer",
            "name": "x",
            "config": {"name": "x", "batch_input_shape": [None, 3], "dtype": "float32"},
            "inbound_nodes": [],
        },
        {
            "class_name": "TFOpLambda",
            "name": "tf.math.cumprod",
            "config": {"name": "tf.math.cumprod", "trainable": True, "dtype": "float32", "function": "math.cumprod"},
            "inbound_nodes": [[["x", 0, 0, {"axis": 1}]]],
        },
    ]
    config = {
        "class_name": "Functional",
        "config": {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [["tf.math.cumprod", 0, 0]]},
    }
    src = tmp_path / "tfop.h5"
    _write_legacy_h5(src, config, {"x": [], "tf.math.cumprod": []}, version="2.15.0")
    with pytest.raises(KifError, match=r"'tf\.math\.cumprod' \(TFOpLambda\).*math\.cumprod"):
        convert(src, tmp_path / "tfop.kif")
    assert not (tmp_path / "tfop.kif").exists()


def test_registered_activation_function_is_refused_by_name() -> None:
    from kif.errors import KifError
    from kif.keras.mapping import Context, activation_name
    from kif.keras.topology import Node

    node = Node("dense", "dense", "Dense", {}, (), [])
    ctx = Context(node, 3, lambda: None)  # type: ignore[arg-type, return-value]
    serialized = {"module": "builtins", "class_name": "function", "config": "my_pkg>swishy", "registered_name": "function"}
    with pytest.raises(KifError, match="my_pkg>swishy"):
        activation_name(serialized, ctx)
    assert activation_name({"class_name": "function", "config": "kif>gelu_tanh"}, ctx) == "gelu_tanh"
    assert activation_name({"class_name": "function", "config": {"name": "relu"}}, ctx) == "relu"
