"""Converters for element-wise, dense, merge, embedding, masking and preprocessing layers."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers.merge_more import _DOT_EPSILON
from kif.layers.preprocessing import NORMALIZATION_EPSILON
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, Outputs, activation, axes, fresh_activation, like, tensor

W = dict[str, np.ndarray]

# ---------------------------------------------------------------- identities and activations


@converter(
    "Identity", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Augmentation",
)  # fmt: skip
def _identity(layer: Layer, w: W) -> nn.Module:
    return Fn(lambda m, x: x)  # inference: noise and regularisation layers pass data through


@converter("Activation")
def _activation(layer: Layer, w: W) -> nn.Module:
    f = activation(layer.attributes["activation"])
    return Fn(lambda m, x: f(x))


@converter("ReLU")
def _relu(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    if a["max_value"] is None and a["negative_slope"] == 0 and a["threshold"] == 0:
        return _Single(nn.ReLU())
    top, slope, threshold = a["max_value"], a["negative_slope"], a["threshold"]

    def relu(m: Fn, x: Tensor) -> Tensor:
        upper = x if top is None else torch.clamp(x, max=top)
        return torch.where(x > threshold, upper, slope * (x - threshold))

    return Fn(relu)


@converter("LeakyReLU")
def _leaky_relu(layer: Layer, w: W) -> nn.Module:
    return _Single(nn.LeakyReLU(layer.attributes["negative_slope"]))


@converter("ELU")
def _elu(layer: Layer, w: W) -> nn.Module:
    return _Single(nn.ELU(layer.attributes["alpha"]))


@converter("PReLU")
def _prelu(layer: Layer, w: W) -> nn.Module:
    # alpha [d1..dn] broadcasts against the input without its batch axis
    return Fn(lambda m, x: torch.where(x > 0, x, like(m.alpha, x) * x), alpha=w["alpha"])


@converter("Softmax")
def _softmax(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]

    def softmax(m: Fn, x: Tensor, mask: Tensor | None = None) -> Tensor:
        dims = axes(axis, x.dim())
        if mask is None:
            if len(dims) == 1:
                return torch.softmax(x, dim=dims[0])
            peak = x.amax(dim=dims, keepdim=True)
            e = torch.exp(x - peak)
            return e / e.sum(dim=dims, keepdim=True)
        keep = mask.bool().expand(x.shape)
        peak = torch.where(keep, x, float("-inf")).amax(dim=dims, keepdim=True)
        peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
        e = torch.where(keep, torch.exp(torch.where(keep, x - peak, torch.zeros_like(x))), torch.zeros_like(x))
        total = e.sum(dim=dims, keepdim=True)
        return e / torch.where(total > 0, total, torch.ones_like(total))  # a fully masked slice is all 0

    return Fn(softmax)


class _Single(nn.Module):
    """A real torch module with one input and one output."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Outputs:
        return [self.module(x)]


# ---------------------------------------------------------------- dense


