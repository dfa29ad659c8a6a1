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

    def category_encoding(m: Fn, x: Tensor) -> Tensor:
        ids = to_ids(x)
        check_range(ids, depth, "CategoryEncoding")
        return encode(ids, mode, depth)

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
