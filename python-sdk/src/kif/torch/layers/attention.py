"""Converters for Attention, AdditiveAttention, MultiHeadAttention and GroupQueryAttention, as functional torch code.

nn.MultiheadAttention cannot express Keras's layouts (per-head kernels [features, heads, dim],
value_dim != key_dim, output_shape, several attention axes, gating) nor KIF's masking rule,
so the equivalent computation is written out: masked key positions get weight exactly 0 and
a query row with every key masked gets uniform weights 1/S (spec/layers/MultiHeadAttention.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, Outputs, like, tensor

W = dict[str, np.ndarray]


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis; ``mask`` (bool, broadcastable) is True where attention is allowed."""
    if mask is not None:
        mask = mask.expand(scores.shape)
        some = mask.any(dim=-1, keepdim=True)
        scores = torch.where(some, torch.where(mask, scores, float("-inf")), torch.zeros((), dtype=scores.dtype))
    return torch.softmax(scores, dim=-1)


def band_mask(tq: int, tv: int, causal: bool, window: int | None) -> Tensor | None:
    """[Tq, Tv] bool: causal keeps j <= i; a window keeps |i - j| < window."""
    if not causal and window is None:
        return None
    i = torch.arange(tq)[:, None]
    j = torch.arange(tv)[None, :]
    mask = torch.ones(tq, tv, dtype=torch.bool)
    if causal:
        mask = mask & (j <= i)
    if window is not None:
        mask = mask & ((i - j).abs() < window)
    return mask


def conjoin(*masks: Tensor | None) -> Tensor | None:
    out: Tensor | None = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def _get(inputs: tuple[Tensor | None, ...], slot: int) -> Tensor | None:
    return inputs[slot] if len(inputs) > slot else None


def _luong(layer: Layer, w: W, additive: bool) -> nn.Module:
    a = layer.attributes

    def scores_of(m: Fn, q: Tensor, k: Tensor) -> Tensor:
        if additive:
            t = torch.tanh(q[..., :, None, :] + k[..., None, :, :])
            return torch.sum(like(m.scale, q) * t if a["use_scale"] else t, dim=-1)
        if a["score_mode"] == "dot":
            s = torch.matmul(q, k.transpose(-1, -2))
            return s * like(m.scale, q) if a["use_scale"] else s
        pre = q[..., :, None, :] + k[..., None, :, :]
        if a["use_scale"]:
            pre = like(m.scale, q) * pre
        return like(m.concat_score_weight, q) * torch.sum(torch.tanh(pre), dim=-1)

    def attend(m: Fn, *inputs: Tensor | None) -> Outputs:
        q, v = inputs[0], inputs[1]
        assert q is not None and v is not None
        k = _get(inputs, 2)
        k = v if k is None else k
        q_mask, v_mask = _get(inputs, 3), _get(inputs, 4)
        mask = conjoin(
            None if v_mask is None else v_mask.bool()[..., None, :],
            band_mask(int(q.shape[-2]), int(v.shape[-2]), a["use_causal_mask"], None),
        )
        weights = masked_softmax(scores_of(m, q, k), mask)
        out = torch.matmul(weights, v)
        if q_mask is not None:
            out = torch.where(q_mask.bool()[..., None], out, torch.zeros((), dtype=out.dtype))
        return [out, weights] if a["return_attention_scores"] else [out]

    scale = w.get("scale") if a["use_scale"] else None
    concat = w.get("concat_score_weight") if not additive and a["score_mode"] == "concat" else None
    return Fn(attend, scale=scale, concat_score_weight=concat)


converter("Attention")(lambda layer, w: _luong(layer, w, additive=False))
converter("AdditiveAttention")(lambda layer, w: _luong(layer, w, additive=True))


