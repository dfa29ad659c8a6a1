"""CategoryEncoding, Discretization and IntegerLookup as integer ONNX ops: ids compared (Equal) with a constant
Range(depth), then one_hot as the comparison, multi_hot as its ReduceMax, count as its ReduceSum over the ids' axis.
ONNX cannot raise, so an id outside [0, depth) gives a zero vector where the reference runtime refuses it
(kif.onnx.support.LIMITATIONS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits


def encode(ctx: Ctx, ids: str, mode: str, depth: int, rank: int, last: int | None) -> str:
    """ids: an int64 tensor of rank ``rank`` whose last dimension is ``last`` (None: unknown)."""
    if mode == "one_hot" and rank >= 2 and last == 1:
        ids = ctx.node("Squeeze", [ids, ctx.ints([-1])])
    hot = ctx.node("Equal", [ctx.node("Unsqueeze", [ids, ctx.ints([-1])]), ctx.const(np.arange(depth, dtype=np.int64), hint="range")])
    hot = ctx.node("Cast", [hot], to=ONNX_DTYPES["float32"])
    if mode == "one_hot":
        return str(hot)
    return str(ctx.node("ReduceMax" if mode == "multi_hot" else "ReduceSum", [hot, ctx.ints([-2])], keepdims=0))


def int64(ctx: Ctx, x: str) -> str:
    return x if ctx.type_of(x).dtype == "int64" else str(ctx.node("Cast", [x], to=ONNX_DTYPES["int64"]))


@emits("CategoryEncoding")
def category_encoding(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    shape = ctx.shape(x)
    ids = int64(ctx, x)  # Cast truncates floats toward zero, as TensorFlow's cast
    return [encode(ctx, ids, attrs["output_mode"], attrs["num_tokens"], len(shape), shape[-1] if shape else None)]


@emits("Discretization")
def discretization(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    from kif.layers.discretization import boundaries

    x = inputs[0]
    assert x is not None
    b, shape = boundaries(attrs), ctx.shape(x)
    xf = x if ctx.type_of(x).dtype == "float32" else ctx.node("Cast", [x], to=ONNX_DTYPES["float32"])
    # id = #{k : not (x < b[k])}: NaN is less than no boundary, so it lands in the last bucket as in Bucketize
    below = ctx.node("Less", [ctx.node("Unsqueeze", [xf, ctx.ints([-1])]), ctx.const(b, hint="bin_boundaries")])
    ids = ctx.node("ReduceSum", [ctx.node("Cast", [ctx.node("Not", [below])], to=ONNX_DTYPES["int64"]), ctx.ints([-1])], keepdims=0)
    if attrs["output_mode"] == "int":
        return [ids if attrs["output_dtype"] == "int64" else ctx.node("Cast", [ids], to=ONNX_DTYPES["int32"])]
    return [encode(ctx, ids, attrs["output_mode"], b.size + 1, len(shape), shape[-1] if shape else None)]
