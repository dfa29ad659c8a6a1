"""Every name ``keras.activations`` exports converts (as Activation, as a layer's activation=, as a keras.ops node)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from keras import layers as L
from keras import ops

import kif
from kif.errors import KifError
from kif.keras import convert
from tests.layers.test_activations_extra import _projection

NAMES = sorted(n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize", "deserialize"))
NO_KIF_NAME = {"threshold"}  # two required parameters: Keras cannot call it by name either
# keras#23425: Keras <= 3.15's sparsemax is wrong when the support has more than one element; KIF follows the definition.
ORACLE = {"sparsemax": _projection}


def _convert_and_run(model: keras.Model, x: np.ndarray, tmp_path: Path, fmt: str) -> list[np.ndarray]:
    src = tmp_path / f"model.{fmt}"
    model.save(src)
    bundle = kif.load(convert(src, tmp_path / f"{fmt}.kif"))
    return list(kif.run(bundle, {bundle.inputs[0].name: x}).values())


def test_the_keras_list_is_the_one_this_file_knows() -> None:
    assert "celu" in NAMES and "sparsemax" in NAMES and "threshold" in NAMES and len(NAMES) >= 32


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_every_keras_activation_name_converts_and_reproduces_keras(fmt: str, tmp_path: Path) -> None:
    names = [n for n in NAMES if n not in NO_KIF_NAME]
    x_in = keras.Input((6,))
    model = keras.Model(x_in, [L.Activation(n, name=f"act_{n}")(x_in) for n in names])
    x = (np.random.default_rng(5).normal(size=(3, 6)) * 2).astype("float32")
    x[0] = [-1.0, -0.5, 0.0, 0.5, 1.0, 0.25]  # kinks of the shrinks, sparse_plus, sparse_sigmoid, hard_tanh
    outputs = _convert_and_run(model, x, tmp_path, fmt)
    expected = model.predict(x, verbose=0)
    for name, got, want in zip(names, outputs, expected, strict=True):
        want = ORACLE[name](x) if name in ORACLE else want
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_new_names_as_layer_activations_reproduce_keras(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    names = ["celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid",
             "squareplus", "tanh_shrink"]  # fmt: skip
    x_in = keras.Input((5, 4))
    outs = [L.Dense(6, activation=n, name=f"dense_{n}")(x_in) for n in names]
    outs.append(L.Conv1D(4, 3, activation="glu", name="conv_glu")(x_in))  # glu halves the last (channel) axis
    model = keras.Model(x_in, outs)
    for v in model.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    got = _convert_and_run(model, x, tmp_path, "keras")
    for name, g, want in zip([*names, "conv_glu"], got, model.predict(x, verbose=0), strict=True):
        assert g.shape == want.shape, name
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5, err_msg=name)
    assert got[names.index("glu")].shape == (2, 5, 3) and got[-1].shape == (2, 3, 2)


def test_threshold_activation_is_refused_naming_the_layer(tmp_path: Path) -> None:
    x_in = keras.Input((4,))
    model = keras.Model(x_in, L.Activation("relu", name="thresh")(x_in))
    model.save_weights(tmp_path / "model.weights.h5")
    config = json.loads(model.to_json())
    layer = next(lay for lay in config["config"]["layers"] if lay["class_name"] == "Activation")
    layer["config"]["activation"] = "threshold"  # what Keras would write; it cannot build such a model itself
    src = tmp_path / "model.json"
    src.write_text(json.dumps(config))
    with pytest.raises(KifError, match=r"'thresh'.*threshold= and default_value="):
        convert(src, tmp_path / "model.kif", weights=tmp_path / "model.weights.h5")
    assert not (tmp_path / "model.kif").exists()


def test_keras_ops_nodes_of_the_new_activations_convert(tmp_path: Path) -> None:
    a = keras.Input((6,))
    outs = [ops.celu(a), ops.glu(a), ops.hard_shrink(a), ops.hard_tanh(a), ops.log_sigmoid(a), ops.soft_shrink(a),
            ops.sparse_plus(a), ops.sparse_sigmoid(a), ops.squareplus(a), ops.tanh_shrink(a), ops.sparsemax(a * 10)]  # fmt: skip
    model = keras.Model(a, outs)
    x = np.random.default_rng(4).normal(size=(3, 6)).astype("float32")
    got = _convert_and_run(model, x, tmp_path, "keras")
    want = model.predict(x, verbose=0)
    want[-1] = _projection(x * 10)
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=str(index))


@pytest.mark.parametrize(
    ("build", "message"),
    [(lambda a: ops.celu(a, alpha=0.5), "alpha=0.5"), (lambda a: ops.squareplus(a, b=3), "b=3"),
     (lambda a: ops.threshold(a, 0.1, 0.0), "op node .*Threshold")],
)  # fmt: skip
def test_keras_ops_with_non_default_parameters_are_refused(build, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = keras.Input((6,))
    src = tmp_path / "model.keras"
    keras.Model(a, build(a)).save(src)
    with pytest.raises(KifError, match=message):
        convert(src, tmp_path / "model.kif")


NEW = ["celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax",
       "squareplus", "tanh_shrink"]  # fmt: skip


def test_to_keras_rebuilds_the_new_activations_and_exports_them_back(tmp_path: Path) -> None:
    from kif.keras import export
    from kif.keras.to_keras import to_keras

    rng = np.random.default_rng(8)
    b = kif.GraphBuilder("acts")
    x = b.input("x", "float32", (None, 6))
    for name in NEW:
        b.output(b.add("Activation", x, activation=name, name=f"act_{name}"))
    kernel = rng.normal(size=(6, 4)).astype("float32")
    b.output(b.add("Dense", x, units=4, activation="glu", use_bias=False, weights={"kernel": kernel}, name="dense_glu"))
    model = b.build()
    data = rng.normal(size=(5, 6)).astype("float32")
    data[0, :3] = 0.5  # a three-way tie: sparsemax's support has three elements, where Keras's own sparsemax is wrong
    want = list(kif.run(model, {"x": data}).values())
    rebuilt = to_keras(model)
    rebuilt.save(tmp_path / "rebuilt.keras")
    loaded = keras.models.load_model(tmp_path / "rebuilt.keras")
    for index, (got, w) in enumerate(zip(loaded.predict(data, verbose=0), want, strict=True)):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6, err_msg=f"output {index}")
    again = kif.load(export(loaded, tmp_path / "again.kif"))
    assert [(layer.type, layer.attributes) for layer in again.layers] == [(layer.type, layer.attributes) for layer in model.layers]
