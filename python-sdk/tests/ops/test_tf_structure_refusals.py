"""tf.keras structural TFOpLambda nodes in the form tf.keras 2.x writes them (one tensor as the inbound entry itself,
a constant first argument as _CONSTANT_VALUE): what KIF cannot express is one error naming the node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert
from tests.keras.test_traps import _write_legacy_h5


def _convert(tmp_path: Path, function: str, entry: list[Any]) -> Path:
    x = {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [None, 4, 6], "dtype": "float32"}}
    x["inbound_nodes"] = []
    config = {"name": "tf.odd", "trainable": True, "dtype": "float32", "function": function}
    op = {"class_name": "TFOpLambda", "name": "tf.odd", "config": config, "inbound_nodes": [entry]}
    graph = {"name": "m", "layers": [x, op], "input_layers": [["x", 0, 0]], "output_layers": [["tf.odd", 0, 0]]}
    model = {"class_name": "Functional", "config": graph}
    src = tmp_path / "m.h5"
    _write_legacy_h5(src, model, {"x": [], "tf.odd": []}, version="2.15.0")
    return convert(src, tmp_path / "m.kif")


@pytest.mark.parametrize(
    ("function", "entry"),
    [
        ("einsum", ["_CONSTANT_VALUE", -1, "bij,bkj->bik", {}]),  # what tf.keras 2.21 writes for tf.einsum
        ("compat.v1.pad", ["x", 0, 0, {"paddings": [[0, 0], [1, 1], [0, 0]], "mode": "WRAP", "constant_values": 0}]),
        ("compat.v1.pad", ["x", 0, 0, {"paddings": [[0, 0], [-1, 1], [0, 0]], "mode": "CONSTANT", "constant_values": 0}]),
        ("compat.v1.gather", ["x", 0, 0, {"indices": [0, 1], "axis": 1, "batch_dims": 1}]),
        ("compat.v1.gather", ["x", 0, 0, {"indices": [0.5], "axis": 1, "batch_dims": 0}]),
        ("strided_slice", ["x", 0, 0, {"begin": [0, 1], "end": [0, 3], "strides": [1, 0]}]),
        ("strided_slice", ["x", 0, 0, {"begin": [0, "a"], "end": [0, 3]}]),
        ("slice", ["x", 0, 0, {"begin": [0, 1, 0], "size": [-1, -2, 1]}]),
        ("tile", ["x", 0, 0, {"multiples": [1, "2", 1]}]),
        ("concat", [["x", 0, 0, {"axis": "last"}], ["x", 0, 0, {"axis": "last"}]]),
        ("concat", [["_CONSTANT_VALUE", -1, [[[1.0]]], {"axis": 0}], ["x", 0, 0, {"axis": 0}]]),  # a constant among the values
        ("compat.v1.transpose", ["x", 0, 0, {"perm": [0, 2, 1], "conjugate": True}]),
    ],
)
def test_unrepresentable_structural_function_is_refused_naming_the_node(function: str, entry: list[Any], tmp_path: Path) -> None:
    with pytest.raises(KifError, match=rf"'tf\.odd' \(TFOpLambda\).*{function}"):
        _convert(tmp_path, function, entry)
    assert not (tmp_path / "m.kif").exists()


def test_constant_first_argument_and_strided_masks(tmp_path: Path) -> None:
    """``3.0 - x`` is tf.math.subtract(3.0, y=x); strided masks follow tf.strided_slice (hand-derived with NumPy)."""
    x = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    model = kif.load(_convert(tmp_path, "math.subtract", ["_CONSTANT_VALUE", -1, 3.0, {"y": ["x", 0, 0], "name": None}]))
    np.testing.assert_allclose(next(iter(kif.run(model, x).values())), 3.0 - x, rtol=1e-7)
    masks = {"begin": [0, 0, 3, 1], "end": [0, 0, 0, 5], "strides": [1, 1, -1, 2], "begin_mask": 1, "end_mask": 5, "ellipsis_mask": 0}
    (tmp_path / "s").mkdir()
    model = kif.load(_convert(tmp_path / "s", "strided_slice", ["x", 0, 0, {**masks, "new_axis_mask": 2}]))
    np.testing.assert_allclose(next(iter(kif.run(model, x).values())), x[:, None, 3::-1, 1:5:2], rtol=0)
