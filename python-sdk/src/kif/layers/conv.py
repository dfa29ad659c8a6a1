"""Convolution layers (spec/layers/Conv2D.md and siblings).

* Conv1D/2D/3D: y = activation(cross_correlate(pad(x), kernel) + bias), kernel [*K, in / groups, filters].
* Conv1DTranspose/2D/3D: the transpose (input gradient) of that convolution, kernel [*K, filters, in].
* DepthwiseConv1D/2D: each input channel convolved with its own depth_multiplier filters, kernel [*K, in, m].
* SeparableConv1D/2D: a depthwise convolution, then a 1x1 convolution, kernel [1..., in * m, filters].

Padding follows TensorFlow (see _conv_utils). The spatial rank is len(kernel_size). Kernels work
channels-last; channels_first data is transposed in and out, and the activation is applied in the
layer's own data_format (it matters for softmax, which acts on the last axis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kif.layers import _conv_utils as cu
from kif.layers import activations
from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer

Dim = int | None


# ---------------------------------------------------------------- shape rules


def _split(attrs: dict[str, Any], x: TensorType) -> tuple[list[Dim], Dim]:
    """Spatial dims and channel count of the input, after checking its rank and dtype."""
    rank = len(attrs["kernel_size"])
    if len(x.shape) != rank + 2:
        raise ShapeError(f"expected input of rank {rank + 2} (batch, {rank} spatial, channels). Received: shape {list(x.shape)}")
    if x.dtype not in cu.FLOAT_DTYPES:
        raise ShapeError(f"expected a floating-point input ({', '.join(cu.FLOAT_DTYPES)}). Received: dtype {x.dtype}")
    if attrs["data_format"] == "channels_first":
        return list(x.shape[2:]), x.shape[1]
    return list(x.shape[1:-1]), x.shape[-1]


def _join(attrs: dict[str, Any], x: TensorType, spatial: Sequence[Dim], channels: Dim) -> TensorType:
    if attrs["data_format"] == "channels_first":
        return TensorType(x.dtype, (x.shape[0], channels, *spatial))
    return TensorType(x.dtype, (x.shape[0], *spatial, channels))


def _check_weight(weights: dict[str, tuple[int, ...]], role: str, expected: Sequence[Dim], layout: str) -> None:
    """Compare a weight's shape with the expected one; None entries are not yet known and match anything."""
    got = weights.get(role)
    if got is None:
        return
    if len(got) != len(expected) or any(e is not None and g != e for g, e in zip(got, expected, strict=True)):
        shown = [("?" if e is None else e) for e in expected]
        raise ShapeError(f"expected {role} of shape {shown} ({layout}). Received: {role} shape {list(got)}")


def _channels(channels: Dim, weights: dict[str, tuple[int, ...]], role: str, axis: int) -> Dim:
    """The input channel count: from the input when known, otherwise from the kernel."""
    if channels is not None or role not in weights:
        return channels
    return weights[role][axis]


def _forward_spatial(attrs: dict[str, Any], spatial: Sequence[Dim]) -> list[Dim]:
    out: list[Dim] = []
    for axis, (n, k, s, d) in enumerate(zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], strict=True)):
        if n is None:
            out.append(None)
            continue
        length = cu.conv_length(attrs["padding"], n, k, s, d)
        if n < 1 or length < 1:
            raise ShapeError(
                f"expected every output spatial size >= 1. Received: spatial axis {axis} of size {n} with kernel {k}, "
                f"stride {s}, dilation {d}, padding {attrs['padding']!r} gives {length}"
            )
        out.append(length)
    return out


def _bias(attrs: dict[str, Any], weights: dict[str, tuple[int, ...]], size: Dim) -> None:
    if attrs["use_bias"]:
        _check_weight(weights, "bias", [size], "[out_channels]")


