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
    """ids: an int64 tensor of rank ``rank`` whose last dimension is ``last`` (None: unknown); a scalar counts as [1]."""
    if rank == 0:
        ids, rank, last = ctx.node("Reshape", [ids, ctx.ints([1])]), 1, 1
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
    if len(inputs) > 1 and inputs[1] is not None:  # count_weights: Where (not Mul) keeps a NaN weight in its own slot
        w = inputs[1] if ctx.type_of(inputs[1]).dtype == "float32" else ctx.node("Cast", [inputs[1]], to=ONNX_DTYPES["float32"])
        slots = ctx.const(np.arange(attrs["num_tokens"], dtype=np.int64), hint="range")
        hot = ctx.node("Equal", [ctx.node("Unsqueeze", [ids, ctx.ints([-1])]), slots])
        picked = ctx.node("Where", [hot, ctx.node("Unsqueeze", [w, ctx.ints([-1])]), ctx.const(np.zeros((), np.float32), hint="zero")])
        return [str(ctx.node("ReduceSum", [picked, ctx.ints([-2])], keepdims=0))]
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


@emits("IntegerLookup")
def integer_lookup(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    """Equal against the vocabulary, ArgMax for the position; OOV slots by Mod (floormod: ONNX integer Mod with
    fmod=0 takes the divisor's sign); invert as a Gather from the index table."""
    from kif.layers import integer_lookup as il

    x = inputs[0]
    assert x is not None
    a, shape = attrs, ctx.shape(x)
    n, mode, mask = int(a["num_oov_indices"]), a["output_mode"], a["mask_token"]
    if n > 1 and a["oov_method"] == "farmhash":
        raise ctx.refuse("oov_method='farmhash' hashes the token's decimal string; ONNX has no string hashing")
    if n == 0 and not a["invert"]:
        raise ctx.refuse("num_oov_indices=0 makes an unknown token an error, and ONNX cannot raise")
    xi = int64(ctx, x)
    start, oov0 = il.token_start(a), il.oov_start(a)
    if a["invert"]:
        table = np.asarray([a["oov_token"]] * start + list(a["vocabulary"]), np.int64)
        if oov0:
            table[0] = mask
        size = ctx.const(np.asarray(len(table), np.int64))
        zero = ctx.const(np.zeros((), np.int64))
        inside = ctx.node("And", [ctx.node("GreaterOrEqual", [xi, zero]), ctx.node("Less", [xi, size])])
        picked = ctx.node("Gather", [ctx.const(table, hint="lookup_table"), ctx.node("Where", [inside, xi, zero])], axis=0)
        return [ctx.node("Where", [inside, picked, ctx.const(np.asarray(a["oov_token"], np.int64))])]
    vocab = np.asarray(a["vocabulary"], np.int64)
    hit = ctx.node("Equal", [ctx.node("Unsqueeze", [xi, ctx.ints([-1])]), ctx.const(vocab, hint="vocabulary")])
    hit_i = ctx.node("Cast", [hit], to=ONNX_DTYPES["int64"])
    found = ctx.node("Cast", [ctx.node("ReduceMax", [hit_i, ctx.ints([-1])], keepdims=0)], to=ONNX_DTYPES["bool"])
    pos = ctx.node("Add", [ctx.node("ArgMax", [hit_i], axis=-1, keepdims=0), ctx.const(np.asarray(start, np.int64))])
    slot = ctx.node("Mod", [xi, ctx.const(np.asarray(n, np.int64))], fmod=0) if n > 1 else ctx.const(np.zeros((), np.int64))
    slot = ctx.node("Add", [slot, ctx.const(np.asarray(oov0, np.int64))])
    ids = ctx.node("Where", [found, pos, slot])
    if mask is not None:
        is_mask = ctx.node("Equal", [xi, ctx.const(np.asarray(mask, np.int64))])
        ids = ctx.node("Where", [is_mask, ctx.const(np.asarray(0 if mode == "int" else -1, np.int64)), ids])
    if mode == "int":
        return [ids]
    y = encode(ctx, ids, "count" if mode == "tf_idf" else mode, il.depth(a), len(shape), shape[-1] if shape else None)
    if mode == "tf_idf":
        return [ctx.node("Mul", [y, ctx.const(ctx.weight("idf_weights", np.dtype(np.float32)), hint="idf_weights")])]
    return [y if a["output_dtype"] == "float32" else ctx.node("Cast", [y], to=ONNX_DTYPES[a["output_dtype"]])]
