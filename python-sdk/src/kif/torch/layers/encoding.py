"""Converters for CategoryEncoding, Discretization and IntegerLookup: integer ids, range-checked (the spec requires
an error for an id outside [0, depth)), then one_hot / multi_hot / count as a comparison with arange(depth)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


def check_range(ids: Tensor, depth: int, layer: str) -> None:
    bad = (ids < 0) | (ids >= depth)
    if bool(bad.any()):
        raise ValueError(f"{layer}: expected ids in [0, {depth}). Received: {int(ids[bad].flatten()[0])}")


def encode(ids: Tensor, mode: str, depth: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """ids: int64, already range-checked (spec/layers/CategoryEncoding.md)."""
    if mode == "one_hot" and ids.dim() >= 2 and ids.shape[-1] == 1:
        ids = ids[..., 0]
    hot = ids.unsqueeze(-1) == torch.arange(depth, device=ids.device)  # [..., L, depth]
    if mode == "one_hot":
        return hot.to(dtype)
    return (hot.any(dim=-2) if mode == "multi_hot" else hot.sum(dim=-2)).to(dtype)


def to_ids(x: Tensor) -> Tensor:
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError("CategoryEncoding: expected finite category ids. Received: NaN or infinity")
        return x.trunc().long()
    return x.long()


@converter("CategoryEncoding")
def _category_encoding(layer: Layer, w: W) -> nn.Module:
    a: dict[str, Any] = layer.attributes
    depth, mode = a["num_tokens"], a["output_mode"]

    def category_encoding(m: Fn, x: Tensor, count_weights: Tensor | None = None) -> Tensor:
        ids = to_ids(x)
        check_range(ids, depth, "CategoryEncoding")
        if count_weights is None:
            return encode(ids, mode, depth)
        if count_weights.shape != ids.shape:
            got = list(count_weights.shape)
            raise ValueError(f"CategoryEncoding: expected count_weights of the ids' shape {list(ids.shape)}. Received: {got}")
        w = count_weights.to(torch.float32).unsqueeze(-1)
        hot = ids.unsqueeze(-1) == torch.arange(depth, device=ids.device)  # where, not a product: a NaN stays in its slot
        return torch.where(hot, w, torch.zeros((), dtype=torch.float32)).sum(dim=-2)

    return Fn(category_encoding)


@converter("Discretization")
def _discretization(layer: Layer, w: W) -> nn.Module:
    from kif.layers.discretization import boundaries

    a: dict[str, Any] = layer.attributes
    b = boundaries(a)
    mode, out = a["output_mode"], getattr(torch, a["output_dtype"])

    def discretization(m: Fn, x: Tensor) -> Tensor:
        xf = x.to(torch.float32)
        ids = torch.bucketize(xf, m.b, right=True)  # count of boundaries <= x
        ids = torch.where(torch.isnan(xf), torch.full_like(ids, len(b)), ids)
        return ids.to(out) if mode == "int" else encode(ids, mode, len(b) + 1)

    return Fn(discretization, b=b)


@converter("IntegerLookup")
def _integer_lookup(layer: Layer, w: W) -> nn.Module:
    from kif.layers import integer_lookup as il

    a: dict[str, Any] = layer.attributes
    vocab = np.asarray(a["vocabulary"], np.int64)
    order = np.argsort(vocab, kind="stable")
    start, oov0, n, mode, size = il.token_start(a), il.oov_start(a), int(a["num_oov_indices"]), a["output_mode"], il.depth(a)
    table = np.asarray([a["oov_token"]] * start + list(a["vocabulary"]), np.int64)
    if oov0:
        table[0] = a["mask_token"]
    idf = np.asarray(w["idf_weights"], np.float32) if "idf_weights" in w else np.zeros(0, np.float32)

    def integer_lookup(m: Fn, x: Tensor) -> Tensor:
        x = x.long()
        if a["invert"]:
            inside = (x >= 0) & (x < len(table))
            return torch.where(inside, m.table[x.clamp(0, len(table) - 1)], torch.full_like(x, a["oov_token"]))
        pos = torch.searchsorted(m.sorted, x).clamp(max=len(vocab) - 1)
        found = m.sorted[pos] == x
        ids = torch.where(found, m.order[pos] + start, torch.full_like(x, -2))
        unknown = ~found
        if a["mask_token"] is not None:
            unknown &= x != a["mask_token"]
            ids = torch.where(x == a["mask_token"], torch.full_like(x, 0 if mode == "int" else -1), ids)
        if bool(unknown.any()):
            if n == 0:
                raise ValueError(f"IntegerLookup: expected tokens in the vocabulary (num_oov_indices=0). Received: {int(x[unknown][0])}")
            if n == 1:
                slot = torch.zeros_like(x)
            elif a["oov_method"] == "floormod":
                slot = torch.remainder(x, n)
            else:
                slot = torch.from_numpy(il.oov_hash(x.numpy(), n, a["salt"]))
            ids = torch.where(unknown, slot + oov0, ids)
        if mode == "int":
            return ids
        if mode == "tf_idf":
            return encode(ids, "count", size) * m.idf
        return encode(ids, mode, size, getattr(torch, a["output_dtype"]))

    return Fn(integer_lookup, sorted=vocab[order], order=order.astype(np.int64), table=table, idf=idf)
