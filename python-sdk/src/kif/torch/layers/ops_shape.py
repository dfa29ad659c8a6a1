"""Shape and indexing ops (spec/ops/shape.md) as torch modules. Positions are resolved on the run-time shape with
the reference rules (kif.ops._index, kif.ops.shape), so the two cannot disagree on bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.ops._index import plan
from kif.ops.shape import ExpandDims, Squeeze, Transpose
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


@converter("op.reshape")
def _reshape(layer: Layer, w: W) -> nn.Module:
    shape = list(layer.attributes["shape"])
    return Fn(lambda m, x: x.reshape(shape))


@converter("op.transpose")
def _transpose(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    return Fn(lambda m, x: x.permute(Transpose.perm(a, x.dim())))


@converter("op.expand_dims")
def _expand_dims(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def expand(m: Fn, x: Tensor) -> Tensor:
        for p in ExpandDims.positions(a, x.dim()):
            x = x.unsqueeze(p)
        return x

    return Fn(expand)


@converter("op.squeeze")
def _squeeze(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    return Fn(lambda m, x: x.reshape([d for i, d in enumerate(x.shape) if i not in Squeeze.axes(a, tuple(x.shape))]))


@converter("op.concatenate")
def _concatenate(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]
    return Fn(lambda m, *xs: torch.cat(xs, dim=axis))


@converter("op.stack")
def _stack(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]
    return Fn(lambda m, *xs: torch.stack(xs, dim=axis))


def _slice(x: Tensor, index: list[Any]) -> Tensor:
    steps, _ = plan(index, tuple(x.shape))
    axis = 0
    for kind, value in steps:
        if kind == "new":
            x = x.unsqueeze(axis)
            axis += 1
        elif kind == "pick":
            x = x.select(axis, value)
        else:
            positions = range(*slice(*value).indices(x.shape[axis]))
            if positions.step > 0:
                x = x[(slice(None),) * axis + (slice(positions.start, positions.stop, positions.step),)]
            else:  # torch has no negative steps: gather the positions
                x = x.index_select(axis, torch.tensor(list(positions), dtype=torch.long, device=x.device))
            axis += 1
    return x


@converter("op.strided_slice")
def _strided_slice(layer: Layer, w: W) -> nn.Module:
    index = layer.attributes["index"]
    return Fn(lambda m, x: _slice(x, index).contiguous())


@converter("op.take")
def _take(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]

    def take(m: Fn, x: Tensor, indices: Tensor) -> Tensor:
        if axis is None:
            x, at = x.reshape(-1), 0
        else:
            at = axis % x.dim()
        size = x.shape[at]
        i = indices.long()
        i = torch.where(i < 0, i + size, i)
        picked = x.index_select(at, i.reshape(-1))
        return picked.reshape((*x.shape[:at], *indices.shape, *x.shape[at + 1 :]))

    return Fn(take)


@converter("op.pad")
def _pad(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    pads = [tuple(p) for p in a["pads"]]

    def pad(m: Fn, x: Tensor) -> Tensor:
        if a["mode"] == "constant":
            flat = [n for before, after in reversed(pads) for n in (before, after)]
            return F.pad(x, flat, value=a["value"])
        for axis, (before, after) in enumerate(pads):  # reflect/symmetric: gather the positions np.pad would read
            if before or after:
                positions = np.pad(np.arange(x.shape[axis]), (before, after), mode=a["mode"])
                x = x.index_select(axis, torch.from_numpy(positions).to(x.device))
        return x

    return Fn(pad)


@converter("op.tile")
def _tile(layer: Layer, w: W) -> nn.Module:
    reps = list(layer.attributes["repeats"])
    return Fn(lambda m, x: x.tile(reps) if reps else x)


@converter("op.broadcast_to")
def _broadcast_to(layer: Layer, w: W) -> nn.Module:
    shape = list(layer.attributes["shape"])
    return Fn(lambda m, x: torch.broadcast_to(x, shape).contiguous())


@converter("op.matmul")
def _matmul(layer: Layer, w: W) -> nn.Module:
    return Fn(lambda m, a, b: torch.matmul(a, b))


@converter("op.einsum")
def _einsum(layer: Layer, w: W) -> nn.Module:
    equation = layer.attributes["equation"]
    return Fn(lambda m, *xs: torch.einsum(equation, *xs))
