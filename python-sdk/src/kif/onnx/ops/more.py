"""Masking, Dot, EinsumDense, Group/Unit/Normalization, and the Luong/Bahdanau Attention layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers import _attention as at
from kif.layers.normalization import UNIT_NORM_EPSILON, _axes
from kif.layers.preprocessing import NORMALIZATION_EPSILON, _kept_axes
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation, reduce

_DOT_EPSILON = 1e-7  # Keras 3 backend.epsilon(), as kif.layers.merge_more


def _x(inputs: list[str | None]) -> str:
    assert inputs[0] is not None
    return inputs[0]


@emits("Masking")
def masking(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    # NaN never equals mask_value, so a NaN entry keeps its step, as in the reference kernel.
    differs = ctx.node("Not", [ctx.node("Equal", [x, ctx.scalar(attrs["mask_value"], x)])])
    keep = ctx.node(
        "Cast", [reduce(ctx, "ReduceMax", ctx.node("Cast", [differs], to=ONNX_DTYPES["int32"]), [-1], False)], to=ONNX_DTYPES["bool"]
    )
    y = ctx.node("Where", [ctx.node("Unsqueeze", [keep, ctx.ints([-1])]), x, ctx.scalar(0.0, x)])
    return [y, keep]


def _l2_normalize(ctx: Ctx, x: str, axis: int, eps: float) -> str:
    """x * min(1/||x||, 1/eps) along axis (Keras 3 ops.normalize)."""
    norm = ctx.node("Sqrt", [reduce(ctx, "ReduceSum", ctx.node("Mul", [x, x]), [axis], True)])
    return ctx.node("Div", [x, ctx.node("Max", [norm, ctx.scalar(eps, x)])])


@emits("Dot")
def dot(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x, y = inputs[0], inputs[1]
    assert x is not None and y is not None
    rx, ry = ctx.rank(x), ctx.rank(y)
    ax, ay = attrs["axes"][0] % rx, attrs["axes"][1] % ry
    if attrs["normalize"]:
        x, y = _l2_normalize(ctx, x, ax, _DOT_EPSILON), _l2_normalize(ctx, y, ay, _DOT_EPSILON)
    out_shape = ctx.out_types[0].shape
    k = ctx.shape(inputs[0] or "")[ax]
    if k is None or any(d is None for d in out_shape[1:]):
        raise ctx.refuse("needs static sizes on every non-batch axis")
    xm = ctx.node("Transpose", [x], perm=[a for a in range(rx) if a != ax] + [ax])  # [N, ...x, K]
    ym = ctx.node("Transpose", [y], perm=[0, ay] + [a for a in range(1, ry) if a != ay])  # [N, K, ...y]
    prod = ctx.node("MatMul", [ctx.node("Reshape", [xm, ctx.ints([0, -1, k])]), ctx.node("Reshape", [ym, ctx.ints([0, k, -1])])])
    return [ctx.node("Reshape", [prod, ctx.ints([0, *out_shape[1:]])])]


@emits("EinsumDense")
def einsum_dense(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    dt = ctx.np_dtype(x)
    y = ctx.node("Einsum", [x, ctx.const(ctx.weight("kernel", dt), hint="kernel")], equation=attrs["equation"])
    if attrs["bias_axes"] is not None:
        y = ctx.node("Add", [y, ctx.const(ctx.weight("bias", dt), hint="bias")])
    return [activation(ctx, attrs["activation"], x, y)]


@emits("GroupNormalization")
def group_norm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    # Written out rather than opset 21's GroupNormalization: KIF allows any channel axis, the op only axis 1.
    x = _x(inputs)
    rank, dt = ctx.rank(x), ctx.np_dtype(x)
    (axis,) = _axes(attrs["axis"], rank)
    channels = ctx.shape(x)[axis]
    if channels is None:
        raise ctx.refuse("needs a static channel count")
    groups = channels if attrs["groups"] == -1 else attrs["groups"]
    perm = [a for a in range(rank) if a != axis] + [axis]
    moved = ctx.node("Transpose", [x], perm=perm)
    g = ctx.node("Reshape", [moved, ctx.ints([0, -1, groups, channels // groups])])
    mean = reduce(ctx, "ReduceMean", g, [1, 3], True)
    centred = ctx.node("Sub", [g, mean])
    var = reduce(ctx, "ReduceMean", ctx.node("Mul", [centred, centred]), [1, 3], True)
    y = ctx.node("Div", [centred, ctx.node("Sqrt", [ctx.node("Add", [var, ctx.scalar(attrs["epsilon"], x)])])])
    y = ctx.node("Reshape", [y, ctx.node("Shape", [moved])])
    if attrs["scale"]:
        y = ctx.node("Mul", [y, ctx.const(ctx.weight("gamma", dt), hint="gamma")])
    if attrs["center"]:
        y = ctx.node("Add", [y, ctx.const(ctx.weight("beta", dt), hint="beta")])
    return [ctx.node("Transpose", [y], perm=list(np.argsort(perm)))]


@emits("UnitNormalization")
def unit_norm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    axes = _axes(attrs["axis"], ctx.rank(x))
    norm = ctx.node("Sqrt", [reduce(ctx, "ReduceSum", ctx.node("Mul", [x, x]), axes, True)])
    return [ctx.node("Div", [x, ctx.node("Max", [norm, ctx.scalar(UNIT_NORM_EPSILON, x)])])]


@emits("Normalization")
def normalization(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = _x(inputs)
    dt = ctx.out_dtype(0)
    rank, shape = ctx.rank(x), ctx.shape(x)
    kept = _kept_axes(attrs, rank)
    if any(shape[a] is None for a in kept):
        raise ctx.refuse("needs static sizes on the kept axes")
    bshape = [shape[a] if a in kept else 1 for a in range(rank)]
    mean = ctx.weight("mean", dt).reshape(bshape)
    std = np.maximum(np.sqrt(ctx.weight("variance", dt).reshape(bshape)), np.asarray(NORMALIZATION_EPSILON, dt))
    xf = x if ctx.np_dtype(x) == dt else ctx.node("Cast", [x], to=ONNX_DTYPES[ctx.out_types[0].dtype])
    m, s = ctx.const(mean, hint="mean"), ctx.const(std, hint="std")
    if attrs["invert"]:
        return [ctx.node("Add", [m, ctx.node("Mul", [xf, s])])]
    return [ctx.node("Div", [ctx.node("Sub", [xf, m]), s])]


# --- Attention (Luong) and AdditiveAttention (Bahdanau) ------------------------------------------------


def _swap_last(ctx: Ctx, t: str, rank: int) -> str:
    return ctx.node("Transpose", [t], perm=[*range(rank - 2), rank - 1, rank - 2])


def masked_softmax(ctx: Ctx, scores: str, mask: str | None, like: str) -> str:
    """Softmax on the last axis; masked keys get 0; a row with nothing to attend gets uniform weights."""
    if mask is not None:
        some = ctx.node("ReduceMax", [ctx.node("Cast", [mask], to=ONNX_DTYPES["int32"]), ctx.ints([-1])], keepdims=1)
        masked = ctx.node("Where", [mask, scores, ctx.scalar(-np.inf, like)])
        scores = ctx.node("Where", [ctx.node("Cast", [some], to=ONNX_DTYPES["bool"]), masked, ctx.scalar(0.0, like)])
    return ctx.node("Softmax", [scores], axis=-1)


@emits("Attention", "AdditiveAttention")
def luong(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    def get(slot: int) -> str | None:
        return inputs[slot] if len(inputs) > slot else None

    q, v = get(0), get(1)
    assert q is not None and v is not None
    k = get(2) or v
    rank, dt = ctx.rank(q), ctx.np_dtype(q)
    additive = ctx.layer is not None and ctx.layer.type == "AdditiveAttention"
    scale = ctx.const(ctx.weight("scale", dt), hint="scale") if attrs["use_scale"] else None
    if not additive and attrs["score_mode"] == "dot":
        scores = ctx.node("MatMul", [q, _swap_last(ctx, k, rank)])
        if scale is not None:
            scores = ctx.node("Mul", [scores, scale])
    else:
        pre = ctx.node("Add", [ctx.node("Unsqueeze", [q, ctx.ints([-2])]), ctx.node("Unsqueeze", [k, ctx.ints([-3])])])  # [..., Tq, Tv, d]
        if scale is not None and not additive:
            pre = ctx.node("Mul", [pre, scale])
        t = ctx.node("Tanh", [pre])
        if scale is not None and additive:
            t = ctx.node("Mul", [t, scale])
        scores = reduce(ctx, "ReduceSum", t, [-1], False)
        if not additive:
            scores = ctx.node("Mul", [scores, ctx.const(ctx.weight("concat_score_weight", dt), hint="concat_score_weight")])
    parts: list[str] = []
    v_mask = get(4)
    if v_mask is not None:
        parts.append(ctx.node("Unsqueeze", [v_mask, ctx.ints([-2])]))
    if attrs["use_causal_mask"]:
        tq, tv = ctx.shape(q)[-2], ctx.shape(v)[-2]
        if tq is None or tv is None:
            raise ctx.refuse("use_causal_mask needs static sequence lengths")
        band = at.band_mask(tq, tv, True, None)
        parts.append(ctx.const(band, hint="causal_mask"))
    mask = parts[0] if len(parts) == 1 else (ctx.node("And", parts) if parts else None)
    probs = masked_softmax(ctx, scores, mask, q)
    out = ctx.node("MatMul", [probs, v])
    q_mask = get(3)
    if q_mask is not None:  # masked query rows are zero
        out = ctx.node("Where", [ctx.node("Unsqueeze", [q_mask, ctx.ints([-1])]), out, ctx.scalar(0.0, q)])
    return [out, probs] if attrs["return_attention_scores"] else [out]
