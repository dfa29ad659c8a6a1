"""Ops along an axis (spec/ops/axis.md) as torch modules. Sizes and broadcast shapes come from the reference rules
(kif.ops.axis); sorts use torch.sort(stable=True), whose order (ties by index, NaN above +inf) is the spec's."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.ops.axis import Repeat, TakeAlongAxis, split_sizes
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]
_HALF = (torch.float16, torch.bfloat16)


def _torch_dtype(name: str) -> torch.dtype:
    return torch.bool if name == "bool" else getattr(torch, name)  # type: ignore[no-any-return]


@converter("op.split")
def _split(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def split(m: Fn, x: Tensor) -> list[Tensor]:
        at = a["axis"] % x.dim()
        sizes = [int(s) for s in split_sizes(a["splits"], x.shape[at])]  # type: ignore[arg-type]
        return [part.contiguous() for part in torch.split(x, sizes, dim=at)]

    return Fn(split)


@converter("op.take_along_axis")
def _take_along_axis(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def take(m: Fn, x: Tensor, indices: Tensor) -> Tensor:
        at, out = TakeAlongAxis.shape(a, tuple(x.shape), tuple(indices.shape))
        size = x.shape[at]
        i = indices.long().broadcast_to(out)  # type: ignore[arg-type]
        x = x.broadcast_to((*out[:at], size, *out[at + 1 :]))  # type: ignore[arg-type]
        return torch.gather(x, at, torch.where(i < 0, i + size, i))

    return Fn(take)


@converter("op.repeat")
def _repeat(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    reps = a["repeats"]

    def repeat(m: Fn, x: Tensor) -> Tensor:
        axis, _ = Repeat.place(a, tuple(x.shape))  # checks the counts against the size
        if axis is None:
            x, axis = x.reshape(-1), 0
        counts = reps if isinstance(reps, int) else torch.tensor(reps, dtype=torch.long, device=x.device)
        return torch.repeat_interleave(x, counts, dim=axis)

    return Fn(repeat)


@converter("op.cumsum")
def _cumsum(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def cumsum(m: Fn, x: Tensor) -> Tensor:
        axis = a["axis"]
        if axis is None:
            x, axis = x.reshape(-1), 0
        data = x.float() if x.dtype in _HALF else x
        if a["reverse"]:
            data = data.flip(axis)
        y = torch.cumsum(data, dim=axis, dtype=data.dtype)
        if a["exclusive"]:
            y = y - data
        return (y.flip(axis) if a["reverse"] else y).to(x.dtype)

    return Fn(cumsum)


@converter("op.one_hot")
def _one_hot(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    dtype = _torch_dtype(a["dtype"])

    def one_hot(m: Fn, x: Tensor) -> Tensor:
        hot = x.long().unsqueeze(-1) == torch.arange(a["depth"], device=x.device)  # out of range: no class matches
        on = torch.tensor(a["on_value"], dtype=torch.float64).to(dtype)
        off = torch.tensor(a["off_value"], dtype=torch.float64).to(dtype)
        return torch.where(hot, on, off).movedim(-1, a["axis"] % (x.dim() + 1)).contiguous()

    return Fn(one_hot)


@converter("op.softmax", "op.log_softmax")
def _softmax(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]
    fn = torch.log_softmax if layer.type == "op.log_softmax" else torch.softmax
    return Fn(lambda m, x: fn(x.float() if x.dtype in _HALF else x, dim=axis).to(x.dtype))


@converter("op.top_k")
def _top_k(layer: Layer, w: W) -> nn.Module:
    k, dtype = layer.attributes["k"], _torch_dtype(layer.attributes["dtype"])

    def top_k(m: Fn, x: Tensor) -> list[Tensor]:
        values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
        return [values[..., :k].contiguous(), indices[..., :k].to(dtype).contiguous()]

    return Fn(top_k)


@converter("op.sort")
def _sort(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    return Fn(lambda m, x: torch.sort(x, dim=a["axis"], descending=a["descending"], stable=True)[0])
