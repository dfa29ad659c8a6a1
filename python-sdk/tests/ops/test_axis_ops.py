"""Ops along an axis (spec/ops/axis.md) from real .keras files: runtime, torch and ONNX against Keras; the cases Keras
cannot state (out-of-range one_hot, exclusive/reverse cumsum, NaN and tie order) against hand-derived values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import torch
from keras import ops

import kif
import kif.onnx
import kif.torch
from kif.errors import KifError
from tests.keras.test_traps import _tf_op
from tests.ops._harness import check, types
from tests.ops.test_tf_op_lambda_axis import _model as _tf_model

RNG = np.random.default_rng(13)
X = RNG.standard_normal((2, 3, 4)).astype("float32")
IDX = RNG.integers(-4, 4, (2, 3, 4)).astype("int32")
IDX[0, 0, 0] = -4  # the lowest negative index
LABELS = np.array([[0, 2, 1], [4, 3, 0]], "int32")

KERAS: dict[str, tuple[Any, list[np.ndarray], set[str]]] = {
    "split-sections": (lambda x: ops.split(x, 2, axis=-1), [X], {"op.split"}),
    "split-indices": (lambda x: ops.split(x, [1, 1, 3], axis=1), [X], {"op.split"}),
    "split-one-part-used": (lambda x: ops.split(x, 3, axis=1)[0] * 2.0, [X], {"op.split", "Rescaling"}),
    "take-along-axis": (lambda x, i: ops.take_along_axis(x, i, axis=2), [X, IDX], {"op.take_along_axis"}),
    "repeat-count": (lambda x: ops.repeat(x, 2, axis=1), [X], {"op.repeat"}),
    "repeat-batch": (lambda x: ops.repeat(x, 3, axis=0), [X], {"op.repeat"}),
    "repeat-flat": (lambda x: ops.repeat(x, 2), [X], {"op.repeat"}),
    "cumsum-axis": (lambda x: ops.cumsum(x, axis=1), [X], {"op.cumsum"}),
    "cumsum-flat": (lambda x: ops.cumsum(x), [X], {"op.cumsum"}),
    "cumsum-int": (lambda i: ops.cumsum(i, axis=-1), [IDX], {"op.cumsum"}),
    "one-hot": (lambda i: ops.one_hot(i, 5), [LABELS], {"op.one_hot"}),
    "one-hot-axis1": (lambda i: ops.one_hot(i, 5, axis=1), [LABELS], {"op.one_hot"}),
    "log-softmax-axis1": (lambda x: ops.log_softmax(x, axis=1), [X], {"op.log_softmax"}),
    "softmax-batch-axis": (lambda x: ops.softmax(x, axis=0), [X], {"Softmax"}),  # the Softmax layer computes it
    "log-softmax-batch-axis": (lambda x: ops.log_softmax(x, axis=0), [X], {"op.log_softmax"}),
    "top-k": (lambda x: list(ops.top_k(x, 3)), [X], {"op.top_k"}),
    "sort-last": (lambda x: ops.sort(x), [X], {"op.sort"}),
    "sort-axis1": (lambda x: ops.sort(x, axis=1), [X], {"op.sort"}),
    "sort-int-batch": (lambda i: ops.sort(i, axis=0), [IDX], {"op.sort"}),
}


@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_op(name: str, tmp_path: Path) -> None:
    build, inputs, expected = KERAS[name]
    model = check(build, inputs, tmp_path, rtol=1e-5, atol=1e-5)
    assert types(model) <= expected | {"op.constant"} and expected - {"Rescaling"} <= types(model)


def _numpy(op_type: str, attrs: dict[str, Any], x: np.ndarray, want: list[np.ndarray], tmp_path: Path, outputs: int = 1) -> None:
    """A one-op bundle (static shapes) against hand-derived values, exactly, on the runtime, torch and ONNX."""
    b = kif.GraphBuilder("m")
    made = b.add(op_type, b.input("x", str(x.dtype), x.shape), name="op", num_outputs=outputs, **attrs)
    for tensor in made if isinstance(made, tuple) else [made]:
        b.output(tensor)
    kif.save(b.build(), tmp_path / "m.kif", overwrite=True)
    _all_backends(tmp_path / "m.kif", {"x": x}, want)


def _all_backends(bundle: Path, feed: dict[str, np.ndarray], want: list[np.ndarray]) -> None:
    assert kif.validate(bundle).ok
    for backend, run in (
        ("runtime", lambda f: kif.run(bundle, f)),
        ("torch", kif.torch.conformance_backend.load(bundle)),
        ("onnx", kif.onnx.conformance_backend.load(bundle)),
    ):
        got = [np.asarray(v) for v in run(feed).values()]
        assert len(got) == len(want), backend
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype, (backend, g.shape, g.dtype)
            np.testing.assert_array_equal(g, w, err_msg=backend)


def test_one_hot_out_of_range_is_all_off(tmp_path: Path) -> None:
    x = np.array([[0, 2, -1], [3, -3, 1]], "int64")  # -1, 3, -3 are outside [0, 3): no wrapping
    want = np.array([[[5, -1, -1], [-1, -1, 5], [-1, -1, -1]], [[-1, -1, -1], [-1, -1, -1], [-1, 5, -1]]], "int32")
    _numpy("op.one_hot", {"depth": 3, "axis": -1, "dtype": "int32", "on_value": 5, "off_value": -1}, x, [want], tmp_path)


def test_one_hot_axis0(tmp_path: Path) -> None:
    x = np.array([1, 7, 0], "int32")
    want = np.array([[0, 0, 1], [1, 0, 0]], "float32")
    _numpy("op.one_hot", {"depth": 2, "axis": 0, "dtype": "float32", "on_value": 1, "off_value": 0}, x, [want], tmp_path)


@pytest.mark.parametrize(
    ("exclusive", "reverse", "want"),
    [(False, False, [1, 3, 6, 10]), (True, False, [0, 1, 3, 6]), (False, True, [10, 9, 7, 4]), (True, True, [9, 7, 4, 0])],
)
def test_cumsum_exclusive_reverse(exclusive: bool, reverse: bool, want: list[int], tmp_path: Path) -> None:
    x = np.array([[1, 2, 3, 4], [0, 0, 0, 0]], "float32")
    expected = np.array([want, [0, 0, 0, 0]], "float32")
    _numpy("op.cumsum", {"axis": 1, "exclusive": exclusive, "reverse": reverse}, x, [expected], tmp_path)


TIES = np.array([[3.0, 1.0, 5.0, 1.0, 5.0, 0.0, -2.0]], "float32")


def test_top_k_ties_lowest_index_first(tmp_path: Path) -> None:
    values = np.array([[5.0, 5.0, 3.0, 1.0, 1.0]], "float32")
    indices = np.array([[2, 4, 0, 1, 3]], "int64")
    _numpy("op.top_k", {"k": 5, "dtype": "int64"}, TIES, [values, indices], tmp_path, outputs=2)


def test_top_k_int_ties(tmp_path: Path) -> None:
    """Keras-torch's torch.topk breaks integer ties either way; the spec (tf.math.top_k) takes the lower index first."""
    x = np.array([[-4, -4, 3, 0], [7, 7, 7, -1]], "int32")
    values = np.array([[3, 0, -4, -4], [7, 7, 7, -1]], "int32")
    _numpy("op.top_k", {"k": 4, "dtype": "int32"}, x, [values, np.array([[2, 3, 0, 1], [0, 1, 2, 3]], "int32")], tmp_path, outputs=2)