def _infer_conv(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    x = only(inputs)
    spatial, channels = _split(attrs, x)
    filters, groups = attrs["filters"], attrs["groups"]
    if filters % groups:
        raise ShapeError(f"expected filters divisible by groups. Received: filters={filters}, groups={groups}")
    if channels is not None and channels % groups:
        raise ShapeError(f"expected input channels divisible by groups={groups}. Received: input shape {list(x.shape)}")
    per_group = None if channels is None else channels // groups
    _check_weight(weights, "kernel", [*attrs["kernel_size"], per_group, filters], "[*kernel_size, in / groups, filters]")
    _bias(attrs, weights, filters)
    return [_join(attrs, x, _forward_spatial(attrs, spatial), filters)]


def _transpose_geometry(attrs: dict[str, Any], spatial: Sequence[Dim]) -> tuple[list[Dim], list[int | None]]:
    """Output spatial sizes and the cells cropped before each (None where the input size is unknown)."""
    strides, padding = attrs["strides"], attrs["padding"]
    output_padding = attrs["output_padding"] or [None] * len(strides)
    out: list[Dim] = []
    before: list[int | None] = []
    for axis, (n, k, s, d, op) in enumerate(
        zip(spatial, attrs["kernel_size"], strides, attrs["dilation_rate"], output_padding, strict=True)
    ):
        if op is not None and op >= s:
            raise ShapeError(f"expected output_padding < strides on every axis. Received: output_padding={op}, strides={s} (axis {axis})")
        if n is None:
            out.append(None)
            before.append(None)
            continue
        if n < 1:
            raise ShapeError(f"expected every input spatial size >= 1. Received: spatial axis {axis} of size {n}")
        length = cu.transpose_length(padding, n, k, s, d, op)
        out.append(length)
        before.append(cu.transpose_pad_before(padding, n, k, s, d, length))
    return out, before


def _infer_transpose(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    x = only(inputs)
    spatial, channels = _split(attrs, x)
    filters = attrs["filters"]
    _check_weight(weights, "kernel", [*attrs["kernel_size"], filters, channels], "[*kernel_size, filters, in]")
    _bias(attrs, weights, filters)
    return [_join(attrs, x, _transpose_geometry(attrs, spatial)[0], filters)]


def _infer_depthwise(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    x = only(inputs)
    spatial, channels = _split(attrs, x)
    rank, m = len(attrs["kernel_size"]), attrs["depth_multiplier"]
    channels = _channels(channels, weights, "depthwise_kernel", rank)
    _check_weight(weights, "depthwise_kernel", [*attrs["kernel_size"], channels, m], "[*kernel_size, in, depth_multiplier]")
    out_channels = None if channels is None else channels * m
    _bias(attrs, weights, out_channels)
    return [_join(attrs, x, _forward_spatial(attrs, spatial), out_channels)]


def _infer_separable(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    x = only(inputs)
    spatial, channels = _split(attrs, x)
    rank, m, filters = len(attrs["kernel_size"]), attrs["depth_multiplier"], attrs["filters"]
    channels = _channels(channels, weights, "depthwise_kernel", rank)
    _check_weight(weights, "depthwise_kernel", [*attrs["kernel_size"], channels, m], "[*kernel_size, in, depth_multiplier]")
    mid = None if channels is None else channels * m
    _check_weight(weights, "pointwise_kernel", [*([1] * rank), mid, filters], "[1, ..., in * depth_multiplier, filters]")
    _bias(attrs, weights, filters)
    return [_join(attrs, x, _forward_spatial(attrs, spatial), filters)]


# ---------------------------------------------------------------- kernels


def _prepare(
    attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray], roles: Sequence[str]
) -> tuple[np.dtype, np.ndarray, list[np.ndarray]]:
    """Channels-last input and weights in the compute dtype (weights first cast to the input dtype, per the spec)."""
    x = inputs[0]
    assert x is not None
    wide = cu.compute_dtype(x.dtype)
    ws = [weights[role].astype(x.dtype, copy=False).astype(wide, copy=False) for role in roles]
    xc = np.moveaxis(x, 1, -1) if attrs["data_format"] == "channels_first" else x
    return x.dtype, xc.astype(wide, copy=False), ws


def _finish(attrs: dict[str, Any], y: np.ndarray, weights: dict[str, np.ndarray], dtype: np.dtype) -> list[np.ndarray]:
    """Bias, back to the layer's data_format, activation, input dtype."""
    if attrs["use_bias"]:
        y += weights["bias"].astype(dtype, copy=False).astype(y.dtype, copy=False)  # in place: y is the core's fresh result
    if attrs["data_format"] == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return [np.ascontiguousarray(activations.apply_fresh(attrs["activation"], y).astype(dtype, copy=False))]


def _forward_pads(attrs: dict[str, Any], spatial: Sequence[int]) -> cu.Pads:
    return [
        cu.conv_pads(attrs["padding"], n, k, s, d)
        for n, k, s, d in zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], strict=True)
    ]


def _run_conv(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    dtype, x, (kernel,) = _prepare(attrs, inputs, weights, ["kernel"])
    _forward_spatial(attrs, x.shape[1:-1])  # raises on an empty output, as the shape rule does
    y = cu.conv(x, kernel, attrs["strides"], attrs["dilation_rate"], _forward_pads(attrs, x.shape[1:-1]), attrs["groups"])
    return _finish(attrs, y, weights, dtype)


def _run_transpose(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    dtype, x, (kernel,) = _prepare(attrs, inputs, weights, ["kernel"])
    out, before = _transpose_geometry(attrs, x.shape[1:-1])
    y = cu.conv_transpose(x, kernel, attrs["strides"], attrs["dilation_rate"], out, before)  # type: ignore[arg-type]
    return _finish(attrs, y, weights, dtype)


def _depthwise(attrs: dict[str, Any], x: np.ndarray, depthwise_kernel: np.ndarray) -> np.ndarray:
    spatial = x.shape[1:-1]
    out = _forward_spatial(attrs, spatial)
    return cu.depthwise_conv(x, depthwise_kernel, attrs["strides"], attrs["dilation_rate"], _forward_pads(attrs, spatial), out)  # type: ignore[arg-type]


def _run_depthwise(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    dtype, x, (depthwise_kernel,) = _prepare(attrs, inputs, weights, ["depthwise_kernel"])
    return _finish(attrs, _depthwise(attrs, x, depthwise_kernel), weights, dtype)


def _run_separable(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    dtype, x, (depthwise_kernel, pointwise_kernel) = _prepare(attrs, inputs, weights, ["depthwise_kernel", "pointwise_kernel"])
    mid = _depthwise(attrs, x, depthwise_kernel)
    filters = pointwise_kernel.shape[-1]
    y = mid @ pointwise_kernel.reshape(-1, filters)  # the 1x1 convolution
    return _finish(attrs, y, weights, dtype)


# ---------------------------------------------------------------- registration


class _Conv:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer_conv(attrs, inputs, weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _run_conv(attrs, inputs, weights)


class _ConvTranspose:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer_transpose(attrs, inputs, weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _run_transpose(attrs, inputs, weights)


class _DepthwiseConv:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer_depthwise(attrs, inputs, weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _run_depthwise(attrs, inputs, weights)


class _SeparableConv:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer_separable(attrs, inputs, weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return _run_separable(attrs, inputs, weights)


@register_layer("Conv1D")
class Conv1D(_Conv):
    pass


@register_layer("Conv2D")
class Conv2D(_Conv):
    pass


@register_layer("Conv3D")
class Conv3D(_Conv):
    pass


@register_layer("Conv1DTranspose")
class Conv1DTranspose(_ConvTranspose):
    pass


@register_layer("Conv2DTranspose")
class Conv2DTranspose(_ConvTranspose):
    pass


@register_layer("Conv3DTranspose")
class Conv3DTranspose(_ConvTranspose):
    pass


@register_layer("DepthwiseConv1D")
class DepthwiseConv1D(_DepthwiseConv):
    pass


@register_layer("DepthwiseConv2D")
class DepthwiseConv2D(_DepthwiseConv):
    pass


@register_layer("SeparableConv1D")
class SeparableConv1D(_SeparableConv):
    pass


@register_layer("SeparableConv2D")
class SeparableConv2D(_SeparableConv):
    pass
