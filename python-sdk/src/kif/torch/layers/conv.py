"""Converters for convolutions (real nn.ConvNd / nn.ConvTransposeNd modules) and pooling.

KIF data is in the layout the layer's data_format says; torch convolutions want NC*, so
channels_last data is permuted in and back out. Padding follows TensorFlow's rules from
kif.layers._conv_utils ("same" puts an odd extra cell at the end, "causal" pads the start)
and is applied explicitly with F.pad; the torch modules themselves never pad.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers import _conv_utils as cu
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, Outputs, activation, fresh_activation, from_first, pad_spec, tensor, to_first

W = dict[str, np.ndarray]
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_TRANSPOSE = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def _to_torch_kernel(kernel: np.ndarray) -> Tensor:
    """[*K, a, b] (Keras) -> [b, a, *K] (torch): conv [*K, in/g, out] -> [out, in/g, *K]; transpose [*K, out, in] -> [in, out, *K]."""
    r = kernel.ndim - 2
    return tensor(kernel).permute(r + 1, r, *range(r)).contiguous()


def _module(cls: type[nn.Module], weight: Tensor, bias: np.ndarray | None, groups: int = 1, **kwargs: Any) -> nn.Module:
    """A torch conv module of ``cls`` holding ``weight``/``bias`` (torch layouts), with no padding of its own."""
    if cls in _TRANSPOSE.values():  # weight [in, out / groups, *K]
        in_ch, out_ch = weight.shape[0], weight.shape[1] * groups
    else:  # weight [out, in / groups, *K]
        in_ch, out_ch = weight.shape[1] * groups, weight.shape[0]
    module = cls(in_ch, out_ch, tuple(weight.shape[2:]), bias=bias is not None, groups=groups, dtype=weight.dtype, **kwargs)
    with torch.no_grad():
        module.weight.copy_(weight)
        if bias is not None:
            module.bias.copy_(tensor(bias))
    return module.eval()


class _Conv(nn.Module):
    """Explicit TensorFlow padding, then a torch convolution in NC* layout, then the activation in the layer's layout."""

    def __init__(self, attrs: dict, conv: nn.Module, pointwise: nn.Module | None = None) -> None:
        super().__init__()
        self.attrs = dict(attrs)
        self.conv = conv
        self.pointwise = pointwise
        self.act = fresh_activation(attrs["activation"])  # on the convolution's new output: in place
        self.fmt = attrs["data_format"]
        self.functional = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(attrs["kernel_size"])]
        self.geometry: dict[tuple[int, ...], tuple[tuple[int, ...] | None, list[int] | None]] = {}  # per spatial shape

    def forward(self, x: Tensor) -> Outputs:
        return [self.run(x, self.conv.weight, self.conv.bias)]

    def run(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """The layer with the first convolution's ``weight``/``bias`` (its own, or BatchNormalization folded in)."""
        xf = to_first(x, self.fmt)
        spatial = tuple(xf.shape[2:])
        found = self.geometry.get(spatial)
        if found is None:
            if len(self.geometry) >= 64:  # bounded: many input sizes recompute, never grow without limit
                self.geometry.clear()
            found = self.geometry[spatial] = self._geometry(spatial)
        padding, spec = found
        if spec is not None:
            xf = F.pad(xf, spec)
        conv = self.conv
        if x.dtype != weight.dtype:  # the spec's compute-dtype rule: weights cast to the input's dtype
            weight, bias = weight.to(x.dtype), None if bias is None else bias.to(x.dtype)
        y = self.functional(xf, weight, bias, conv.stride, padding or 0, conv.dilation, conv.groups)
        if self.pointwise is not None:
            y = _call(self.pointwise, y)
        return self.act(from_first(y, self.fmt))

    def _geometry(self, spatial: tuple[int, ...]) -> tuple[tuple[int, ...] | None, list[int] | None]:
        """TensorFlow's padding for this input size: symmetric zeros the convolution adds itself (no padded copy),
        else an explicit F.pad spec."""
        a = self.attrs
        pads = [
            cu.conv_pads(a["padding"], int(n), k, s, d)
            for n, k, s, d in zip(spatial, a["kernel_size"], a["strides"], a["dilation_rate"], strict=True)
        ]
        if all(before == after for before, after in pads):
            return (tuple(before for before, _ in pads) if any(before for before, _ in pads) else None), None
        return None, pad_spec(pads) if any(p for pair in pads for p in pair) else None


def _call(conv: nn.Module, x: Tensor) -> Tensor:
    """Run a torch conv module (its own padding: none); for another input dtype its weights are cast to the input's."""
    weight, bias = conv.weight, conv.bias
    if x.dtype == weight.dtype:
        return conv(x)
    forward = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.ndim]
    return forward(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype), conv.stride, conv.padding, conv.dilation, conv.groups)


