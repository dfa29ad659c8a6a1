"""Primitive ops (spec/ops/index.md) as torch modules, from the op table: a row's ``torch`` function is called on
the inputs; the few ops without one direct function have a dedicated converter below."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.ops import Op, ops
from kif.torch.layers import CONVERTERS, converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name) if name != "bool" else torch.bool


def _direct(op: Op) -> Callable[[Layer, W], nn.Module]:
    fn = getattr(torch, op.torch)
    return lambda layer, w: Fn(lambda m, *xs: fn(*xs))


@converter("op.where")
def _where(layer: Layer, w: W) -> nn.Module:
    return Fn(lambda m, c, x, y: torch.where(c if c.dtype == torch.bool else c != 0, x, y))


@converter("op.cast")
def _cast(layer: Layer, w: W) -> nn.Module:
    target = _dtype(layer.attributes["dtype"])

    def cast(m: Fn, x: Tensor) -> Tensor:
        if target == torch.bool:
            return x != 0
        return (torch.trunc(x) if x.is_floating_point() and not target.is_floating_point else x).to(target)

    return Fn(cast)


@converter("op.clip")
def _clip(layer: Layer, w: W) -> nn.Module:
    low, high = layer.attributes["min"], layer.attributes["max"]
    return Fn(lambda m, x: torch.clamp(x, low, high).to(x.dtype))


@converter("op.constant")
def _constant(layer: Layer, w: W) -> nn.Module:
    value = np.asarray(w["value"])
    target = layer.attributes["dtype"]
    array = value.astype(np.bool_ if target == "bool" else target) if target != "bfloat16" else value.astype(np.float32)
    return Fn(lambda m: m.value if target != "bfloat16" else m.value.to(torch.bfloat16), value=array)


def _register() -> None:
    for op in ops().values():
        if op.type not in CONVERTERS and op.torch and op.family == "elementwise":
            converter(op.type)(_direct(op))


_register()
from kif.torch.layers import ops_axis, ops_reduce, ops_shape  # noqa: E402, F401  (registration of the other families)