def test_take_along_axis_broadcasts_off_the_axis(tmp_path: Path) -> None:
    """Keras-torch cannot broadcast here; np.take_along_axis is the oracle."""
    i = np.array([[[1, -1]], [[0, 3]]], "int64")  # (2, 1, 2) against x (2, 3, 4) along axis 2
    b = kif.GraphBuilder("m")
    b.output(b.add("op.take_along_axis", [b.input("x", "float32", X.shape), b.input("i", "int64", i.shape)], name="op", axis=2))
    kif.save(b.build(), tmp_path / "m.kif")
    _all_backends(tmp_path / "m.kif", {"x": X, "i": i}, [np.take_along_axis(X, np.where(i < 0, i + 4, i), axis=2)])


def test_repeat_list_and_flat(tmp_path: Path) -> None:
    """Keras-torch fails on a repeat list in a functional model; np.repeat is the oracle."""
    _numpy("op.repeat", {"repeats": [1, 0, 3, 2], "axis": -1}, X, [np.repeat(X, [1, 0, 3, 2], axis=-1)], tmp_path)
    _numpy("op.repeat", {"repeats": 2, "axis": None}, X, [np.repeat(X, 2)], tmp_path)


def test_top_k_values_only(tmp_path: Path) -> None:
    _numpy("op.top_k", {"k": 2, "dtype": "int32"}, TIES, [np.array([[5.0, 5.0]], "float32")], tmp_path)


@pytest.mark.parametrize(("descending", "want"), [(False, [-2, 0, 1, 1, 3, 5, 5]), (True, [5, 5, 3, 1, 1, 0, -2])])
def test_sort_both_directions(descending: bool, want: list[float], tmp_path: Path) -> None:
    _numpy("op.sort", {"axis": -1, "descending": descending}, TIES, [np.array([want], "float32")], tmp_path)


NANS = np.array([[2.0, np.nan, -np.inf, 1.0, np.inf, np.nan]], "float32")