def _conv(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    bias = w["bias"] if a["use_bias"] else None
    conv = _module(
        _CONV[len(a["kernel_size"])],
        _to_torch_kernel(w["kernel"]),
        bias,
        stride=a["strides"],
        dilation=a["dilation_rate"],
        groups=a["groups"],
    )
    return _Conv(a, conv)


def _depthwise_weight(kernel: np.ndarray) -> Tensor:
    """[*K, C, m] -> [C*m, 1, *K]: output channel c*m + j convolves input channel c with filter j."""
    r = kernel.ndim - 2
    flat = tensor(kernel).reshape(*kernel.shape[:r], -1)
    return flat.permute(r, *range(r)).unsqueeze(1).contiguous()


def _depthwise(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    weight = _depthwise_weight(w["depthwise_kernel"])
    channels = w["depthwise_kernel"].shape[-2]
    bias = w["bias"] if a["use_bias"] else None
    conv = _module(_CONV[len(a["kernel_size"])], weight, bias, stride=a["strides"], dilation=a["dilation_rate"], groups=channels)
    return _Conv(a, conv)


def _separable(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    r = len(a["kernel_size"])
    channels = w["depthwise_kernel"].shape[-2]
    depthwise = _module(
        _CONV[r], _depthwise_weight(w["depthwise_kernel"]), None, stride=a["strides"], dilation=a["dilation_rate"], groups=channels
    )
    pointwise = _module(_CONV[r], _to_torch_kernel(w["pointwise_kernel"]), w["bias"] if a["use_bias"] else None)
    return _Conv(a, depthwise, pointwise)


class _ConvTranspose(nn.Module):
    """A padding-free nn.ConvTransposeNd gives the full output; it is then cropped (or zero-extended) to Keras's geometry."""

    def __init__(self, attrs: dict, conv: nn.Module) -> None:
        super().__init__()
        self.attrs = dict(attrs)
        self.conv = conv
        self._functional = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[len(attrs["kernel_size"])]
        self.act = activation(attrs["activation"])

    def forward(self, x: Tensor) -> Outputs:
        a, fmt = self.attrs, self.attrs["data_format"]
        xf = to_first(x, fmt)
        conv = self.conv
        # the bias is added after the crop: cells past the full output (output_padding) hold just the bias
        y = self._functional(xf, conv.weight.to(xf.dtype), None, conv.stride, 0, 0, 1, conv.dilation)
        ops = a["output_padding"] or [None] * len(a["strides"])
        geometry = zip(xf.shape[2:], a["kernel_size"], a["strides"], a["dilation_rate"], ops, strict=True)
        for axis, (n, k, s, d, op) in enumerate(geometry):
            out = cu.transpose_length(a["padding"], int(n), k, s, d, op)
            before = cu.transpose_pad_before(a["padding"], int(n), k, s, d, out)
            dim = 2 + axis
            y = y.narrow(dim, before, min(out, int(y.shape[dim]) - before))
            short = out - int(y.shape[dim])
            if short > 0:  # output_padding past the full output: those cells receive no contribution
                spec = [0, 0] * (y.dim() - 1 - dim) + [0, short]
                y = F.pad(y, spec)
        if conv.bias is not None:
            y = y + conv.bias.to(y.dtype).reshape(-1, *[1] * (y.dim() - 2))
        return [self.act(from_first(y, fmt))]


def _transpose(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    bias = w["bias"] if a["use_bias"] else None
    conv = _module(_TRANSPOSE[len(a["kernel_size"])], _to_torch_kernel(w["kernel"]), bias, stride=a["strides"], dilation=a["dilation_rate"])
    return _ConvTranspose(a, conv)


for _n in (1, 2, 3):
    converter(f"Conv{_n}D")(_conv)
    converter(f"Conv{_n}DTranspose")(_transpose)
converter("DepthwiseConv1D", "DepthwiseConv2D")(_depthwise)
converter("SeparableConv1D", "SeparableConv2D")(_separable)

# ---------------------------------------------------------------- pooling

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _pool_pads(spatial: Sequence[int], pool: Sequence[int], strides: Sequence[int], padding: str) -> list[tuple[int, int]]:
    if padding == "valid":
        return [(0, 0)] * len(pool)
    return [cu.same_pads(int(n), k, s, 1) for n, k, s in zip(spatial, pool, strides, strict=True)]


def _pooling(dims: int, mode: str):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        a = layer.attributes
        fmt, pool = a["data_format"], list(a["pool_size"])
        strides = list(a["strides"] or pool)
        valid = a["padding"] == "valid"

        def pooling(m: Fn, x: Tensor) -> Tensor:
            xf = to_first(x, fmt)
            if valid and xf.is_floating_point() and mode == "max":  # the common case, without the padding arithmetic
                return from_first(_MAX[dims](xf, pool, strides), fmt)
            pads = pad_spec(_pool_pads(xf.shape[2:], pool, strides, a["padding"]))
            padded = any(pads)
            if mode == "max":
                if not xf.is_floating_point():  # torch max-pools floats only; int32 and smaller are exact in float64
                    xp = F.pad(xf, pads, value=torch.iinfo(xf.dtype).min) if padded else xf
                    return from_first(_MAX[dims](xp.to(torch.float64), pool, strides).to(xf.dtype), fmt)
                xp = F.pad(xf, pads, value=float("-inf")) if padded else xf  # padded cells never win
                return from_first(_MAX[dims](xp, pool, strides), fmt)
            y = _AVG[dims](F.pad(xf, pads) if padded else xf, pool, strides)
            if padded:  # divide by the real cells per window: the pooled mean of a padded ones-tensor
                ones = F.pad(torch.ones((1, 1, *xf.shape[2:]), dtype=xf.dtype), pads)
                y = y / _AVG[dims](ones, pool, strides)
            return from_first(y, fmt)

        return Fn(pooling)

    return convert


def _global(dims: int, mode: str):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        fmt, keep = layer.attributes["data_format"], layer.attributes["keepdims"]

        def pooling(m: Fn, x: Tensor, mask: Tensor | None = None) -> Tensor:
            dims_ = list(range(1, dims + 1)) if fmt == "channels_last" else list(range(2, dims + 2))
            if mask is None:
                return x.amax(dim=dims_, keepdim=keep) if mode == "max" else x.mean(dim=dims_, keepdim=keep)
            mk = mask.bool().unsqueeze(2 if fmt == "channels_last" else 1)
            if mode == "max":
                return torch.where(mk, x, float("-inf")).amax(dim=dims_, keepdim=keep)
            total = torch.where(mk, x, torch.zeros((), dtype=x.dtype)).sum(dim=dims_, keepdim=keep)
            return total / mk.to(x.dtype).sum(dim=dims_, keepdim=keep)  # an all-masked row is 0/0 = NaN, as in the reference

        return Fn(pooling)

    return convert


for _n in (1, 2, 3):
    converter(f"MaxPooling{_n}D")(_pooling(_n, "max"))
    converter(f"AveragePooling{_n}D")(_pooling(_n, "average"))
    converter(f"GlobalMaxPooling{_n}D")(_global(_n, "max"))
    converter(f"GlobalAveragePooling{_n}D")(_global(_n, "average"))
