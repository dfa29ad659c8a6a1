"""CategoryEncoding with count_weights (a second input, count mode): the weighted count of every id's slot.

Oracles: TensorFlow's outputs (tests/fixtures/tf_encoding_extra: Keras 3.15 on TF 2.21 and tf.keras 2.21, written
by its generate.py by hand), incl. NaN and infinite weights, and hand-derived sums."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch

import kif
import kif.onnx
import kif.torch
from kif.errors import KifError
from kif.keras import convert, export, to_keras
from kif.layers.category_encoding import CategoryEncoding
from kif.layers.registry import ShapeError, TensorType
from tests._keras_zip import of_class, with_layer_config
from tests.layers.harness import build_layer, run_layer
from tests.onnx.helpers import run_onnx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_encoding_extra"
DATA = np.load(FIXTURES / "count_weights.npz")
FILES = [("count_weights.keras", "y0"), ("count_weights_tfk.h5", "t0")]
COUNT = {"num_tokens": 6, "output_mode": "count"}


@pytest.mark.parametrize(("name", "key"), FILES)
def test_files_convert_to_a_two_input_layer_and_reproduce_tensorflow(name: str, key: str, tmp_path: Path) -> None:
    model = kif.load(convert(FIXTURES / name, tmp_path / "m.kif"))
    (layer,) = model.layers
    assert (layer.type, layer.attributes, layer.inputs) == ("CategoryEncoding", COUNT, ["ids", "weights"])
    (got,) = kif.run(model, {"ids": DATA["x0"], "weights": DATA["x1"]}).values()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, DATA[key])
    out = kif.torch.load(model)(torch.from_numpy(DATA["x0"]), torch.from_numpy(DATA["x1"]))
    np.testing.assert_allclose((out[0] if isinstance(out, (list, tuple)) else out).numpy(), DATA[key], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "torch", "onnx"])
def test_a_nan_or_infinite_weight_stays_in_its_own_slot(backend: str, tmp_path: Path) -> None:
    ids, w, want = DATA["nan_x0"], DATA["nan_x1"], DATA["nan_y0"]
    np.testing.assert_array_equal(want, DATA["nan_t0"])  # both Keras generations agree
    if backend == "reference":
        got = run_layer("CategoryEncoding", [ids, w], **COUNT)
    elif backend == "torch":
        out = kif.torch.load(build_layer("CategoryEncoding", [ids, w], **COUNT))(torch.from_numpy(ids), torch.from_numpy(w))
        got = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    else:
        (got,) = run_onnx(build_layer("CategoryEncoding", [ids, w], **COUNT), {"in0": ids, "in1": w}, tmp_path)
    np.testing.assert_array_equal(got, want)


def test_onnx_matches_tensorflow(tmp_path: Path) -> None:
    model = build_layer("CategoryEncoding", [DATA["x0"], DATA["x1"]], **COUNT)
    (got,) = run_onnx(model, {"in0": DATA["x0"], "in1": DATA["x1"]}, tmp_path)
    np.testing.assert_allclose(got, DATA["y0"], rtol=1e-6, atol=1e-6)


def test_weighted_count_by_hand() -> None:
    """Ids [[1, 1, 0], [2, 3, 2]] (float ids truncated), weights of any numeric dtype, converted to float32."""
    ids = np.array([[1.9, 1.0, 0.0], [2.0, 3.0, 2.5]], np.float32)
    for weights in (np.array([[2, 3, 4], [5, 6, 7]], np.int32), np.array([[2, 3, 4], [5, 6, 7]], np.float16)):
        got = run_layer("CategoryEncoding", [ids, weights], num_tokens=4, output_mode="count")
        np.testing.assert_array_equal(got, np.float32([[4, 5, 0, 0], [0, 0, 12, 6]]))
        assert got.dtype == np.float32


def test_ids_out_of_range_are_still_an_error() -> None:
    with pytest.raises(KifError, match=r"expected ids in \[0, 6\)") as info:
        run_layer("CategoryEncoding", [np.array([[0, 6]]), np.ones((1, 2), np.float32)], **COUNT)
    assert info.value.code == "run-failed"


@pytest.mark.parametrize(
    ("attrs", "weights", "message"),
    [
        ({"num_tokens": 6, "output_mode": "multi_hot"}, TensorType("float32", (None, 4)), "output_mode 'count'"),
        (COUNT, TensorType("float32", (None, 3)), "the ids' shape"),
        (COUNT, TensorType("float32", (None, 4, 1)), "the ids' shape"),
        (COUNT, TensorType("bool", (None, 4)), "integer or floating count_weights"),
    ],
)
def test_shape_rule_refuses(attrs: dict[str, object], weights: TensorType, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        CategoryEncoding.infer(attrs, [TensorType("int64", (None, 4)), weights], {})


def test_weights_of_another_shape_at_run_time_are_one_error() -> None:
    b = kif.GraphBuilder("m")
    ids, w = b.input("ids", "int64", (None, 2)), b.input("w", "float32", (None, None))
    b.output(b.add("CategoryEncoding", [ids, w], name="enc", **COUNT))
    with pytest.raises(KifError, match="count_weights of the ids' shape") as info:
        kif.run(b.build(), {"ids": np.zeros((1, 2), np.int64), "w": np.ones((1, 3), np.float32)})
    assert info.value.code == "run-failed"


def _edited(tmp_path: Path, **config: object) -> Path:
    return with_layer_config(FIXTURES / "count_weights.keras", tmp_path / "edited.keras", of_class("CategoryEncoding"), **config)


def test_count_weights_outside_count_mode_is_one_conversion_error(tmp_path: Path) -> None:
    with pytest.raises(KifError, match="count_weights needs output_mode='count'") as info:
        convert(_edited(tmp_path, output_mode="multi_hot"), tmp_path / "out.kif")
    assert "CategoryEncoding" in str(info.value)
    assert not (tmp_path / "out.kif").exists()


def test_to_keras_passes_count_weights_and_exports_back(tmp_path: Path) -> None:
    bundle = convert(FIXTURES / "count_weights.keras", tmp_path / "m.kif")
    rebuilt = to_keras(bundle)
    got = np.asarray(rebuilt.predict([DATA["x0"], DATA["x1"]], verbose=0))
    np.testing.assert_allclose(got, DATA["y0"], rtol=1e-6, atol=1e-6)
    again = kif.load(export(rebuilt, tmp_path / "again.kif"))
    assert [(la.type, la.attributes, len(la.inputs)) for la in again.layers] == [("CategoryEncoding", COUNT, 2)]