class _Dense(nn.Module):
    def __init__(self, kernel: np.ndarray, bias: np.ndarray | None, act: str) -> None:
        super().__init__()
        self.linear = nn.Linear(kernel.shape[0], kernel.shape[1], bias=bias is not None, dtype=tensor(kernel[:0]).dtype)
        # torch's [units, in] weight as a view of Keras's [in, units] memory: F.linear multiplies by weight.T, which is
        # then contiguous, and that GEMM is 1.1-2.3x faster at small batches (equal at large ones), measured on torch 2.13
        self.linear.weight = nn.Parameter(tensor(kernel).T)
        if bias is not None:
            with torch.no_grad():
                self.linear.bias.copy_(tensor(bias))
        self.act = fresh_activation(act)  # F.linear's output is new: written in place

    def forward(self, x: Tensor) -> Outputs:
        lin = self.linear
        return [self.run(x, lin.weight, lin.bias)]

    def run(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """The layer with ``weight``/``bias`` (its own, or BatchNormalization folded in)."""
        if x.dtype != weight.dtype:  # another input dtype: weights are cast to it (the spec's compute-dtype rule)
            weight, bias = weight.to(x.dtype), None if bias is None else bias.to(x.dtype)
        return self.act(F.linear(x, weight, bias))


@converter("Dense")
def _dense(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    return _Dense(w["kernel"], w["bias"] if a["use_bias"] else None, a["activation"])


@converter("EinsumDense")
def _einsum_dense(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    f = activation(a["activation"])
    bias = w["bias"] if a["bias_axes"] is not None else None

    def einsum_dense(m: Fn, x: Tensor) -> Tensor:
        y = torch.einsum(a["equation"], x, like(m.kernel, x))
        return f(y if m.bias is None else y + like(m.bias, x))

    return Fn(einsum_dense, kernel=w["kernel"], bias=bias)


# ---------------------------------------------------------------- merges


def _aligned(xs: tuple[Tensor | None, ...]) -> list[Tensor]:
    """Present inputs, with per-sample axes right-aligned to the largest rank (batch axes stay first)."""
    present = [x for x in xs if x is not None]
    rank = max(x.dim() for x in present)
    return [x.reshape(x.shape[0], *([1] * (rank - x.dim())), *x.shape[1:]) for x in present]


def _fold(op: Any) -> Any:
    def merge(m: Fn, *xs: Tensor | None) -> Tensor:
        if len(xs) == 2 and xs[0] is not None and xs[1] is not None and xs[0].dim() == xs[1].dim():
            return op(xs[0], xs[1])  # the usual two inputs of one rank: nothing to align
        arrays = _aligned(xs)
        out = arrays[0]
        for x in arrays[1:]:
            out = op(out, x)
        return out

    return merge


for _type, _op in (
    ("Add", torch.add), ("Subtract", torch.sub), ("Multiply", torch.mul), ("Maximum", torch.maximum), ("Minimum", torch.minimum),
):  # fmt: skip
    converter(_type)(lambda layer, w, op=_op: Fn(_fold(op)))


@converter("Average")
def _average(layer: Layer, w: W) -> nn.Module:
    total = _fold(torch.add)
    return Fn(lambda m, *xs: total(m, *xs) / sum(x is not None for x in xs))


@converter("Concatenate")
def _concatenate(layer: Layer, w: W) -> nn.Module:
    axis = layer.attributes["axis"]
    return Fn(lambda m, *xs: torch.cat([x for x in xs if x is not None], dim=axis))


@converter("Dot")
def _dot(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def normalize(x: Tensor, axis: int) -> Tensor:
        inv = torch.clamp(torch.rsqrt(torch.sum(x * x, dim=axis, keepdim=True)), max=1.0 / _DOT_EPSILON)
        return x * inv

    def dot(m: Fn, x: Tensor, y: Tensor) -> Tensor:
        ax, ay = a["axes"][0] % x.dim(), a["axes"][1] % y.dim()
        if a["normalize"]:
            x, y = normalize(x, ax), normalize(y, ay)
        xm, ym = x.movedim(ax, -1), y.movedim(ay, 1)
        n, k = xm.shape[0], xm.shape[-1]
        out = torch.bmm(xm.reshape(n, -1, k), ym.reshape(n, k, -1))
        shape = (*xm.shape[1:-1], *ym.shape[2:])
        return out.reshape(n, *(shape or (1,)))

    return Fn(dot)


# ---------------------------------------------------------------- embedding and masking


class _Embedding(nn.Module):
    def __init__(self, table: np.ndarray, mask_zero: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(tensor(table), freeze=True)
        self.mask_zero = mask_zero

    def forward(self, ids: Tensor) -> Outputs:
        y = self.embedding(ids.long())
        return [y, ids != 0] if self.mask_zero else [y]


@converter("Embedding")
def _embedding(layer: Layer, w: W) -> nn.Module:
    return _Embedding(w["embeddings"], layer.attributes["mask_zero"])


@converter("Masking")
def _masking(layer: Layer, w: W) -> nn.Module:
    value = layer.attributes["mask_value"]

    def masking(m: Fn, x: Tensor) -> Outputs:
        keep = torch.any(x != torch.tensor(value, dtype=x.dtype), dim=-1)
        return [torch.where(keep.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype)), keep]

    return Fn(masking)


# ---------------------------------------------------------------- preprocessing


def _float(x: Tensor) -> Tensor:
    return x if x.is_floating_point() else x.to(torch.float32)


@converter("Rescaling")
def _rescaling(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    scale, offset = np.asarray(a["scale"], np.float64), np.asarray(a["offset"], np.float64)
    return Fn(lambda m, x: _float(x) * like(m.scale, _float(x)) + like(m.offset, _float(x)), scale=scale, offset=offset)


@converter("Normalization")
def _normalization(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes

    def normalization(m: Fn, x: Tensor) -> Tensor:
        x = _float(x)
        kept = axes(a["axis"], x.dim())
        shape = [x.shape[d] if d in kept else 1 for d in range(x.dim())]
        mean = like(m.mean, x).reshape(shape)
        std = torch.clamp(torch.sqrt(like(m.variance, x).reshape(shape)), min=NORMALIZATION_EPSILON)
        return mean + x * std if a["invert"] else (x - mean) / std

    return Fn(normalization, mean=w["mean"], variance=w["variance"])
