"""Ops along an axis (spec/ops/axis.md) as ONNX nodes: Split, GatherElements, Gather (repeat), CumSum, Softmax,
LogSoftmax, TopK (top_k, and sort as TopK with k = the axis size). Dtypes ONNX Runtime lacks for CumSum, Softmax and
TopK are computed in a wider one that holds every value exactly and cast back. one_hot is Equal + Where rather than
OneHot, which wraps negative indices (the spec's are off everywhere) and has few output dtypes in ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.ops.axis import Repeat, split_sizes

Names = list[str | None]
_WIDER = {"float16": "float32", "bfloat16": "float32", "int8": "int32", "int16": "int32", "uint8": "int32", "bool": "int32"}


def _x(inputs: Names) -> str:
    assert inputs[0] is not None
    return inputs[0]


def _widened(ctx: Ctx, x: str, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    """``x`` in a dtype ONNX Runtime takes, and the dtype to cast results back to (None: unchanged)."""
    dtype = ctx.type_of(x).dtype
    if dtype in allowed:
        return x, None
    return ctx.node("Cast", [x], to=ONNX_DTYPES[_WIDER.get(dtype, "float64")]), dtype


def _back(ctx: Ctx, y: str, dtype: str | None) -> str:
    return y if dtype is None else ctx.node("Cast", [y], to=ONNX_DTYPES[dtype])


def _dims(ctx: Ctx, x: str, start: int, end: int | None = None) -> str:
    """Shape(x)[start:end] as an int64 vector (dynamic sizes included)."""
    return ctx.node("Shape", [x], start=start) if end is None else ctx.node("Shape", [x], start=start, end=end)


@emits("op.split")
def _split(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    at = attrs["axis"] % ctx.rank(x)
    sizes = split_sizes(attrs["splits"], ctx.shape(x)[at])
    if len(sizes) == 1:
        return [ctx.node("Identity", [x])]
    if None in sizes:  # equal parts of an unknown size (the shape rule checks the division at run time)
        return list(ctx.node("Split", [x], outputs=len(sizes), axis=at, num_outputs=len(sizes)))
    return list(ctx.node("Split", [x, ctx.ints([int(s) for s in sizes])], outputs=len(sizes), axis=at))  # type: ignore[arg-type]


@emits("op.take_along_axis")
def _take_along_axis(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, i = _x(inputs), inputs[1]
    assert i is not None
    rank = ctx.rank(x)
    at = attrs["axis"] % rank
    one = ctx.ints([1])
    # broadcast off the axis: each side is expanded by the other's shape with 1 on the axis
    xb = ctx.node("Expand", [x, ctx.node("Concat", [_dims(ctx, i, 0, at), one, _dims(ctx, i, at + 1)], axis=0)])
    ib = ctx.node(
        "Expand",
        [ctx.node("Cast", [i], to=ONNX_DTYPES["int64"]), ctx.node("Concat", [_dims(ctx, x, 0, at), one, _dims(ctx, x, at + 1)], axis=0)],
    )
    size = ctx.node("Reshape", [_dims(ctx, x, at, at + 1), ctx.ints([])])
    wrapped = ctx.node("Where", [ctx.node("Less", [ib, ctx.scalar(0, np.dtype("int64"))]), ctx.node("Add", [ib, size]), ib])
    return [ctx.node("GatherElements", [xb, wrapped], axis=at)]


@emits("op.repeat")
def _repeat(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    shape = ctx.shape(x)
    axis, _ = Repeat.place(attrs, shape)
    if axis is None:
        x, axis, shape = ctx.node("Reshape", [x, ctx.ints([-1])]), 0, (None if None in shape else int(np.prod(shape)),)
    reps = attrs["repeats"]
    if shape[axis] is None and isinstance(reps, int):  # one count for every element: Unsqueeze, Expand, Reshape
        rank = len(shape)
        ones = [1] * (rank + 1)
        ones[axis + 1] = reps
        tiled = ctx.node("Expand", [ctx.node("Unsqueeze", [x, ctx.ints([axis + 1])]), ctx.ints(ones)])
        size = ctx.node("Mul", [_dims(ctx, x, axis, axis + 1), ctx.ints([reps])])
        target = ctx.node("Concat", [_dims(ctx, x, 0, axis), size, _dims(ctx, x, axis + 1)], axis=0)
        return [ctx.node("Reshape", [tiled, target])]
    size = len(reps) if isinstance(reps, list) else shape[axis]  # a list has one count per element (checked at run time)
    positions = np.repeat(np.arange(size, dtype=np.int64), reps)
    return [ctx.node("Gather", [x, ctx.const(positions, hint="positions")], axis=axis)]


@emits("op.cumsum")
def _cumsum(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    data, back = _widened(ctx, x, ("float32", "float64", "int32", "int64"))
    axis = attrs["axis"]
    if axis is None:
        data, axis = ctx.node("Reshape", [data, ctx.ints([-1])]), 0
    y = ctx.node("CumSum", [data, ctx.const(np.asarray(axis, np.int64))], exclusive=int(attrs["exclusive"]), reverse=int(attrs["reverse"]))
    return [_back(ctx, y, back)]


@emits("op.one_hot")
def _one_hot(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x) + 1
    at = attrs["axis"] % rank
    classes = ctx.const(np.arange(attrs["depth"], dtype=np.int64).reshape((-1,) + (1,) * (rank - at - 1)), hint="classes")
    hot = ctx.node("Equal", [ctx.node("Unsqueeze", [ctx.node("Cast", [x], to=ONNX_DTYPES["int64"]), ctx.ints([at])]), classes])
    target = ctx.out_types[0].dtype
    if target in _WIDER and target != "float16":  # ONNX Runtime's Where lacks these: pick in int32, cast back exactly
        on, off = (int(bool(v)) if target == "bool" else int(v) for v in (attrs["on_value"], attrs["off_value"]))
        picked = ctx.node("Where", [hot, ctx.scalar(on, np.dtype("int32")), ctx.scalar(off, np.dtype("int32"))])
        return [ctx.node("Cast", [picked], to=ONNX_DTYPES[target])]
    dtype = np.dtype(ctx.out_dtype(0))
    return [ctx.node("Where", [hot, ctx.scalar(attrs["on_value"], dtype), ctx.scalar(attrs["off_value"], dtype)])]


@emits("op.softmax", "op.log_softmax")
def _softmax(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, back = _widened(ctx, _x(inputs), ("float32", "float64"))
    op = "LogSoftmax" if ctx.layer is not None and ctx.layer.type == "op.log_softmax" else "Softmax"
    return [_back(ctx, ctx.node(op, [x], axis=attrs["axis"] % ctx.rank(_x(inputs))), back)]


_TOPK = ("float32", "float64", "int32", "int64")


@emits("op.top_k")
def _top_k(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, back = _widened(ctx, _x(inputs), _TOPK)
    values, indices = ctx.node("TopK", [x, ctx.ints([attrs["k"]])], outputs=2, axis=-1, largest=1, sorted=1)
    return [_back(ctx, values, back), ctx.node("Cast", [indices], to=ONNX_DTYPES[attrs["dtype"]])]


@emits("op.sort")
def _sort(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, back = _widened(ctx, _x(inputs), _TOPK)
    at = attrs["axis"] % ctx.rank(_x(inputs))
    size = ctx.shape(_x(inputs))[at]
    k = ctx.ints([size]) if size is not None else _dims(ctx, _x(inputs), at, at + 1)
    values, _ = ctx.node("TopK", [x, k], outputs=2, axis=at, largest=int(attrs["descending"]), sorted=1)
    return [_back(ctx, values, back)]
