"""Attention layers: Attention, AdditiveAttention, MultiHeadAttention, GroupQueryAttention.

Attention:           weights = softmax(q·kᵀ [* scale])  or  softmax(w · Σ tanh(s·(q + k)))  (score_mode concat)
AdditiveAttention:   weights = softmax(Σ_d scale[d] · tanh(q + k)[d])
MultiHeadAttention:  per head h, softmax((q W_q^h + b)(k W_k^h + b)ᵀ / √key_dim) (v W_v^h + b), then Σ_h · W_o + b_o
GroupQueryAttention: the same with key/value head ⌊h·kv_heads/query_heads⌋ serving query head h.
With use_gate, each head's output is multiplied by sigmoid(q W_g^h + b_g) before the output projection.

Masks are explicit bool inputs (True = attend), all combined by AND; a query row with nothing left to attend
gets uniform weights. Exact rules: spec/layers/{Attention,AdditiveAttention,MultiHeadAttention,GroupQueryAttention}.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from kif.layers import _attention as at
from kif.layers.registry import ShapeError, TensorType, register_layer

# Input slots. Attention, AdditiveAttention: [query, value, key?, query_mask?, value_mask?].
# MultiHeadAttention, GroupQueryAttention: [query, value, key?, query_mask?, value_mask?, key_mask?, attention_mask?].
QUERY, VALUE, KEY, QUERY_MASK, VALUE_MASK, KEY_MASK, ATTENTION_MASK = range(7)


def _required(inputs: list[TensorType | None], slot: int, what: str) -> TensorType:
    t = at.arg(inputs, slot)
    if t is None:
        raise ShapeError(f"expected a {what} input (input {slot}). Received: none")
    return t


# --- Attention and AdditiveAttention --------------------------------------------------------------


def _luong_infer(
    attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]], additive: bool
) -> list[TensorType]:
    if len(inputs) > 5:
        raise ShapeError(f"expected at most 5 inputs [query, value, key, query_mask, value_mask]. Received: {len(inputs)}")
    q, v = _required(inputs, QUERY, "query"), _required(inputs, VALUE, "value")
    k = at.arg(inputs, KEY) or v
    for t, what in ((q, "query"), (v, "value"), (k, "key")):
        at.check_float(t, what, q)
        if len(t.shape) < 3 or len(t.shape) != len(q.shape):
            raise ShapeError(f"expected query, value and key of the same rank >= 3. Received: {what} shape {list(t.shape)}")
    lead = q.shape[:-2]
    for t in (v, k):
        for a, b in zip(lead, t.shape[:-2], strict=True):
            at.same_dim(a, b, f"expected query, value and key to share their leading axes. Received: {list(q.shape)}, {list(t.shape)}")
    at.same_dim(
        k.shape[-2], v.shape[-2], f"expected key and value of the same length. Received: key {list(k.shape)}, value {list(v.shape)}"
    )
    at.same_dim(
        q.shape[-1], k.shape[-1], f"expected query and key of the same last axis. Received: query {list(q.shape)}, key {list(k.shape)}"
    )
    tq, tv = q.shape[-2], v.shape[-2]
    at.check_mask(at.arg(inputs, QUERY_MASK), (*lead, tq), "query_mask")
    at.check_mask(at.arg(inputs, VALUE_MASK), (*lead, tv), "value_mask")
    if additive:
        at.check_weight(weights, "scale", (q.shape[-1],))
    else:
        at.check_weight(weights, "scale", ())
        at.check_weight(weights, "concat_score_weight", ())
    outs = [TensorType(q.dtype, (*lead, tq, v.shape[-1]))]
    if attrs["return_attention_scores"]:
        outs.append(TensorType(q.dtype, (*lead, tq, tv)))
    return outs


def _luong_run(
    attrs: dict[str, Any], inputs: list[np.ndarray | None], scores_of: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> list[np.ndarray]:
    q, v = inputs[QUERY], inputs[VALUE]
    assert q is not None and v is not None
    k = inputs[KEY] if len(inputs) > KEY and inputs[KEY] is not None else v
    dtype = q.dtype
    ct = at.compute_dtype(dtype)
    q, k, v = q.astype(ct, copy=False), k.astype(ct, copy=False), v.astype(ct, copy=False)
    scores = scores_of(q, k)
    q_mask = inputs[QUERY_MASK] if len(inputs) > QUERY_MASK else None
    v_mask = inputs[VALUE_MASK] if len(inputs) > VALUE_MASK else None
    mask = at.conjoin(
        None if v_mask is None else v_mask[..., None, :],
        at.band_mask(q.shape[-2], v.shape[-2], attrs["use_causal_mask"], None),
    )
    weights = at.masked_softmax(scores, mask)
    out = np.matmul(weights, v)
    if q_mask is not None:
        out = np.where(q_mask[..., None], out, 0)  # masked query rows are zero
    result = [out.astype(dtype, copy=False)]
    if attrs["return_attention_scores"]:
        result.append(weights.astype(dtype, copy=False))
    return result


@register_layer("Attention")
class Attention:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _luong_infer(attrs, inputs, weights, additive=False)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[QUERY] is not None
        w = at.cast_weights(weights, inputs[QUERY].dtype)

        def scores_of(q: np.ndarray, k: np.ndarray) -> np.ndarray:
            scale = w["scale"] if attrs["use_scale"] else None
            if attrs["score_mode"] == "dot":
                s = np.matmul(q, np.swapaxes(k, -1, -2))
                return s if scale is None else s * scale
            pre = q[..., :, None, :] + k[..., None, :, :]  # [..., Tq, Tv, dim]
            if scale is not None:
                pre = scale * pre
            return w["concat_score_weight"] * np.sum(np.tanh(pre), axis=-1)

        return _luong_run(attrs, inputs, scores_of)


@register_layer("AdditiveAttention")
class AdditiveAttention:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _luong_infer(attrs, inputs, weights, additive=True)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[QUERY] is not None
        w = at.cast_weights(weights, inputs[QUERY].dtype)

        def scores_of(q: np.ndarray, k: np.ndarray) -> np.ndarray:
            t = np.tanh(q[..., :, None, :] + k[..., None, :, :])  # [..., Tq, Tv, dim]
            if attrs["use_scale"]:
                t = w["scale"] * t
            return np.sum(t, axis=-1)

        return _luong_run(attrs, inputs, scores_of)


# --- MultiHeadAttention and GroupQueryAttention ----------------------------------------------------


def _attention_axes(attrs: dict[str, Any], rank: int) -> list[int]:
    """Attention axes as non-negative axes of the query input (default: every axis but batch and features)."""
    given = attrs.get("attention_axes")
    if given is None:
        return list(range(1, rank - 1))
    axes = [a % rank if -rank <= a < rank else -1 for a in given]
    if any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
        raise ShapeError(f"expected distinct attention_axes among the axes 1..{rank - 2} of the query. Received: attention_axes={given}")
    return axes


def _mha_infer(
    attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]], grouped: bool
) -> list[TensorType]:
    if len(inputs) > 7:
        raise ShapeError(
            f"expected at most 7 inputs [query, value, key, query_mask, value_mask, key_mask, attention_mask]. Received: {len(inputs)}"
        )
    q, v = _required(inputs, QUERY, "query"), _required(inputs, VALUE, "value")
    k = at.arg(inputs, KEY) or v
    r = len(q.shape)
    for t, what in ((q, "query"), (v, "value"), (k, "key")):
        at.check_float(t, what, q)
        if len(t.shape) != r or r < 3 or (grouped and r != 3):
            expected = "3" if grouped else "the query's, >= 3"
            raise ShapeError(f"expected a {what} of rank {expected}. Received: shapes query {list(q.shape)}, {what} {list(t.shape)}")
    for a, b in zip(v.shape[:-1], k.shape[:-1], strict=True):
        at.same_dim(
            a, b, f"expected value and key to agree on every axis but the last. Received: value {list(v.shape)}, key {list(k.shape)}"
        )
    axes = [1] if grouped else _attention_axes(attrs, r)
    others = [a for a in range(1, r - 1) if a not in axes]
    for a in (0, *others):
        at.same_dim(
            q.shape[a],
            v.shape[a],
            f"expected query and value to agree on axis {a} (not an attention axis). Received: {list(q.shape)}, {list(v.shape)}",
        )
    if (attrs["use_causal_mask"] or attrs["sliding_window"] is not None) and len(axes) != 1:
        raise ShapeError(f"expected a single attention axis with use_causal_mask or sliding_window. Received: attention axes {axes}")
    if grouped:
        heads, kv_heads, kd = attrs["num_query_heads"], attrs["num_key_value_heads"], attrs["head_dim"]
        if heads % kv_heads:
            raise ShapeError(f"expected num_query_heads divisible by num_key_value_heads. Received: {heads} and {kv_heads}")
        vd, out_dim = kd, q.shape[-1]
    else:
        heads = kv_heads = attrs["num_heads"]
        kd = attrs["key_dim"]
        vd = attrs["value_dim"] or kd
        out_dim = attrs["output_shape"] or q.shape[-1] or (weights["output_kernel"][-1] if "output_kernel" in weights else None)
    for role, shape in (
        ("query_kernel", (q.shape[-1], heads, kd)),
        ("query_bias", (heads, kd)),
        ("key_kernel", (k.shape[-1], kv_heads, kd)),
        ("key_bias", (kv_heads, kd)),
        ("value_kernel", (v.shape[-1], kv_heads, vd)),
        ("value_bias", (kv_heads, vd)),
        ("output_kernel", (heads, vd, out_dim)),
        ("output_bias", (out_dim,)),
        ("gate_kernel", (q.shape[-1], heads, vd)),
        ("gate_bias", (heads, vd)),
    ):
        at.check_weight(weights, role, shape)
    q_att = [q.shape[a] for a in axes]
    s_att = [v.shape[a] for a in axes]
    batch = [q.shape[a] for a in (0, *others)]
    at.check_mask(at.arg(inputs, QUERY_MASK), q.shape[:-1], "query_mask")
    at.check_mask(at.arg(inputs, VALUE_MASK), v.shape[:-1], "value_mask")
    at.check_mask(at.arg(inputs, KEY_MASK), k.shape[:-1], "key_mask")
    mask = at.arg(inputs, ATTENTION_MASK)
    full = [*batch, *q_att, *s_att]
    if mask is not None:
        at.check_mask(mask, [None] * len(full), "attention_mask")
        if any(m not in (None, 1) and f is not None and m != f for m, f in zip(mask.shape, full, strict=True)):
            raise ShapeError(
                f"expected attention_mask broadcastable to {full} (batch, query, key axes). Received: shape {list(mask.shape)}"
            )
    outs = [TensorType(q.dtype, (*q.shape[:-1], out_dim))]
    if attrs["return_attention_scores"]:
        outs.append(TensorType(q.dtype, (*batch, heads, *q_att, *s_att)))
    return outs


def _mha_run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray], grouped: bool) -> list[np.ndarray]:
    def get(slot: int) -> np.ndarray | None:
        return inputs[slot] if len(inputs) > slot else None

    q_in, v_in = inputs[QUERY], inputs[VALUE]
    assert q_in is not None and v_in is not None
    k_in = get(KEY)
    k_in = v_in if k_in is None else k_in
    ct = at.compute_dtype(q_in.dtype)
    weights = at.cast_weights(weights, q_in.dtype)
    bias = attrs["use_bias"]
    roles = ("query", "key", "value")
    if q_in is k_in and k_in is v_in:  # self-attention: the three projections as one matmul
        q, k, v = at.project_self(
            q_in.astype(ct, copy=False), [weights[f"{r}_kernel"] for r in roles], [weights[f"{r}_bias"] if bias else None for r in roles]
        )
    else:
        q, k, v = (at.project(x.astype(ct, copy=False), weights[f"{r}_kernel"], weights[f"{r}_bias"] if bias else None)
                   for x, r in zip((q_in, k_in, v_in), roles, strict=True))  # fmt: skip
    r = q_in.ndim
    axes = [1] if grouped else _attention_axes(attrs, r)
    others = [a for a in range(1, r - 1) if a not in axes]
    # Move to [batch & other axes, heads, attention axes, depth] and flatten to [Bf, H, T, D].
    perm = [0, *others, r - 1, *axes, r]
    qt, kt, vt = (x.transpose(perm) for x in (q, k, v))
    nb = len(others) + 1
    batch, q_att, s_att = qt.shape[:nb], qt.shape[nb + 1 : -1], kt.shape[nb + 1 : -1]
    bf, tq, ts = math.prod(batch), math.prod(q_att), math.prod(s_att)
    depth = attrs["head_dim"] if grouped else attrs["key_dim"]
    # The query scaled before the product (Keras's order), written straight in the [.., H, T, D] layout: one pass.
    scale = np.asarray(at.query_scale(depth), dtype=qt.dtype)
    qf = np.multiply(qt, scale, out=np.empty(qt.shape, qt.dtype)).reshape(bf, qt.shape[nb], tq, -1)
    kf = kt.reshape(bf, kt.shape[nb], ts, -1)
    vf = vt.reshape(bf, vt.shape[nb], ts, -1)
    if grouped:
        repeats = attrs["num_query_heads"] // attrs["num_key_value_heads"]
        kf, vf = np.repeat(kf, repeats, axis=1), np.repeat(vf, repeats, axis=1)

    def flat_positions(m: np.ndarray | None, length: int) -> np.ndarray | None:
        return None if m is None else m.transpose([0, *others, *axes]).reshape(bf, length)

    qm, vm, km = flat_positions(get(QUERY_MASK), tq), flat_positions(get(VALUE_MASK), ts), flat_positions(get(KEY_MASK), ts)
    am = get(ATTENTION_MASK)
    mask = at.conjoin(
        None if am is None else np.broadcast_to(am, (*batch, *q_att, *s_att)).reshape(bf, 1, tq, ts),
        None if qm is None else qm[:, None, :, None],
        None if vm is None else vm[:, None, None, :],
        None if km is None else km[:, None, None, :],
        at.band_mask(tq, ts, attrs["use_causal_mask"], attrs["sliding_window"]),
    )
    out, probs = at.sdpa(qf, kf, vf, None, mask)
    heads = out.shape[1]
    out = out.reshape(*batch, heads, *q_att, -1).transpose(np.argsort(perm))  # back to [B, ..., H, Dv]
    if attrs["use_gate"]:
        gate = at.project(q_in.astype(ct, copy=False), weights["gate_kernel"], weights["gate_bias"] if bias else None)
        out = out * (0.5 * (np.tanh(0.5 * gate) + 1.0))  # sigmoid, overflow-free
    h, dv, o = weights["output_kernel"].shape
    y = np.matmul(out.reshape(*out.shape[:-2], h * dv), weights["output_kernel"].reshape(h * dv, o))  # "...hd,hdo->...o" via BLAS
    if bias:
        y += weights["output_bias"]  # in place: y is matmul's own array
    result = [y.astype(q_in.dtype, copy=False)]
    if attrs["return_attention_scores"]:
        result.append(probs.reshape(*batch, heads, *q_att, *s_att).astype(q_in.dtype, copy=False))
    return result


@register_layer("MultiHeadAttention")
class MultiHeadAttention:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _mha_infer(attrs, inputs, weights, grouped=False)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _mha_run(attrs, inputs, weights, grouped=False)


@register_layer("GroupQueryAttention")
class GroupQueryAttention:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _mha_infer(attrs, inputs, weights, grouped=True)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _mha_run(attrs, inputs, weights, grouped=True)