def test_sort_and_top_k_rank_nan_above_inf(tmp_path: Path) -> None:
    """The reference runtime, torch and ONNX (TopK) agree on NaN's place."""
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", NANS.shape)
    b.output(b.add("op.sort", x, name="up", axis=-1, descending=False))
    b.output(b.add("op.sort", x, name="down", axis=-1, descending=True))
    values, indices = b.add("op.top_k", x, name="top", num_outputs=2, k=3, dtype="int32")
    b.output(values)
    b.output(indices)
    model = b.build()
    kif.save(model, tmp_path / "m.kif")
    onnx = kif.onnx.conformance_backend.load(tmp_path / "m.kif")({"x": NANS})
    for got in (kif.run(model, {"x": NANS}), kif.torch.load(model)(torch.from_numpy(NANS)), onnx):
        up, down, top, at = (np.asarray(v) for v in (got.values() if isinstance(got, dict) else got))
        np.testing.assert_array_equal(up, [[-np.inf, 1, 2, np.inf, np.nan, np.nan]])
        np.testing.assert_array_equal(down, [[np.nan, np.nan, np.inf, 2, 1, -np.inf]])
        np.testing.assert_array_equal(top, [[np.nan, np.nan, np.inf]])
        assert at.tolist() == [[1, 5, 4]]


def test_split_sizes_and_fewer_declared_outputs(tmp_path: Path) -> None:
    x = np.arange(12, dtype="float32").reshape(2, 6)
    _numpy("op.split", {"splits": [1, 0, 5], "axis": 1}, x, [x[:, :1], x[:, 1:1], x[:, 1:]], tmp_path, outputs=3)
    _numpy("op.split", {"splits": 3, "axis": -1}, x, [x[:, :2], x[:, 2:4]], tmp_path, outputs=2)


def test_repeat_zero_counts(tmp_path: Path) -> None:
    x = np.array([[1, 2, 3]], "int32")
    _numpy("op.repeat", {"repeats": [0, 2, 1], "axis": 1}, x, [np.array([[2, 2, 3]], "int32")], tmp_path)


@pytest.mark.parametrize(
    ("op_type", "attrs", "shape", "why"),
    [
        ("op.split", {"splits": 4, "axis": 1}, (2, 6), "equal parts"),
        ("op.split", {"splits": [1, 2], "axis": 1}, (2, 6), "summing"),
        ("op.repeat", {"repeats": [1, 2], "axis": 1}, (2, 3), "per element"),
        ("op.top_k", {"k": 7, "dtype": "int32"}, (2, 6), "k <="),
        ("op.softmax", {"axis": 2}, (2, 6), "axis in"),
        ("op.sort", {"axis": -3, "descending": False}, (2, 6), "axis in"),
    ],
)
def test_bad_attributes_are_one_shape_error(op_type: str, attrs: dict[str, Any], shape: tuple[int, ...], why: str) -> None:
    b = kif.GraphBuilder("m")
    with pytest.raises(KifError, match=why):
        b.output(b.add(op_type, b.input("x", "float32", shape), name="op", **attrs))
        b.build()


