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


def _model(tmp_path: Path, ops: list[dict[str, Any]], outputs: list[str]) -> kif.Model:
    source = {
        "class_name": "InputLayer",
        "name": "x",
        "config": {"name": "x", "batch_input_shape": [None, 4], "dtype": "float32"},
        "inbound_nodes": [],
    }
    layers = [source, *ops]
    config = {
        "class_name": "Functional",
        "config": {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [[o, 0, 0] for o in outputs]},
    }
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


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        ("math.cumsum", {"axis": 1}),
        ("math.add", {"y": "not a number"}),
        ("math.abs", {"x": 1.0, "extra": 2}),
        ("cast", {"dtype": "complex64"}),
    ],
)
def test_unmappable_tf_function_is_refused_naming_the_node(function: str, kwargs: dict[str, Any], tmp_path: Path) -> None:
    ops = [_tf_op("tf.odd", function, [["x", 0, 0, {**kwargs, "name": None}]])]
    with pytest.raises(KifError, match=rf"'tf\.odd' \(TFOpLambda\).*{function}"):
        _model(tmp_path, ops, ["tf.odd"])
    assert not (tmp_path / "tfops.kif").exists()
