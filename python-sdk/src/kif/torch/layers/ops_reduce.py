"""Reductions (spec/ops/reductions.md) as torch modules: the row's torch function over the reduced dims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.ops import ops
from kif.ops.reductions import axes_of
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


def _one_at_a_time(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A reduction torch takes one dim at a time (prod, any, all): the highest dim first."""

    def reduce(x: Tensor, dim: tuple[int, ...], keepdim: bool) -> Tensor:
        for d in sorted(dim, reverse=True):
            x = fn(x, dim=d, keepdim=keepdim)
        return x

    return reduce


def _var(x: Tensor, dim: tuple[int, ...], keepdim: bool) -> Tensor:
    return torch.var(x, dim=dim, correction=0, keepdim=keepdim) if dim else torch.zeros_like(x)


def _std(x: Tensor, dim: tuple[int, ...], keepdim: bool) -> Tensor:
    return torch.sqrt(_var(x, dim, keepdim))


_REDUCERS: dict[str, Callable[..., Tensor]] = {
    "sum": lambda x, dim, keepdim: torch.sum(x, dim=dim, keepdim=keepdim, dtype=x.dtype),
    "mean": lambda x, dim, keepdim: torch.mean(x, dim=dim, keepdim=keepdim),
    "max": lambda x, dim, keepdim: torch.amax(x, dim=dim, keepdim=keepdim),
    "min": lambda x, dim, keepdim: torch.amin(x, dim=dim, keepdim=keepdim),
    "prod": _one_at_a_time(lambda x, dim, keepdim: torch.prod(x, dim=dim, keepdim=keepdim, dtype=x.dtype)),
    "var": _var,
    "std": _std,
    "logsumexp": lambda x, dim, keepdim: torch.logsumexp(x, dim=dim, keepdim=keepdim),
    "any": _one_at_a_time(lambda x, dim, keepdim: torch.any(x != 0, dim=dim, keepdim=keepdim)),
    "all": _one_at_a_time(lambda x, dim, keepdim: torch.all(x != 0, dim=dim, keepdim=keepdim)),
}


def _reduction(name: str) -> Callable[[Layer, W], nn.Module]:
    fn = _REDUCERS[name]

    def make(layer: Layer, w: W) -> nn.Module:
        axis, keep = layer.attributes["axis"], layer.attributes["keepdims"]

        def run(m: Fn, x: Tensor) -> Tensor:
            dims = axes_of(axis, x.dim())
            if not dims:  # nothing reduced: any/all still turn values into bools
                return (x != 0) if name in ("any", "all") else x
            return fn(x, dims, keep)

        return Fn(run)

    return make


def _arg(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    fn = torch.argmax if layer.type == "op.argmax" else torch.argmin
    dtype = getattr(torch, a["dtype"])

    def run(m: Fn, x: Tensor) -> Tensor:
        if a["axis"] is None:
            y = fn(x.reshape(-1))
            return (y.reshape((1,) * x.dim()) if a["keepdims"] else y).to(dtype)
        return fn(x, dim=a["axis"], keepdim=a["keepdims"]).to(dtype)

    return Fn(run)


def _register() -> Any:
    for op in ops().values():
        if op.family == "reductions":
            converter(op.type)(_arg if op.name in ("argmax", "argmin") else _reduction(op.name))


_register()
