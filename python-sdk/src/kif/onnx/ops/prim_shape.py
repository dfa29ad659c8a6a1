"""Shape and indexing ops (spec/ops/shape.md) as ONNX nodes."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import Ctx
from kif.onnx.ops import emits
from kif.ops._index import check_item, expand
from kif.ops.shape import ExpandDims, Squeeze, Transpose

Names = list[str | None]
_BIG = 2**63 - 1


def _xs(inputs: Names) -> list[str]:
    return [i for i in inputs if i is not None]


@emits("op.reshape")
def _reshape(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("Reshape", [_xs(inputs)[0], ctx.ints(attrs["shape"])], allowzero=1)]


@emits("op.transpose")
def _transpose(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _xs(inputs)[0]
    return [ctx.node("Transpose", [x], perm=Transpose.perm(attrs, ctx.rank(x)))]


@emits("op.expand_dims")
def _expand_dims(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _xs(inputs)[0]
    return [ctx.node("Unsqueeze", [x, ctx.ints(ExpandDims.positions(attrs, ctx.rank(x)))])]


@emits("op.squeeze")
def _squeeze(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _xs(inputs)[0]
    axes = Squeeze.axes(attrs, ctx.shape(x))
    return [ctx.node("Squeeze", [x, ctx.ints(axes)]) if axes else ctx.node("Identity", [x])]


@emits("op.concatenate")
def _concatenate(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    xs = _xs(inputs)
    return [ctx.node("Concat", xs, axis=attrs["axis"] % ctx.rank(xs[0]))]


@emits("op.stack")
def _stack(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    xs = _xs(inputs)
    axis = attrs["axis"] % (ctx.rank(xs[0]) + 1)
    return [ctx.node("Concat", [ctx.node("Unsqueeze", [x, ctx.ints([axis])]) for x in xs], axis=axis)]


@emits("op.strided_slice")
def _strided_slice(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    """One Slice over every sliced axis (ONNX clamps as Python does, negative steps included), then Squeeze
    for picked axes and Unsqueeze for new ones."""
    x = _xs(inputs)[0]
    for item in attrs["index"]:
        check_item(item)
    starts, ends, axes, steps, picked, new = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for item in expand(attrs["index"], ctx.rank(x)):
        if item == "newaxis":
            new.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, int):
            starts.append(item)
            ends.append(item + 1 if item != -1 else _BIG)
            steps.append(1)
            picked.append(axis)
        else:
            start, stop, step = item
            step = 1 if step is None else step
            starts.append(start if start is not None else (0 if step > 0 else _BIG))
            ends.append(stop if stop is not None else (_BIG if step > 0 else -_BIG - 1))
            steps.append(step)
            out_axis += 1
        axes.append(axis)
        axis += 1
    y = ctx.node("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes), ctx.ints(steps)]) if axes else x
    if picked:
        y = ctx.node("Squeeze", [y, ctx.ints(picked)])
    if new:
        y = ctx.node("Unsqueeze", [y, ctx.ints(new)])
    return [y if y != x else ctx.node("Identity", [x])]


@emits("op.take")
def _take(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, indices = _xs(inputs)
    if attrs["axis"] is None:
        return [ctx.node("Gather", [ctx.node("Reshape", [x, ctx.ints([-1])]), indices], axis=0)]
    return [ctx.node("Gather", [x, indices], axis=attrs["axis"] % ctx.rank(x))]


@emits("op.pad")
def _pad(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _xs(inputs)[0]
    pads = [tuple(p) for p in attrs["pads"]]
    if attrs["mode"] == "constant":
        flat = [p[0] for p in pads] + [p[1] for p in pads]
        return [ctx.node("Pad", [x, ctx.ints(flat), ctx.scalar(attrs["value"], x)], mode="constant")]
    y = x
    for axis, (before, after) in enumerate(pads):  # reflect/symmetric: gather the positions np.pad reads
        if before or after:
            size = ctx.shape(x)[axis]
            if size is None:
                raise ctx.refuse(f"{attrs['mode']} padding needs a static size on axis {axis}")
            positions = np.pad(np.arange(size), (before, after), mode=attrs["mode"])
            y = ctx.node("Gather", [y, ctx.ints(positions.tolist())], axis=axis)
    return [y if y != x else ctx.node("Identity", [x])]


@emits("op.tile")
def _tile(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _xs(inputs)[0]
    reps, rank = list(attrs["repeats"]), ctx.rank(x)
    if len(reps) > rank:
        x = ctx.node("Unsqueeze", [x, ctx.ints(list(range(len(reps) - rank)))])  # leading size-1 axes, as numpy.tile
    reps = [1] * (max(rank, len(reps)) - len(reps)) + reps
    return [ctx.node("Tile", [x, ctx.ints(reps)])]


@emits("op.broadcast_to")
def _broadcast_to(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("Expand", [_xs(inputs)[0], ctx.ints(attrs["shape"])])]


@emits("op.matmul")
def _matmul(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("MatMul", _xs(inputs))]


@emits("op.einsum")
def _einsum(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("Einsum", _xs(inputs), equation=attrs["equation"].replace(" ", ""))]