def _project(x: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
    y = torch.einsum("...f,fhd->...hd", x, like(kernel, x))
    return y if bias is None else y + like(bias, x)


class _MultiHead(nn.Module):
    """Inputs [query, value, key?, query_mask?, value_mask?, key_mask?, attention_mask?]."""

    def __init__(self, attrs: dict[str, Any], w: W, grouped: bool) -> None:
        super().__init__()
        self.attrs, self.grouped = dict(attrs), grouped
        roles = ["query", "key", "value", "output"] + (["gate"] if attrs["use_gate"] else [])
        for role in roles:
            self.register_buffer(f"{role}_kernel", tensor(w[f"{role}_kernel"]))
            bias = w.get(f"{role}_bias") if attrs["use_bias"] else None
            self.register_buffer(f"{role}_bias", None if bias is None else tensor(bias))
        self.fast = _fast_plan(self, attrs, grouped)

    def forward(self, *inputs: Tensor | None) -> Outputs:
        a = self.attrs
        if self.fast is not None and _plain_call(inputs, self.query_kernel.dtype):
            return [self.fast(inputs[0], inputs[1], _get(inputs, 2))]
        q_in, v_in = inputs[0], inputs[1]
        assert q_in is not None and v_in is not None
        k_in = _get(inputs, 2)
        k_in = v_in if k_in is None else k_in
        q = _project(q_in, self.query_kernel, self.query_bias)
        k = _project(k_in, self.key_kernel, self.key_bias)
        v = _project(v_in, self.value_kernel, self.value_bias)
        r = q_in.dim()
        given = None if self.grouped else a.get("attention_axes")
        att = [1] if self.grouped else (list(range(1, r - 1)) if given is None else sorted(x % r for x in given))
        others = [x for x in range(1, r - 1) if x not in att]
        # [batch & other axes, heads, attention axes, depth], flattened to [Bf, H, T, D]
        perm = [0, *others, r - 1, *att, r]
        qt, kt, vt = (t.permute(perm) for t in (q, k, v))
        nb = len(others) + 1
        batch, q_att, s_att = list(qt.shape[:nb]), list(qt.shape[nb + 1 : -1]), list(kt.shape[nb + 1 : -1])
        bf, tq, ts = math.prod(batch), math.prod(q_att), math.prod(s_att)
        qf = qt.reshape(bf, qt.shape[nb], tq, -1)
        kf = kt.reshape(bf, kt.shape[nb], ts, -1)
        vf = vt.reshape(bf, vt.shape[nb], ts, -1)
        if self.grouped:
            repeats = a["num_query_heads"] // a["num_key_value_heads"]
            kf, vf = kf.repeat_interleave(repeats, dim=1), vf.repeat_interleave(repeats, dim=1)
        depth = a["head_dim"] if self.grouped else a["key_dim"]

        def flat(m: Tensor | None, length: int) -> Tensor | None:
            return None if m is None else m.bool().permute(0, *others, *att).reshape(bf, length)

        qm, vm, km = flat(_get(inputs, 3), tq), flat(_get(inputs, 4), ts), flat(_get(inputs, 5), ts)
        am = _get(inputs, 6)
        mask = conjoin(
            None if am is None else am.bool().expand(*batch, *q_att, *s_att).reshape(bf, 1, tq, ts),
            None if qm is None else qm[:, None, :, None],
            None if vm is None else vm[:, None, None, :],
            None if km is None else km[:, None, None, :],
            band_mask(tq, ts, a["use_causal_mask"], a["sliding_window"]),
        )
        scores = torch.matmul(qf * (1.0 / math.sqrt(depth)), kf.transpose(-1, -2))  # the query is scaled first, as Keras does
        probs = masked_softmax(scores, mask)
        out = torch.matmul(probs, vf)
        heads = out.shape[1]
        out = out.reshape(*batch, heads, *q_att, -1).permute(*np.argsort(perm).tolist())
        if a["use_gate"]:
            out = out * torch.sigmoid(_project(q_in, self.gate_kernel, self.gate_bias))
        y = torch.einsum("...hd,hdo->...o", out, like(self.output_kernel, out))
        if self.output_bias is not None:
            y = y + like(self.output_bias, y)
        if a["return_attention_scores"]:
            return [y, probs.reshape(*batch, heads, *q_att, *s_att)]
        return [y]


class _FastMultiHead(nn.Module):
    """The common call (rank-3 [B, T, F] inputs, attention over T, no mask of any kind, no gate, no scores) as plain
    torch: 2-D projection weights with F.linear, and F.scaled_dot_product_attention in float32/float64 (no mask,
    so KIF's fully-masked-row rule never applies)."""

    def __init__(self, owner: _MultiHead, heads: int, depth: int) -> None:
        super().__init__()
        self.heads, self.depth = heads, depth
        for role in ("query", "key", "value"):
            kernel = getattr(owner, f"{role}_kernel")  # [F, H, D] -> Linear weight [H*D, F], a view of [F, H*D] memory
            self.register_buffer(f"{role}_weight", kernel.reshape(kernel.shape[0], -1).contiguous().T)  # (see _Dense)
            bias = getattr(owner, f"{role}_bias")
            self.register_buffer(f"{role}_b", None if bias is None else bias.reshape(-1).contiguous())
        out = owner.output_kernel  # [H, Dv, O] -> [O, H*Dv]
        self.register_buffer("output_weight", out.reshape(-1, out.shape[-1]).contiguous().T)
        self.register_buffer("output_b", owner.output_bias)

    def forward(self, q_in: Tensor, v_in: Tensor, k_in: Tensor | None) -> Tensor:
        k_in = v_in if k_in is None else k_in
        n, tq, ts = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        q = F.linear(q_in, self.query_weight, self.query_b).reshape(n, tq, self.heads, -1).transpose(1, 2)
        k = F.linear(k_in, self.key_weight, self.key_b).reshape(n, ts, self.heads, -1).transpose(1, 2)
        v = F.linear(v_in, self.value_weight, self.value_b).reshape(n, ts, self.heads, -1).transpose(1, 2)
        scale = 1.0 / math.sqrt(self.depth)
        if q.dtype in (torch.float32, torch.float64):  # torch's fused kernel: within the spec's tolerance, ~2x faster
            out = F.scaled_dot_product_attention(q, k, v, scale=scale)
        else:
            out = torch.matmul(torch.softmax(torch.matmul(q * scale, k.transpose(-1, -2)), dim=-1), v)
        out = out.transpose(1, 2).reshape(n, tq, -1)
        return F.linear(out, self.output_weight, self.output_b)


def _fast_plan(owner: _MultiHead, a: dict[str, Any], grouped: bool) -> _FastMultiHead | None:
    """The fast path when the attributes allow it (the inputs are checked per call by ``_plain_call``)."""
    if grouped or a.get("attention_axes") is not None or a["use_gate"] or a["return_attention_scores"]:
        return None
    if a["use_causal_mask"] or a.get("sliding_window") is not None or owner.output_kernel.dim() != 3:
        return None
    if owner.query_kernel.dim() != 3 or owner.key_kernel.dim() != 3 or owner.value_kernel.dim() != 3:
        return None
    return _FastMultiHead(owner, int(owner.query_kernel.shape[1]), int(a["key_dim"]))


def _plain_call(inputs: tuple[Tensor | None, ...], dtype: torch.dtype) -> bool:
    """Rank-3 query/value/key of the weights' dtype and no mask input."""
    if any(t is not None for t in inputs[3:]):
        return False
    return all(t is None or (t.dim() == 3 and t.dtype == dtype) for t in inputs[:3])


converter("MultiHeadAttention")(lambda layer, w: _MultiHead(layer.attributes, w, grouped=False))
converter("GroupQueryAttention")(lambda layer, w: _MultiHead(layer.attributes, w, grouped=True))
