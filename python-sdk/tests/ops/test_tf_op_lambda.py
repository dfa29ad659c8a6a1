"""tf.keras TFOpLambda nodes (hand-written tf.keras 2.15 configs) → primitive ops; values derived by hand with NumPy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert
from tests.keras.test_traps import _tf_op, _write_legacy_h5


def _model(tmp_path: Path, ops: list[dict[str, Any]], outputs: list[str] | list[list[Any]]) -> kif.Model:
    """A tf.keras 2.15 .h5 of input ``x`` (None, 4) then ``ops``, converted; an output is a layer name or a full reference."""
    source = {
        "class_name": "InputLayer",
        "name": "x",
        "config": {"name": "x", "batch_input_shape": [None, 4], "dtype": "float32"},
        "inbound_nodes": [],
    }
    layers = [source, *ops]
    refs = [[o, 0, 0] if isinstance(o, str) else o for o in outputs]
    config = {"class_name": "Functional", "config": {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": refs}}
    src = tmp_path / "tfops.h5"
    _write_legacy_h5(src, config, {layer["name"]: [] for layer in layers}, version="2.15.0")
    return kif.load(convert(src, tmp_path / "tfops.kif"))


def test_tf_math_functions_become_ops(tmp_path: Path) -> None:
    ops = [
        _tf_op("tf.math.abs", "math.abs", [["x", 0, 0, {"name": None}]]),
        _tf_op("tf.math.rsqrt", "math.rsqrt", [["tf.math.abs", 0, 0, {"name": None}]]),
        _tf_op("tf.math.floormod", "math.floormod", [["x", 0, 0, {"y": 1.5, "name": None}]]),
        _tf_op("tf.math.maximum", "math.maximum", [["x", 0, 0, {"y": ["tf.math.abs", 0, 0], "name": None}]]),
        _tf_op("tf.math.greater", "math.greater", [["x", 0, 0, {"y": 0.0, "name": None}]]),
        _tf_op("tf.cast", "cast", [["tf.math.greater", 0, 0, {"dtype": "float32", "name": None}]]),
        _tf_op("tf.clip_by_value", "clip_by_value", [["x", 0, 0, {"clip_value_min": -0.5, "clip_value_max": 0.5, "name": None}]]),
        _tf_op("tf.where", "where", [["tf.math.greater", 0, 0, {"x": ["x", 0, 0], "y": ["tf.math.abs", 0, 0], "name": None}]]),
        _tf_op("tf.math.square", "math.square", [["x", 0, 0, {"name": None}]]),
    ]
    outputs = ["tf.math.rsqrt", "tf.math.floormod", "tf.math.maximum", "tf.cast", "tf.clip_by_value", "tf.where", "tf.math.square"]
    model = _model(tmp_path, ops, outputs)
    assert {layer.type for layer in model.layers} >= {"op.abs", "op.rsqrt", "op.mod", "Maximum", "op.cast", "op.clip", "op.where"}
    x = np.array([[0.25, -1.0, 2.0, -3.7], [4.0, -0.1, 0.0, 1.6]], "float32")
    got = list(kif.run(model, x).values())
    a = np.abs(x)
    with np.errstate(divide="ignore"):  # rsqrt(0) = inf
        want = [1 / np.sqrt(a), x - np.floor(x / 1.5) * 1.5, np.maximum(x, a), (x > 0).astype("float32"), np.clip(x, -0.5, 0.5)]
    want += [np.where(x > 0, x, a), x * x]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_tf_reductions_become_ops(tmp_path: Path) -> None:
    ops = [
        _tf_op("tf.math.reduce_mean", "math.reduce_mean", [["x", 0, 0, {"axis": -1, "keepdims": True, "name": None}]]),
        _tf_op("tf.reduce_sum", "reduce_sum", [["x", 0, 0, {"name": None}]]),
        _tf_op("tf.math.reduce_variance", "math.reduce_variance", [["x", 0, 0, {"axis": [0, 1], "name": None}]]),
        _tf_op("tf.math.argmax", "math.argmax", [["x", 0, 0, {"name": None}]]),
    ]
    model = _model(tmp_path, ops, ["tf.math.reduce_mean", "tf.reduce_sum", "tf.math.reduce_variance", "tf.math.argmax"])
    x = np.array([[0.25, -1.0, 2.0, -3.7], [4.0, -0.1, 0.0, 1.6]], "float32")
    mean, total, var, arg = kif.run(model, x).values()
    np.testing.assert_allclose(mean, x.mean(-1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(total, x.sum(), rtol=1e-6)
    np.testing.assert_allclose(var, x.var(), rtol=1e-6)
    assert arg.dtype == np.int64 and arg.tolist() == [1, 1, 0, 1]  # tf.math.argmax: axis None means 0, int64


def test_tf_shape_functions_and_getitem_become_ops(tmp_path: Path) -> None:
    def slicing(name: str, inbound: list[Any]) -> dict[str, Any]:
        layer = _tf_op(name, "__operators__.getitem", inbound)
        return {**layer, "class_name": "SlicingOpLambda"}

    step = {"start": None, "stop": None, "step": -1}
    ops = [
        slicing(
            "tf.__operators__.getitem",
            [["x", 0, 0, {"slice_spec": [{"start": None, "stop": None, "step": None}, {"start": 1, "stop": None, "step": 2}]}]],
        ),
        slicing("tf.__operators__.getitem_1", [["x", 0, 0, {"slice_spec": ["...", step]}]]),
        slicing("tf.__operators__.getitem_2", [["x", 0, 0, {"slice_spec": [0, None]}]]),
        _tf_op("tf.reshape", "reshape", [["x", 0, 0, {"shape": [-1, 2, 2], "name": None}]]),
        _tf_op("tf.compat.v1.transpose", "compat.v1.transpose", [["tf.reshape", 0, 0, {"perm": [0, 2, 1], "name": None}]]),
        _tf_op("tf.expand_dims", "expand_dims", [["x", 0, 0, {"axis": -1, "name": None}]]),
        _tf_op("tf.linalg.matmul", "linalg.matmul", [["tf.expand_dims", 0, 0, {"b": ["tf.__operators__.getitem_2", 0, 0], "name": None}]]),
    ]
    outputs = [*(o["name"] for o in ops[:3]), "tf.compat.v1.transpose", "tf.linalg.matmul"]
    model = _model(tmp_path, ops, outputs)
    assert {layer.type for layer in model.layers} == {"op.strided_slice", "op.reshape", "op.transpose", "op.expand_dims", "op.matmul"}
    x = np.array([[0.25, -1.0, 2.0, -3.7], [4.0, -0.1, 0.0, 1.6]], "float32")
    got = list(kif.run(model, x).values())
    want = [x[:, 1::2], x[..., ::-1], x[0, None], x.reshape(-1, 2, 2).transpose(0, 2, 1), np.matmul(x[..., None], x[0, None])]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        ("math.cumprod", {"axis": 1}),
        ("math.add", {"y": "not a number"}),
        ("math.abs", {"x": 1.0, "extra": 2}),
        ("cast", {"dtype": "complex64"}),
        ("math.reduce_sum", {"axis": "rows"}),
        ("__operators__.getitem", {"slice_spec": [{"start": 0.5, "stop": None, "step": None}]}),
        ("reshape", {"shape": "free"}),
    ],
)
def test_unmappable_tf_function_is_refused_naming_the_node(function: str, kwargs: dict[str, Any], tmp_path: Path) -> None:
    ops = [_tf_op("tf.odd", function, [["x", 0, 0, {**kwargs, "name": None}]])]
    with pytest.raises(KifError, match=rf"'tf\.odd' \(TFOpLambda\).*{function}"):
        _model(tmp_path, ops, ["tf.odd"])
    assert not (tmp_path / "tfops.kif").exists()
