"""Resizing, CenterCrop and interpolating UpSampling2D: the KIF resize (spec/layers/Resizing.md) written as constant ops.

Input sizes must be static: nearest becomes a Gather per axis with the reference's integer indices,
every other interpolation (bilinear, bicubic, lanczos3/5, area, with or without antialiasing) an Einsum
per axis with the reference's [out, in] weight matrices (kif.layers._resize.axis_weights), so ONNX
Resize's coordinate modes and cubic coefficient never come into play.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._resize import aspect_crop_box, axis_weights, nearest_index
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import to_first, to_last

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _hw(ctx: Ctx, x: str, fmt: str) -> tuple[int, int]:
    shape = ctx.shape(x)
    h, w = (shape[2], shape[3]) if fmt == "channels_first" else (shape[1], shape[2])
    if h is None or w is None:
        raise ctx.refuse("needs static height and width; declare them in the graph inputs")
    return h, w


def resize(ctx: Ctx, img: str, dtype: str, size: tuple[int, int], target: tuple[int, int], interpolation: str, antialias: bool) -> str:
    """Resize channels_last ``img`` [N, H, W, C] of KIF dtype ``dtype``; the result has that dtype."""
    (h, w), (height, width) = size, target
    if interpolation == "nearest":
        y = ctx.node("Gather", [img, ctx.const(nearest_index(h, height), hint="rows")], axis=1)
        return ctx.node("Gather", [y, ctx.const(nearest_index(w, width), hint="cols")], axis=2)
    is_float = dtype in _FLOATS
    ct = np.dtype(np.float32) if dtype in ("float16", "bfloat16", "float32") else np.dtype(np.float64)
    xf = img if dtype in ("float32", "float64") else ctx.node("Cast", [img], to=ONNX_DTYPES[ct.name])
    rows, cols = (axis_weights(n, m, interpolation, antialias).astype(ct) for n, m in ((h, height), (w, width)))
    y = ctx.node("Einsum", [ctx.const(rows, hint="rows"), xf], equation="oh,nhwc->nowc")
    y = ctx.node("Einsum", [ctx.const(cols, hint="cols"), y], equation="pw,nowc->nopc")
    if is_float:
        return y if ct.name == dtype else ctx.node("Cast", [y], to=ONNX_DTYPES[dtype])
    if dtype == "bool":
        return ctx.node("Not", [ctx.node("Equal", [y, ctx.const(np.zeros((), ct))])])
    info = np.iinfo(np.dtype(dtype))  # integers: round half to even, saturate (kif.layers._resize.to_dtype)
    y = ctx.node("Clip", [ctx.node("Round", [y]), ctx.const(np.asarray(info.min, ct)), ctx.const(np.asarray(info.max, ct))])
    return ctx.node("Cast", [y], to=ONNX_DTYPES[dtype])


def _slice_hw(ctx: Ctx, img: str, top: int, left: int, height: int, width: int) -> str:
    return ctx.node("Slice", [img, ctx.ints([top, left]), ctx.ints([top + height, left + width]), ctx.ints([1, 2])])


def _in_last(ctx: Ctx, x: str, fmt: str, body: Any) -> str:
    if fmt != "channels_first":
        return str(body(x))
    return to_first(ctx, body(to_last(ctx, x, 4)), 4)


@emits("Resizing")
def resizing(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    fmt, dtype = attrs["data_format"], ctx.type_of(x).dtype
    h, w = _hw(ctx, x, fmt)
    height, width = attrs["height"], attrs["width"]

    def body(img: str) -> str:
        size = (h, w)
        if attrs["crop_to_aspect_ratio"]:
            top, left, ch, cw = aspect_crop_box(h, w, height, width)
            img, size = _slice_hw(ctx, img, top, left, ch, cw), (ch, cw)
        elif attrs["pad_to_aspect_ratio"]:
            # Keras pads floor((target - size) / 2) on both sides, so an odd difference loses one row or column.
            ph = (max(h, (w * height) // width) - h) // 2
            pw = (max(w, (h * width) // height) - w) // 2
            fill = ctx.const(np.asarray(attrs["fill_value"], dtype=ctx.np_dtype(x)))
            img, size = ctx.node("Pad", [img, ctx.ints([0, ph, pw, 0, 0, ph, pw, 0]), fill], mode="constant"), (h + 2 * ph, w + 2 * pw)
        return resize(ctx, img, dtype, size, (height, width), attrs["interpolation"], attrs["antialias"])

    return [_in_last(ctx, x, fmt, body)]


@emits("CenterCrop")
def center_crop(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    fmt, dtype = attrs["data_format"], ctx.type_of(x).dtype
    h, w = _hw(ctx, x, fmt)
    height, width = attrs["height"], attrs["width"]
    out_dtype = ctx.out_types[0].dtype

    def body(img: str) -> str:
        if dtype != out_dtype:  # non-float images are cropped in float32
            img = ctx.node("Cast", [img], to=ONNX_DTYPES[out_dtype])
        if h >= height and w >= width:
            return _slice_hw(ctx, img, (h - height) // 2, (w - width) // 2, height, width)
        top, left, ch, cw = aspect_crop_box(h, w, height, width)  # smaller than the target: Keras smart_resize
        return resize(ctx, _slice_hw(ctx, img, top, left, ch, cw), out_dtype, (ch, cw), (height, width), "bilinear", False)

    return [_in_last(ctx, x, fmt, body)]


def resized_upsampling(ctx: Ctx, attrs: dict[str, Any], x: str) -> str:
    """UpSampling2D with an interpolation other than nearest: the KIF resize to (h * size[0], w * size[1])."""
    fmt, dtype = attrs["data_format"], ctx.type_of(x).dtype
    h, w = _hw(ctx, x, fmt)
    sh, sw = attrs["size"]
    return _in_last(ctx, x, fmt, lambda img: resize(ctx, img, dtype, (h, w), (h * sh, w * sw), attrs["interpolation"], False))
