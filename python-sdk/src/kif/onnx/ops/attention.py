"""MultiHeadAttention and GroupQueryAttention as MatMul/Softmax subgraphs.

Rank-3 inputs [N, T, F] keep every length dynamic; with more axes the attention axes (and the other
non-batch axes) are flattened as in the reference kernel, which needs their sizes static. Masks (query,
value, key, attention, causal band, sliding window) are ANDed into one bool tensor [N|1, 1, Tq, S].
Masked scores become -inf; a query row with nothing left to attend gets all-zero
scores, so Softmax gives uniform weights 1/S: the fully-masked-row rule of spec/layers/MultiHeadAttention.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kif.layers._attention import band_mask
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits

QUERY, VALUE, KEY, QUERY_MASK, VALUE_MASK, KEY_MASK, ATTENTION_MASK = range(7)


def _project(ctx: Ctx, x: str, role: str, bias: bool, dt: np.dtype) -> tuple[str, int, int]:
    """EinsumDense "...f,fhd->...hd" (+ bias [h, d]) as one MatMul; returns ([*x.shape[:-1], H, D], H, D)."""
    kernel = ctx.weight(f"{role}_kernel", dt)
    f, h, d = kernel.shape
    y = ctx.node("MatMul", [x, ctx.const(kernel.reshape(f, h * d), hint=f"{role}_kernel")])
    if bias:
        y = ctx.node("Add", [y, ctx.const(ctx.weight(f"{role}_bias", dt).reshape(h * d), hint=f"{role}_bias")])
    lead = ctx.node("Shape", [x], start=0, end=ctx.rank(x) - 1)
    return ctx.node("Reshape", [y, ctx.node("Concat", [lead, ctx.ints([h, d])], axis=0)]), h, d


def _static(ctx: Ctx, dims: list[int | None], what: str) -> list[int]:
    if any(d is None for d in dims):
        raise ctx.refuse(f"attention over several axes needs static sizes on the {what} axes; declare them in the graph inputs")
    return [int(d) for d in dims if d is not None]


@emits("MultiHeadAttention", "GroupQueryAttention")
def attention(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    def get(slot: int) -> str | None:
        return inputs[slot] if len(inputs) > slot else None

    q_in, v_in = get(QUERY), get(VALUE)
    assert q_in is not None and v_in is not None
    k_in = get(KEY) or v_in
    grouped = ctx.layer is not None and ctx.layer.type == "GroupQueryAttention"
    r = ctx.rank(q_in)
    axes = [1] if grouped else _attention_axes(attrs, r)
    others = [a for a in range(1, r - 1) if a not in axes]
    simple = r == 3  # [B, T, F]: every length may stay dynamic
    q_shape, v_shape = ctx.shape(q_in), ctx.shape(v_in)
    if simple:
        other_dims, q_att, s_att = [], [q_shape[1]], [v_shape[1]]
    else:
        other_dims = _static(ctx, [q_shape[a] for a in others], "non-attention")
        q_att, s_att = _static(ctx, [q_shape[a] for a in axes], "query"), _static(ctx, [v_shape[a] for a in axes], "key/value")
    tq = q_att[0] if simple else int(np.prod(q_att))
    ts = s_att[0] if simple else int(np.prod(s_att))
    dt, bias = ctx.np_dtype(q_in), attrs["use_bias"]
    # Projections [B, *dims, H, D] → [B, *others, H, *axes, D] → [Bf, H, T, D].
    perm = [0, *others, r - 1, *axes, r]

    def flat(t: str, role: str, length: int | None) -> str:
        projected, h, d = _project(ctx, t, role, bias, dt)
        moved = ctx.node("Transpose", [projected], perm=perm)
        return moved if simple else ctx.node("Reshape", [moved, ctx.ints([-1, h, length or 0, d])])

    q, k, v = flat(q_in, "query", tq), flat(k_in, "key", ts), flat(v_in, "value", ts)
    if grouped:
        repeats = attrs["num_query_heads"] // attrs["num_key_value_heads"]
        k, v = _repeat_heads(ctx, k, repeats), _repeat_heads(ctx, v, repeats)
    depth = attrs["head_dim"] if grouped else attrs["key_dim"]
    q = ctx.node("Mul", [q, ctx.scalar(1.0 / math.sqrt(depth), dt)])  # Keras scales the query before the product
    scores = ctx.node("MatMul", [q, ctx.node("Transpose", [k], perm=[0, 1, 3, 2])])  # [Bf, H, Tq, S]
    mask = _mask(ctx, attrs, get, q_in, others, axes, tq, ts, [] if simple else [*other_dims, *q_att, *s_att])
    if mask is not None:
        some = ctx.node(
            "ReduceMax", [ctx.node("Cast", [mask], to=ONNX_DTYPES["int32"]), ctx.ints([-1])], keepdims=1
        )  # int32: any key left?
        masked = ctx.node("Where", [mask, scores, ctx.scalar(-np.inf, dt)])
        scores = ctx.node("Where", [ctx.node("Cast", [some], to=ONNX_DTYPES["bool"]), masked, ctx.scalar(0.0, dt)])
    probs = ctx.node("Softmax", [scores], axis=-1)
    out = ctx.node("MatMul", [probs, v])  # [Bf, H, Tq, Dv]
    kernel = ctx.weight("output_kernel", dt)
    heads, dv, o = kernel.shape
    if not simple:  # unflatten to [B, *others, H, *q_att, Dv]
        out = ctx.node("Reshape", [out, ctx.ints([-1, *other_dims, heads, *q_att, dv])])
    out = ctx.node("Transpose", [out], perm=[int(i) for i in np.argsort(perm)])  # [B, *dims, H, Dv]
    if attrs["use_gate"]:
        out = ctx.node("Mul", [out, ctx.node("Sigmoid", [_project(ctx, q_in, "gate", bias, dt)[0]])])
    lead = ctx.node("Shape", [q_in], start=0, end=r - 1)
    merged = ctx.node("Reshape", [out, ctx.node("Concat", [lead, ctx.ints([heads * dv])], axis=0)])
    y = ctx.node("MatMul", [merged, ctx.const(kernel.reshape(heads * dv, o), hint="output_kernel")])
    if bias:
        y = ctx.node("Add", [y, ctx.const(ctx.weight("output_bias", dt), hint="output_bias")])
    if not attrs["return_attention_scores"]:
        return [y]
    return [y, probs if simple else ctx.node("Reshape", [probs, ctx.ints([-1, *other_dims, heads, *q_att, *s_att])])]


def _attention_axes(attrs: dict[str, Any], rank: int) -> list[int]:
    given = attrs.get("attention_axes")
    return list(range(1, rank - 1)) if given is None else sorted(a % rank for a in given)


def _repeat_heads(ctx: Ctx, x: str, times: int) -> str:
    """[N, Hkv, S, D] → [N, Hkv*times, S, D], each head repeated in place (np.repeat on axis 1)."""
    if times == 1:
        return x
    u = ctx.node("Tile", [ctx.node("Unsqueeze", [x, ctx.ints([2])]), ctx.ints([1, 1, times, 1, 1])])
    shape = ctx.node("Concat", [ctx.node("Shape", [x], start=0, end=1), ctx.ints([-1]), ctx.node("Shape", [x], start=2, end=4)], axis=0)
    return ctx.node("Reshape", [u, shape])


def _mask(
    ctx: Ctx,
    attrs: dict[str, Any],
    get: Any,
    q_in: str,
    others: list[int],
    axes: list[int],
    tq: int | None,
    ts: int | None,
    tail: list[int],
) -> str | None:
    """Every mask ANDed into one bool tensor broadcastable to [Bf, H, Tq, S] (positions flattened like the projections)."""
    r = ctx.rank(q_in)
    simple = r == 3

    def positions(m: str, length: int | None) -> str:  # [B, *dims] → [Bf, T]
        return m if simple else ctx.node("Reshape", [ctx.node("Transpose", [m], perm=[0, *others, *axes]), ctx.ints([-1, length or 0])])

    parts: list[str] = []
    for slot, length, unsqueeze in ((QUERY_MASK, tq, [1, 3]), (VALUE_MASK, ts, [1, 2]), (KEY_MASK, ts, [1, 2])):
        m = get(slot)
        if m is not None:
            parts.append(ctx.node("Unsqueeze", [positions(m, length), ctx.ints(unsqueeze)]))
    am = get(ATTENTION_MASK)
    if am is not None:
        if not simple:  # broadcast to (*batch, *q_att, *s_att), then flatten to [Bf, 1, Tq, S]
            target = ctx.node("Concat", [ctx.node("Shape", [q_in], start=0, end=1), ctx.ints(tail)], axis=0)
            am = ctx.node("Reshape", [ctx.node("Expand", [am, target]), ctx.ints([-1, tq or 0, ts or 0])])
        parts.append(ctx.node("Unsqueeze", [am, ctx.ints([1])]))
    causal, window = attrs["use_causal_mask"], attrs["sliding_window"]
    if causal or window is not None:
        if tq is None or ts is None:
            raise ctx.refuse("use_causal_mask/sliding_window need static sequence lengths; declare them in the graph inputs")
        band = band_mask(tq, ts, causal, window)
        assert band is not None
        parts.append(ctx.const(band[None, None], hint="band_mask"))
    if not parts:
        return None
    mask = parts[0]
    for other in parts[1:]:
        mask = ctx.node("And", [mask, other])
    return mask
