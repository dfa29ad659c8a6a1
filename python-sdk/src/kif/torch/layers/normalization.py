"""Converters for the normalisation layers (inference form: BatchNormalization uses its moving statistics)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers.normalization import UNIT_NORM_EPSILON
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, axes, like, on_axes

W = dict[str, np.ndarray]


@converter("BatchNormalization")
def _batch_norm(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def batch_norm(m: Fn, x: Tensor) -> Tensor:
        axis = a["axis"] % x.dim()
        xc = x if axis == 1 else x.movedim(axis, 1)  # F.batch_norm normalises per channel on axis 1
        weight = like(m.gamma, x) if m.gamma is not None else None
        bias = like(m.beta, x) if m.beta is not None else None
        y = F.batch_norm(xc, like(m.moving_mean, x), like(m.moving_variance, x), weight, bias, training=False, eps=a["epsilon"])
        return y if axis == 1 else y.movedim(1, axis)

    return Fn(
        batch_norm,
        moving_mean=w["moving_mean"],
        moving_variance=w["moving_variance"],
        gamma=w["gamma"] if a["scale"] else None,
        beta=w["beta"] if a["center"] else None,
    )


@converter("LayerNormalization")
def _layer_norm(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def layer_norm(m: Fn, x: Tensor) -> Tensor:
        kept = axes(a["axis"], x.dim())
        if kept == [x.dim() - 1] and not a["rms_scaling"]:  # the usual last axis: F.layer_norm as it is
            weight = like(m.gamma, x) if m.gamma is not None else None
            return F.layer_norm(x, x.shape[-1:], weight, like(m.beta, x) if m.beta is not None else None, eps=a["epsilon"])
        if a["rms_scaling"]:  # deprecated Keras form: divides by the standard deviation, keeps the mean
            var = x.var(dim=kept, keepdim=True, unbiased=False)
            y = x * torch.rsqrt(var + a["epsilon"])
            return y * on_axes(like(m.gamma, x), kept, x.dim()) if m.gamma is not None else y
        # F.layer_norm normalises the trailing axes: move the normalised axes there (in ascending order)
        rest = [d for d in range(x.dim()) if d not in kept]
        xt = x.permute(*rest, *kept)
        shape = [int(x.shape[d]) for d in kept]
        weight = like(m.gamma, x).reshape(shape) if m.gamma is not None else None
        bias = like(m.beta, x).reshape(shape) if m.beta is not None else None
        y = F.layer_norm(xt, shape, weight, bias, eps=a["epsilon"])
        return y.permute(*np.argsort([*rest, *kept]).tolist())

    return Fn(layer_norm, gamma=w["gamma"] if a["scale"] else None, beta=w["beta"] if a["center"] else None)


@converter("GroupNormalization")
def _group_norm(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def group_norm(m: Fn, x: Tensor) -> Tensor:
        axis = a["axis"] % x.dim()
        channels = int(x.shape[axis])
        groups = channels if a["groups"] == -1 else a["groups"]
        xc = x.movedim(axis, 1)
        weight = like(m.gamma, x) if m.gamma is not None else None
        bias = like(m.beta, x) if m.beta is not None else None
        if xc.dim() == 2:  # F.group_norm wants a spatial axis
            return F.group_norm(xc.unsqueeze(-1), groups, weight, bias, a["epsilon"]).squeeze(-1).movedim(1, axis)
        return F.group_norm(xc, groups, weight, bias, a["epsilon"]).movedim(1, axis)

    return Fn(group_norm, gamma=w["gamma"] if a["scale"] else None, beta=w["beta"] if a["center"] else None)


@converter("RMSNormalization")
def _rms_norm(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def rms_norm(m: Fn, x: Tensor) -> Tensor:
        kept = axes(a["axis"], x.dim())
        mean_square = torch.mean(x * x, dim=kept, keepdim=True)
        return x * torch.rsqrt(mean_square + a["epsilon"]) * on_axes(like(m.scale, x), kept, x.dim())

    return Fn(rms_norm, scale=w["scale"])


@converter("UnitNormalization")
def _unit_norm(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]

    def unit_norm(m: Fn, x: Tensor) -> Tensor:
        norm = torch.sqrt(torch.sum(x * x, dim=axes(axis, x.dim()), keepdim=True))
        return x / torch.clamp(norm, min=UNIT_NORM_EPSILON)

    return Fn(unit_norm)
