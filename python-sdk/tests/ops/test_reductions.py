"""Reductions (spec/ops/reductions.md) from real .keras files: runtime, torch and ONNX against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from keras import ops

from tests.ops._harness import check, types

X = (np.random.default_rng(3).standard_normal((2, 3, 4, 5)) * 2).astype("float32")
AXES: list[Any] = [None, 1, -1, [1, 3], [0, 2]]
FLOAT = {
    "sum": ops.sum,
    "mean": ops.mean,
    "max": ops.max,
    "min": ops.min,
    "prod": ops.prod,
    "var": ops.var,
    "std": ops.std,
    "logsumexp": ops.logsumexp,
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", sorted(FLOAT))
def test_float_reductions_over_axes(name: str, keepdims: bool, tmp_path: Path) -> None:
    fn = FLOAT[name]
    # Keras-torch drops keepdims for sum/max/min/prod over every axis (shape []); KIF keeps NumPy's (test below)
    axes = [a for a in AXES if not (keepdims and a is None and name in ("sum", "max", "min", "prod"))]
    build = lambda x: [fn(x, axis=tuple(a) if isinstance(a, list) else a, keepdims=keepdims) for a in axes]  # noqa: E731
    model = check(build, [X], tmp_path, rtol=1e-5, atol=1e-5)
    assert types(model) == {f"op.{name}"}


@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_any_all(keepdims: bool, tmp_path: Path) -> None:
    ties = np.array([[[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]], [[0.0, 0.0, 0.0], [5.0, -5.0, 5.0]]], "float32")  # first index on ties

    def build(x: Any) -> list[Any]:
        outs = [ops.argmax(x, axis=a, keepdims=keepdims) for a in (None, 1, -1)] + [
            ops.argmin(x, axis=a, keepdims=keepdims) for a in (None, 2)
        ]
        return (
            outs
            + [ops.any(x > 2, axis=a, keepdims=keepdims) for a in (None, 1)]
            + [ops.all(x >= 0, axis=a, keepdims=keepdims) for a in (None, [1, 2])]
        )

    model = check(build, [ties], tmp_path)
    assert {"op.argmax", "op.argmin", "op.any", "op.all"} <= types(model)


def test_integer_sum_keeps_the_dtype(tmp_path: Path) -> None:
    x = np.arange(24, dtype="int32").reshape(2, 3, 4) - 11
    check(lambda t: [ops.sum(t, axis=1), ops.max(t, axis=[1, 2]), ops.prod(t, axis=-1)], [x], tmp_path)


def test_reducing_every_axis_keeps_dims_as_numpy() -> None:
    import kif

    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 3, 4, 5))
    for name in ("sum", "max", "min", "prod"):
        b.output(b.add(f"op.{name}", x, name=name, axis=None, keepdims=True))
    got = kif.run(b.build(), X)
    for name in ("sum", "max", "min", "prod"):
        np.testing.assert_allclose(got[name], getattr(np, name)(X.astype(np.float64), keepdims=True), rtol=1e-5)
