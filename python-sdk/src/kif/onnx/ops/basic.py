"""Emitters for dense, activation, merge, no-op, reshaping and embedding layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation, reduce, to_last


def _x(inputs: list[str | None]) -> str:
    assert inputs[0] is not None
    return inputs[0]


@emits("Dense")
def dense(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    dt = ctx.np_dtype(x)
    y = ctx.node("MatMul", [x, ctx.const(ctx.weight("kernel", dt), hint="kernel")])
    if attrs["use_bias"]:
        y = ctx.node("Add", [y, ctx.const(ctx.weight("bias", dt), hint="bias")])
    return [activation(ctx, attrs["activation"], x, y)]


@emits("Activation")
def act(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    return [activation(ctx, attrs["activation"], x, x)]


@emits("ReLU")
def relu(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    # KIF: x > threshold → min(x, max_value); otherwise negative_slope * (x - threshold)
    x = _x(inputs)
    upper = x if attrs["max_value"] is None else ctx.node("Min", [x, ctx.scalar(attrs["max_value"], x)])
    if attrs["threshold"] == 0 and attrs["negative_slope"] == 0:
        return [ctx.node("Relu", [upper])]
    t = ctx.scalar(attrs["threshold"], x)
    lower = ctx.node("Mul", [ctx.scalar(attrs["negative_slope"], x), ctx.node("Sub", [x, t])])
    return [ctx.node("Where", [ctx.node("Greater", [x, t]), upper, lower])]


@emits("LeakyReLU")
def leaky_relu(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    return [ctx.node("LeakyRelu", [_x(inputs)], alpha=float(attrs["negative_slope"]))]


@emits("ELU")
def elu(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    return [ctx.node("Elu", [_x(inputs)], alpha=float(attrs["alpha"]))]


@emits("PReLU")
def prelu(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    return [ctx.node("PRelu", [x, ctx.const(ctx.weight("alpha", ctx.np_dtype(x)), hint="alpha")])]


@emits("Softmax")
def softmax(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x)
    axes = sorted(a % rank for a in ([attrs["axis"]] if isinstance(attrs["axis"], int) else attrs["axis"]))
    mask = inputs[1] if len(inputs) > 1 else None
    if mask is None and len(axes) == 1:
        return [ctx.node("Softmax", [x], axis=axes[0])]
    if mask is None:
        shifted = ctx.node("Sub", [x, reduce(ctx, "ReduceMax", x, axes, True)])
        e = ctx.node("Exp", [shifted])
        return [ctx.node("Div", [e, reduce(ctx, "ReduceSum", e, axes, True)])]
    # Masked: excluded positions get 0 and do not count; a fully masked slice is all 0 (spec/layers/Softmax.md).
    keep = ctx.node("Expand", [mask, ctx.node("Shape", [x])])
    zero = ctx.scalar(0.0, x)
    peak = reduce(ctx, "ReduceMax", ctx.node("Where", [keep, x, ctx.scalar(-np.inf, x)]), axes, True)
    peak = ctx.node("Where", [ctx.node("IsInf", [peak]), zero, peak])
    e = ctx.node("Where", [keep, ctx.node("Exp", [ctx.node("Where", [keep, ctx.node("Sub", [x, peak]), zero])]), zero])
    total = reduce(ctx, "ReduceSum", e, axes, True)
    safe = ctx.node("Where", [ctx.node("Greater", [total, zero]), total, ctx.scalar(1.0, x)])
    return [ctx.node("Div", [e, safe])]


# --- merges -------------------------------------------------------------------------------------


def _chain(ctx: Ctx, op: str, xs: list[str]) -> str:
    y = xs[0]
    for other in xs[1:]:
        y = ctx.node(op, [y, other])
    return y


@emits("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def merge(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    xs = [t for t in inputs if t is not None]
    kind = ctx.layer.type if ctx.layer else ""
    if kind == "Subtract":
        return [ctx.node("Sub", xs)]
    if kind == "Add" and ctx.np_dtype(xs[0]).kind in "biu":
        return [_chain(ctx, "Add", xs)]  # ONNX Sum takes floating tensors only
    op = {"Add": "Sum", "Average": "Mean", "Maximum": "Max", "Minimum": "Min"}.get(kind)
    return [ctx.node(op, xs) if op else _chain(ctx, "Mul", xs)]


@emits("Concatenate")
def concatenate(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    xs = [t for t in inputs if t is not None]
    return [ctx.node("Concat", xs, axis=int(attrs["axis"]) % ctx.rank(xs[0]))]


# --- no-ops and reshaping -------------------------------------------------------------------------

_INFERENCE_IDENTITY = (
    "Identity", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Augmentation",
)  # fmt: skip


@emits(*_INFERENCE_IDENTITY)
def identity(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    return [ctx.node("Identity", [_x(inputs)])]


@emits("Flatten")
def flatten(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x)
    if attrs["data_format"] == "channels_first" and rank > 2:
        x = to_last(ctx, x, rank)  # KIF flattens in channels_last order
    return [ctx.node("Flatten", [x], axis=1)]


@emits("Reshape")
def reshape(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    return [ctx.node("Reshape", [_x(inputs), ctx.ints([0, *attrs["target_shape"]])])]  # 0 keeps the batch size


@emits("Permute")
def permute(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    return [ctx.node("Transpose", [_x(inputs)], perm=[0, *attrs["dims"]])]


@emits("RepeatVector")
def repeat_vector(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = ctx.node("Unsqueeze", [_x(inputs), ctx.ints([1])])
    return [ctx.node("Tile", [x, ctx.ints([1, attrs["n"], 1])])]


@emits("Rescaling")
def rescaling(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    dt = ctx.np_dtype(x)
    y = ctx.node("Mul", [x, ctx.const(np.asarray(attrs["scale"], dtype=dt))])
    return [ctx.node("Add", [y, ctx.const(np.asarray(attrs["offset"], dtype=dt))])]


def _pairs(value: list[Any]) -> list[list[int]]:
    """(before, after) per spatial axis; the 1D layers store a single pair."""
    return [list(value)] if isinstance(value[0], int) else [list(p) for p in value]


@emits("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    pairs = _pairs(attrs["padding"])
    rank = ctx.rank(x)
    first = attrs.get("data_format") == "channels_first"
    spatial = range(2, rank) if first else range(1, rank - 1)
    before, after = [0] * rank, [0] * rank
    for axis, (lo, hi) in zip(spatial, pairs, strict=True):
        before[axis], after[axis] = lo, hi
    return [ctx.node("Pad", [x, ctx.ints(before + after)], mode="constant")]


@emits("Cropping1D", "Cropping2D", "Cropping3D")
def cropping(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x)
    first = attrs.get("data_format") == "channels_first"
    spatial = list(range(2, rank) if first else range(1, rank - 1))
    pairs = _pairs(attrs["cropping"])
    starts = [lo for lo, _ in pairs]
    ends = [-hi if hi else np.iinfo(np.int64).max for _, hi in pairs]
    return [ctx.node("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(spatial)])]


@emits("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x)
    if attrs.get("interpolation", "nearest") != "nearest":
        from kif.onnx.ops.resize import resized_upsampling

        return [resized_upsampling(ctx, attrs, x)]
    size = [attrs["size"]] if isinstance(attrs["size"], int) else list(attrs["size"])
    first = attrs.get("data_format") == "channels_first"
    spatial = list(range(2, rank) if first else range(1, rank - 1))
    # Nearest upsampling by an integer factor is exact repetition: tile each element with Expand.
    y = x
    for axis, s in zip(spatial, size, strict=True):
        y = _repeat(ctx, y, rank, axis, s)
    return [y]


def _repeat(ctx: Ctx, x: str, rank: int, axis: int, times: int) -> str:
    """np.repeat(x, times, axis) via Unsqueeze → Tile → Reshape (shape taken at run time)."""
    shape = ctx.node("Shape", [x])
    u = ctx.node("Unsqueeze", [x, ctx.ints([axis + 1])])
    reps = [1] * (rank + 1)
    reps[axis + 1] = times
    t = ctx.node("Tile", [u, ctx.ints(reps)])
    scale = np.ones(rank, dtype=np.int64)
    scale[axis] = times
    return ctx.node("Reshape", [t, ctx.node("Mul", [shape, ctx.const(scale)])])


@emits("Embedding")
def embedding(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    ids = _x(inputs)
    table = ctx.weight("embeddings", ctx.out_dtype(0))
    y = ctx.node("Gather", [ctx.const(table, hint="embeddings"), ctx.node("Cast", [ids], to=ONNX_DTYPES["int64"])], axis=0)
    outs = [y]
    if attrs["mask_zero"]:
        outs.append(ctx.node("Not", [ctx.node("Equal", [ids, ctx.const(np.zeros((), dtype=ctx.np_dtype(ids)))])]))
    return outs


@emits("GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
       "GlobalAveragePooling3D", "GlobalMaxPooling3D")  # fmt: skip
def global_pool(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    rank = ctx.rank(x)
    first = attrs["data_format"] == "channels_first"
    axes = list(range(2, rank) if first else range(1, rank - 1))
    keep = bool(attrs["keepdims"])
    is_max = "Max" in (ctx.layer.type if ctx.layer else "")
    mask = inputs[1] if len(inputs) > 1 else None
    if mask is None:
        return [reduce(ctx, "ReduceMax" if is_max else "ReduceMean", x, axes, keep)]
    m = ctx.node("Unsqueeze", [mask, ctx.ints([1 if first else 2])])
    if is_max:
        return [reduce(ctx, "ReduceMax", ctx.node("Where", [m, x, ctx.scalar(-np.inf, x)]), axes, keep)]
    total = reduce(ctx, "ReduceSum", ctx.node("Where", [m, x, ctx.scalar(0.0, x)]), axes, keep)
    count = reduce(ctx, "ReduceSum", ctx.node("Cast", [m], to=ctx.onnx_dtype(x)), axes, keep)
    return [ctx.node("Div", [total, count])]  # an all-masked row is 0/0 = NaN, as the spec says
