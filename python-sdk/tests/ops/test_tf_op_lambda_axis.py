"""tf.keras TFOpLambda nodes of the ops along an axis, from a TensorFlow-written .h5 (fixtures/tf_axis_ops):
TensorFlow's own outputs are the oracle for the reference runtime, torch and ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
import kif.onnx
import kif.torch
from kif.errors import KifError
from kif.keras import convert
from tests.keras.test_traps import _tf_op
from tests.ops.test_tf_op_lambda import _model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_axis_ops"


def test_tf_written_axis_ops_convert_and_match_tensorflow(tmp_path: Path) -> None:
    data = np.load(FIXTURES / "tf_axis_ops.npz")
    bundle = convert(FIXTURES / "tf_axis_ops.h5", tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    model = kif.load(bundle)
    assert {layer.type for layer in model.layers} == {
        "op.split", "op.cumsum", "op.one_hot", "op.log_softmax", "op.top_k", "op.sort", "op.repeat",
    }  # fmt: skip
    feed = {model.inputs[0].name: data["x"], model.inputs[1].name: data["i"]}
    want = [data[f"y{k}"] for k in range(12)]
    for backend, run in (
        ("runtime", lambda f: kif.run(model, f)),
        ("torch", kif.torch.conformance_backend.load(bundle)),
        ("onnx", kif.onnx.conformance_backend.load(bundle)),
    ):
        got = [np.asarray(v) for v in run(feed).values()]
        assert len(got) == len(want), backend
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g.shape == w.shape and g.dtype == w.dtype, (backend, k, g.shape, g.dtype)
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=f"{backend} y{k}")


def test_nn_top_k_default_k_and_ascending_sort(tmp_path: Path) -> None:
    ops = [
        _tf_op("tf.nn.top_k", "nn.top_k", [["x", 0, 0, {"name": None}]]),
        _tf_op("tf.sort", "sort", [["x", 0, 0, {"axis": -1, "name": None}]]),
        _tf_op("tf.cumsum", "cumsum", [["x", 0, 0, {"name": None}]]),  # tf.math.cumsum's axis defaults to 0
    ]
    model = _model(tmp_path, ops, [["tf.nn.top_k", 0, 1], ["tf.sort", 0, 0], ["tf.cumsum", 0, 0]])
    x = np.array([[0.5, 2.0, 2.0, -1.0], [3.0, 1.0, 0.0, 3.0]], "float32")
    index, ordered, summed = kif.run(model, x).values()
    assert index.dtype == np.int32 and index.tolist() == [[1], [0]]  # k=1; ties: the lower index
    np.testing.assert_array_equal(ordered, [[-1.0, 0.5, 2.0, 2.0], [0.0, 1.0, 3.0, 3.0]])
    np.testing.assert_array_equal(summed, [[0.5, 2.0, 2.0, -1.0], [3.5, 3.0, 2.0, 2.0]])


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        ("math.top_k", {"k": 2, "sorted": False}),
        ("split", {"num_or_size_splits": [1, -1, -1]}),
        ("one_hot", {"depth": 3, "on_value": "hot"}),
        ("sort", {"direction": "SIDEWAYS"}),
        ("repeat", {"repeats": 1.5}),
    ],
)
def test_unmappable_axis_function_is_refused_naming_the_node(function: str, kwargs: dict[str, Any], tmp_path: Path) -> None:
    ops = [_tf_op("tf.odd", function, [["x", 0, 0, {**kwargs, "name": None}]])]
    with pytest.raises(KifError, match=rf"'tf\.odd' \(TFOpLambda\).*{function}"):
        _model(tmp_path, ops, [["tf.odd", 0, 0]])
    assert not (tmp_path / "tfops.kif").exists()
