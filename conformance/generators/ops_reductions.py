"""Cases for the reduction ops (spec/ops/reductions.md): Keras 3 models of keras.ops reductions.

``python conformance/generators/ops_reductions.py [OUT_ROOT]`` rewrites ``cases/ops_reductions/``. Expected values come
from Keras; a reduction over every axis with keepdims uses a NumPy formula (Keras-torch drops keepdims there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

ops = K.ops
FLOAT = ("sum", "mean", "max", "min", "prod", "var", "std", "logsumexp")
TIES = np.array([[[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]], [[0.0, 0.0, 0.0], [5.0, -5.0, 5.0]]], "float32")


def _axis_name(axis: Any) -> str:
    return "all" if axis is None else "-".join(str(a).replace("-", "m") for a in (axis if isinstance(axis, tuple) else (axis,)))


def cases() -> Iterator[Case]:
    for name in FLOAT:
        fn = getattr(ops, name)
        for axis, keep in ((-1, False), ((1, 2), True)):
            cid = f"op-{name}-axis{_axis_name(axis)}{'-keepdims' if keep else ''}"
            what = f"op.{name} over axis {axis}{' keeping dims' if keep else ''}"
            yield layer_case(cid, what, lambda f=fn, a=axis, k=keep: lambda x: f(x, axis=a, keepdims=k), (3, 4))
        yield from _every_axis(name, (3, 4))
    for name in ("argmax", "argmin"):
        fn = getattr(ops, name)
        for axis in (1, -1):
            cid = f"op-{name}-axis{_axis_name(axis)}"
            what = f"op.{name} over axis {axis}, first index on ties"
            yield layer_case(cid, what, lambda f=fn, a=axis: lambda x: f(x, axis=a), (2, 3), inputs=[TIES])
        yield from _every_axis(name, (2, 3), TIES)
    for name in ("any", "all"):
        fn = getattr(ops, name)
        yield layer_case(f"op-{name}-axis1", f"op.{name} over axis 1", lambda f=fn: lambda x: f(x > 0, axis=1), (2, 3), inputs=[TIES])
        yield from _every_axis(name, (2, 3), TIES)
    ints = [np.arange(24, dtype="int32").reshape(2, 3, 4) - 11]
    yield layer_case(
        "op-sum-int32", "op.sum of int32 keeps int32", lambda: lambda x: ops.sum(x, axis=1), (3, 4), dtype="int32", inputs=ints
    )


def _every_axis(name: str, shape: tuple[int, ...], x: np.ndarray | None = None) -> Iterator[Case]:
    """Over every axis the output has no batch axis (Keras cannot predict it; Keras-torch also drops keepdims for
    some reductions): NumPy formulas give the expected values."""
    fn = getattr(ops, name)
    for keep in (False, True):
        cid = f"op-{name}-axisall{'-keepdims' if keep else ''}"
        what = f"op.{name} over every axis{' keeping dims' if keep else ''}"
        build = lambda f=fn, k=keep: lambda t: f(t > 0 if name in ("any", "all") else t, axis=None, keepdims=k)  # noqa: E731
        yield layer_case(
            cid, what, build, shape, inputs=None if x is None else [x], formula=lambda m, xs, n=name, k=keep: [_numpy(n, xs[0], k)]
        )


def _numpy(name: str, x: np.ndarray, keep: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    if name == "logsumexp":
        y = np.log(np.exp(x64 - x64.max()).sum()) + x64.max()
    elif name in ("argmax", "argmin"):
        y = getattr(np, name)(x64.reshape(-1)).astype(np.int32)  # keras.ops: int32 indices
    elif name in ("any", "all"):
        y = getattr(np, name)(x64 > 0)
    else:
        y = getattr(np, name)(x64)
    return np.asarray(y).reshape((1,) * x.ndim if keep else ())


if __name__ == "__main__":
    s.main("ops_reductions", cases)
