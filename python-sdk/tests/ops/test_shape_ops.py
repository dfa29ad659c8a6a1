"""Shape and indexing ops (spec/ops/shape.md) from real .keras files: runtime, torch and ONNX against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from keras import ops

from tests.ops._harness import check, types

RNG = np.random.default_rng(5)
X = RNG.standard_normal((2, 3, 4)).astype("float32")
W = RNG.standard_normal((2, 4, 5)).astype("float32")

SLICES: dict[str, Any] = {
    "pick": lambda x: x[:, 0],
    "newaxis": lambda x: x[:, None, 1:3],
    "ellipsis-pick": lambda x: x[..., -1],
    "batch-pick": lambda x: x[0],
    "stride": lambda x: x[:, ::2, 1::2],
    "clamped": lambda x: x[:, -10:10, 5:],
}


@pytest.mark.parametrize("name", sorted(SLICES))
def test_strided_slice(name: str, tmp_path: Path) -> None:
    model = check(SLICES[name], [X], tmp_path)
    assert types(model) == {"op.strided_slice"}


# Keras-torch refuses negative steps: NumPy indexing is the oracle for these.
NEGATIVE_STEPS: dict[str, tuple[list[Any], Any]] = {
    "reverse": (["...", [None, None, -1]], np.s_[..., ::-1]),
    "negative-step": ([[None, None, None], [2, 0, -1], [None, None, -2]], np.s_[:, 2:0:-1, ::-2]),
    "newaxis-reverse": ([[None, None, -1], "newaxis", 1, [-1, -10, -3]], np.s_[::-1, None, 1, -1:-10:-3]),
    "empty": ([[None, None, None], [0, 2, -1]], np.s_[:, 0:2:-1]),
}


@pytest.mark.parametrize("name", sorted(NEGATIVE_STEPS))
def test_strided_slice_negative_steps(name: str, tmp_path: Path) -> None:
    index, key = NEGATIVE_STEPS[name]
    _against_numpy("op.strided_slice", {"index": index}, X[key], tmp_path)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_pad_reflect_symmetric(mode: str, tmp_path: Path) -> None:
    """Keras-torch cannot pad every axis in these modes: np.pad is the oracle."""
    pads = [[1, 0], [2, 1], [3, 3]] if mode == "symmetric" else [[0, 1], [2, 2], [1, 3]]
    _against_numpy("op.pad", {"pads": pads, "mode": mode}, np.pad(X, pads, mode=mode), tmp_path)


def _against_numpy(op_type: str, attrs: dict[str, Any], want: np.ndarray, tmp_path: Path) -> None:
    import kif
    import kif.onnx
    import kif.torch

    b = kif.GraphBuilder("m")
    b.output(b.add(op_type, b.input("x", "float32", X.shape), name="s", **attrs))  # static: ONNX gathers need sizes
    kif.save(b.build(), tmp_path / "m.kif")
    for run in (
        lambda f: kif.run(tmp_path / "m.kif", f),
        kif.torch.conformance_backend.load(tmp_path / "m.kif"),
        kif.onnx.conformance_backend.load(tmp_path / "m.kif"),
    ):
        got = np.asarray(run({"x": X})["s"])
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


SHAPES: dict[str, Any] = {
    "reshape": (lambda x: [ops.reshape(x, (2, -1)), ops.reshape(x, (-1,)), ops.reshape(x, (-1, 2, 2, 3))], {"op.reshape"}),
    "transpose": (lambda x: [ops.transpose(x, (2, 0, 1)), ops.transpose(x)], {"op.transpose"}),
    "expand_squeeze": (
        lambda x: [ops.expand_dims(x, 0), ops.squeeze(ops.expand_dims(x, (1, 3)), axis=(1, 3))],
        {"op.expand_dims", "op.squeeze"},
    ),
    "concat_stack": (
        lambda x: [ops.concatenate([x, x * 2], axis=0), ops.stack([x, x], axis=1), ops.stack([x, x], axis=-1)],
        {"op.stack"},
    ),  # concatenate: the layer
    "take": (lambda x: [ops.take(x, [2, 0, -1], axis=1), ops.take(x, [[0, 1], [3, 3]], axis=-1), ops.take(x, 1, axis=2)], {"op.take"}),
    "pad": (lambda x: [ops.pad(x, ((0, 0), (1, 2), (0, 1))), ops.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-1.5)], {"op.pad"}),
    "tile_broadcast": (
        lambda x: [ops.tile(x, (1, 2, 1)), ops.tile(x, (2, 1, 1, 2)), ops.broadcast_to(x[:, :1], (2, 3, 4))],
        {"op.tile", "op.broadcast_to"},
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_ops(name: str, tmp_path: Path) -> None:
    build, expected = SHAPES[name]
    model = check(build, [X], tmp_path)
    assert expected <= types(model)


def test_take_with_tensor_indices(tmp_path: Path) -> None:
    indices = np.array([[2, 0], [1, -1]], "int32")
    check(lambda x, i: ops.take(x, i, axis=1), [X, indices], tmp_path)
    flat = np.array([[23, 0], [7, 11]], "int32")  # Keras-torch misreads negative indices into the flattened tensor
    (tmp_path / "flat").mkdir()
    check(lambda x, i: ops.take(x, i), [X, flat], tmp_path / "flat")


def test_matmul_and_einsum(tmp_path: Path) -> None:
    build = lambda x, w: [ops.matmul(x, w), ops.einsum("bij,bjk->bik", x, w), ops.einsum("bij->bji", x), ops.einsum("...j,bjk", x, w)]  # noqa: E731
    model = check(build, [X, W], tmp_path, rtol=1e-5, atol=1e-5)
    assert {"op.matmul", "op.einsum"} <= types(model)


@pytest.mark.parametrize(
    "key",
    [
        [{"class_name": "__slice__", "config": {"start": "a", "stop": None, "step": None}}],
        [[0, 1]],
        [{"class_name": "__slice__", "config": {"step": 0}}],
    ],
)
def test_refused_getitem_names_the_node(key: list[Any]) -> None:
    from kif.errors import KifError
    from kif.keras.mapping import Context
    from kif.keras.op_args import TensorArg
    from kif.keras.op_nodes import map_op
    from kif.keras.topology import Node

    node = Node("get_item_7", "get_item_7", "GetItem", {"name": "get_item_7"}, (), ["x"], outputs=["y"], keras3=True)
    node.args, node.constants = [TensorArg("x"), key], key
    with pytest.raises(KifError, match=r"'get_item_7' \(GetItem\).*indexes with"):
        map_op(Context(node, 3, lambda: None))  # type: ignore[arg-type, return-value]
