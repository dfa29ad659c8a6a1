"""Convolutions: Conv{1,2,3}D, Depthwise/SeparableConv{1,2}D, Conv{1,2,3}DTranspose.

ONNX convolves channels_first: channels_last data is transposed in and out. Padding is always given
as explicit ``pads`` computed with TensorFlow's rules (kif.layers._conv_utils): "same" puts an odd
extra cell at the end, "causal" pads k_eff - 1 at the start. Kernels go from Keras layouts to ONNX's:
Conv W [out, in/groups, *K], ConvTranspose W [in, out, *K].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers import _conv_utils as cu
from kif.onnx._context import Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation, to_first, to_last


def _spatial(ctx: Ctx, x: str, attrs: dict[str, Any]) -> list[int | None]:
    shape = ctx.shape(x)
    return list(shape[2:] if attrs["data_format"] == "channels_first" else shape[1:-1])


def _pads(ctx: Ctx, attrs: dict[str, Any], spatial: list[int | None]) -> list[int]:
    before, after = [], []
    for n, k, s, d in zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], strict=True):
        if n is None and attrs["padding"] == "same" and s > 1:
            raise ctx.refuse("padding='same' with a stride > 1 needs static spatial sizes; declare them in the graph inputs")
        lo, hi = cu.conv_pads(attrs["padding"], 1 if n is None else n, k, s, d)  # stride 1: pads do not depend on n
        before.append(lo)
        after.append(hi)
    return before + after


def _wrap(ctx: Ctx, attrs: dict[str, Any], x: str, body: Any) -> str:
    """Transpose channels_last data to channels_first around ``body`` and apply the activation in the layer's layout."""
    last = attrs["data_format"] != "channels_first"
    rank = ctx.rank(x)
    y = body(to_first(ctx, x, rank) if last else x)
    if last:
        y = to_last(ctx, y, rank)
    return activation(ctx, attrs["activation"], x, y)


def _bias(ctx: Ctx, attrs: dict[str, Any], dt: np.dtype) -> list[str]:
    return [ctx.const(ctx.weight("bias", dt), hint="bias")] if attrs["use_bias"] else []


@emits("Conv1D", "Conv2D", "Conv3D")
def conv(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    dt, r = ctx.np_dtype(x), len(attrs["kernel_size"])
    pads = _pads(ctx, attrs, _spatial(ctx, x, attrs))
    w = ctx.weight("kernel", dt).transpose(r + 1, r, *range(r))  # [*K, in/g, out] → [out, in/g, *K]
    ins = [ctx.const(w, hint="kernel"), *_bias(ctx, attrs, dt)]
    geometry = {"strides": list(attrs["strides"]), "dilations": list(attrs["dilation_rate"]), "pads": pads}
    return [_wrap(ctx, attrs, x, lambda t: ctx.node("Conv", [t, *ins], group=int(attrs["groups"]), **geometry))]


def _depthwise_weight(kernel: np.ndarray) -> np.ndarray:
    """[*K, C, m] → [C*m, 1, *K]; output channel c*m + j, as the KIF kernel orders them."""
    r = kernel.ndim - 2
    flat = kernel.reshape(*kernel.shape[:r], -1)  # [*K, C*m]
    return np.moveaxis(flat, -1, 0)[:, None]


@emits("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
def depthwise(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    dt = ctx.np_dtype(x)
    kernel = ctx.weight("depthwise_kernel", dt)
    channels = kernel.shape[-2]
    geometry = {"strides": list(attrs["strides"]), "dilations": list(attrs["dilation_rate"])}
    pads = _pads(ctx, attrs, _spatial(ctx, x, attrs))
    separable = ctx.has_weight("pointwise_kernel")
    depth_ins = [ctx.const(_depthwise_weight(kernel), hint="depthwise_kernel")]
    if not separable:
        depth_ins += _bias(ctx, attrs, dt)

    def body(t: str) -> str:
        y = ctx.node("Conv", [t, *depth_ins], group=int(channels), pads=pads, **geometry)
        if separable:
            pw = ctx.weight("pointwise_kernel", dt)  # [1.., C*m, F] → [F, C*m, 1..]
            r = pw.ndim - 2
            y = ctx.node("Conv", [y, ctx.const(pw.transpose(r + 1, r, *range(r)), hint="pointwise_kernel"), *_bias(ctx, attrs, dt)])
        return y

    return [_wrap(ctx, attrs, x, body)]


@emits("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def conv_transpose(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    dt, r = ctx.np_dtype(x), len(attrs["kernel_size"])
    output_padding = attrs["output_padding"] or [None] * r
    begins, ends, extra = [], [], []
    for n, k, s, d, op in zip(
        _spatial(ctx, x, attrs), attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], output_padding, strict=True
    ):
        if n is None:
            raise ctx.refuse("transposed convolutions need static spatial sizes; declare them in the graph inputs")
        out = cu.transpose_length(attrs["padding"], n, k, s, d, op)
        before = cu.transpose_pad_before(attrs["padding"], n, k, s, d, out)
        # ONNX: out = (n-1)*s + k_eff + output_padding - before - after; cells past the full result are zeros (+ bias).
        full = (n - 1) * s + cu.effective(k, d)
        after = full - before - out
        begins.append(before)
        ends.append(max(after, 0))
        extra.append(max(-after, 0))
    w = ctx.weight("kernel", dt).transpose(r + 1, r, *range(r))  # [*K, out, in] → [in, out, *K]
    ins = [ctx.const(w, hint="kernel"), *_bias(ctx, attrs, dt)]
    geometry = {
        "strides": list(attrs["strides"]),
        "dilations": list(attrs["dilation_rate"]),
        "pads": begins + ends,
        "output_padding": extra,
    }
    return [_wrap(ctx, attrs, x, lambda t: ctx.node("ConvTranspose", [t, *ins], **geometry))]