def test_functional_model_of_axis_ops_converts_and_matches_predict(tmp_path: Path) -> None:
    """A Keras 3 functional model chaining these ops with layers, saved as .keras: kif.run matches model.predict."""
    x = keras.Input((6, 4), name="x")
    h = keras.layers.Dense(4, name="dense")(x)
    a, b = ops.split(h, 2, axis=-1)
    scores = ops.log_softmax(a, axis=1) + ops.cumsum(b, axis=1)
    values, indices = ops.top_k(ops.transpose(scores, (0, 2, 1)), 3)
    gathered = ops.take_along_axis(ops.transpose(a, (0, 2, 1)), indices, axis=-1)
    ranked = ops.sort(ops.repeat(values, 2, axis=-1), axis=-1)
    hot = ops.sum(ops.one_hot(indices, 6), axis=2)
    out = keras.layers.Concatenate(name="cat")([ops.reshape(ranked, (-1, 12)), ops.reshape(gathered, (-1, 6)), ops.reshape(hot, (-1, 12))])
    model = keras.Model(x, keras.layers.Dense(3, name="head")(out))
    model.save(tmp_path / "m.keras")
    data = RNG.standard_normal((5, 6, 4)).astype("float32")
    want = model.predict(data, verbose=0)
    bundle = kif.keras.convert(tmp_path / "m.keras", tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    loaded = kif.load(bundle)
    assert {"op.split", "op.log_softmax", "op.cumsum", "op.top_k", "op.take_along_axis", "op.sort", "op.repeat", "op.one_hot"} <= types(
        loaded
    )
    for run in (lambda f: kif.run(loaded, f), kif.torch.conformance_backend.load(bundle), kif.onnx.conformance_backend.load(bundle)):
        np.testing.assert_allclose(np.asarray(next(iter(run({"x": data}).values()))), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "build",
    [
        lambda x: ops.top_k(x, 2, sorted=False)[0],
        lambda x: ops.cumsum(x, axis=1, dtype="float64"),
    ],
)
def test_unmappable_axis_ops_are_refused_naming_the_node(build: Any, tmp_path: Path) -> None:
    x = keras.Input((4, 3))
    keras.Model(x, build(x)).save(tmp_path / "m.keras")
    with pytest.raises(KifError, match="the op node"):
        kif.keras.convert(tmp_path / "m.keras", tmp_path / "m.kif")
    assert not (tmp_path / "m.kif").exists()


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_any_axis(axis: int, tmp_path: Path) -> None:
    """keras.ops.softmax maps onto the Softmax layer; op.softmax (composites, tf functions) against torch.softmax."""
    want = torch.softmax(torch.from_numpy(X), dim=axis).numpy()
    b = kif.GraphBuilder("m")
    b.output(b.add("op.softmax", b.input("x", "float32", X.shape), name="op", axis=axis))
    kif.save(b.build(), tmp_path / "m.kif")
    for run in (
        lambda f: kif.run(tmp_path / "m.kif", f),
        kif.torch.conformance_backend.load(tmp_path / "m.kif"),
        kif.onnx.conformance_backend.load(tmp_path / "m.kif"),
    ):
        np.testing.assert_allclose(np.asarray(run({"x": X})["op"]), want, rtol=1e-6, atol=1e-7)


@keras.saving.register_keras_serializable("axis_tests")
class RankGate(keras.layers.Layer):
    """A custom layer whose call uses two-output ops: kif.keras.export traces it into a composite."""

    def call(self, x: Any) -> Any:
        a, b = ops.split(x, 2, axis=-1)
        values, indices = ops.top_k(b, 1)
        return ops.sort(a, axis=-1) * values + ops.cast(indices, x.dtype)


def test_custom_layer_with_multi_output_ops_exports_as_a_composite(tmp_path: Path) -> None:
    x = keras.Input((3, 4), name="x")
    model = keras.Model(x, RankGate(name="gate")(keras.layers.Dense(4, name="dense")(x)))
    data = RNG.standard_normal((2, 3, 4)).astype("float32")
    want = model.predict(data, verbose=0)
    bundle = kif.keras.export(model, tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    loaded = kif.load(bundle)
    assert {"op.split", "op.top_k", "op.sort"} <= {layer.type for layer in loaded.inlined().layers}
    for run in (lambda f: kif.run(loaded, f), kif.torch.conformance_backend.load(bundle), kif.onnx.conformance_backend.load(bundle)):
        np.testing.assert_allclose(np.asarray(next(iter(run({"x": data}).values()))), want, rtol=1e-5, atol=1e-5)


def test_a_hostile_split_count_is_one_error_without_allocating(tmp_path: Path) -> None:
    b = kif.GraphBuilder("m")
    with pytest.raises(KifError, match="at most 4096 parts"):
        b.output(b.add("op.split", b.input("x", "float32", (None, None)), name="op", splits=10**12, axis=1))
        b.build()
    ops_ = [_tf_op("tf.split", "split", [["x", 0, 0, {"num_or_size_splits": 10**12, "axis": 1}]])]
    with pytest.raises(KifError, match=r"'tf\.split' \(TFOpLambda\).*more than the limit"):
        _tf_model(tmp_path, ops_, [["tf.split", 0, 0]])


def test_repeat_list_on_an_unknown_size(tmp_path: Path) -> None:
    """A count per element along the (unknown-size) batch axis, flattened or not: np.repeat is the oracle."""
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "float32")
    b = kif.GraphBuilder("m")
    t = b.input("x", "float32", (None, 2))
    b.output(b.add("op.repeat", t, name="rows", repeats=[2, 0, 1], axis=0))
    b.output(b.add("op.repeat", t, name="flat", repeats=[1, 2, 0, 1, 1, 3], axis=None))
    kif.save(b.build(), tmp_path / "m.kif")
    _all_backends(tmp_path / "m.kif", {"x": x}, [np.repeat(x, [2, 0, 1], axis=0), np.repeat(x, [1, 2, 0, 1, 1, 3])])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "float16"])
def test_one_hot_output_dtypes(dtype: str, tmp_path: Path) -> None:
    x = np.array([2, -1, 0], "int32")
    want = np.array([[0, 0, 1], [0, 0, 0], [1, 0, 0]]).astype(dtype)
    _numpy("op.one_hot", {"depth": 3, "axis": -1, "dtype": dtype, "on_value": 1, "off_value": 0}, x, [want], tmp_path)
