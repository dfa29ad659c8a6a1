"""Converters for layers that move data without arithmetic (reshape, crop, pad, repeat) and for resizing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers._resize import aspect_crop_box, axis_weights, nearest_index
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, from_last, pad_spec, to_last

W = dict[str, np.ndarray]


@converter("Flatten")
def _flatten(layer: Layer, w: W) -> nn.Module:
    first = layer.attributes["data_format"] == "channels_first"
    return Fn(lambda m, x: (x.movedim(1, -1) if first and x.dim() > 2 else x).reshape(x.shape[0], -1))


@converter("Reshape")
def _reshape(layer: Layer, w: W) -> nn.Module:
    target = list(layer.attributes["target_shape"])
    return Fn(lambda m, x: x.reshape(x.shape[0], *target))


@converter("Permute")
def _permute(layer: Layer, w: W) -> nn.Module:
    dims = [0, *layer.attributes["dims"]]
    return Fn(lambda m, x: x.permute(dims))


@converter("RepeatVector")
def _repeat_vector(layer: Layer, w: W) -> nn.Module:
    n = layer.attributes["n"]
    return Fn(lambda m, x: x.unsqueeze(1).expand(x.shape[0], n, x.shape[1]))


def _pairs(value: list, dims: int) -> list[tuple[int, int]]:
    """(before, after) per spatial axis; the 1-D layers hold one flat pair."""
    return [tuple(value)] if dims == 1 and value and isinstance(value[0], int) else [tuple(p) for p in value]  # type: ignore[misc]


def _cropping(dims: int):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        fmt = layer.attributes.get("data_format", "channels_last")
        pairs = _pairs(layer.attributes["cropping"], dims)

        def crop(m: Fn, x: Tensor) -> Tensor:
            xl = to_last(x, fmt)
            index = [slice(a, xl.shape[1 + i] - b) for i, (a, b) in enumerate(pairs)]
            return from_last(xl[(slice(None), *index)], fmt)

        return Fn(crop)

    return convert


def _zero_padding(dims: int):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        fmt = layer.attributes["data_format"]
        spec = pad_spec(_pairs(layer.attributes["padding"], dims))
        return Fn(lambda m, x: from_last(F.pad(to_last(x, fmt).movedim(-1, 1), spec).movedim(1, -1), fmt))

    return convert


def _upsampling(dims: int):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        a = layer.attributes
        fmt = a.get("data_format", "channels_last")
        sizes = [a["size"]] if isinstance(a["size"], int) else list(a["size"])
        interpolation = a.get("interpolation", "nearest")
        if interpolation != "nearest":  # UpSampling2D: Resizing's interpolation to (H * sh, W * sw)

            def resized(m: Fn, x: Tensor) -> Tensor:
                y = _resize(to_last(x, fmt), x_h(x, fmt) * sizes[0], x_w(x, fmt) * sizes[1], interpolation)
                return from_last(_back(y, x), fmt)

            return Fn(resized)

        def upsample(m: Fn, x: Tensor) -> Tensor:
            y = to_last(x, fmt)
            for i, f in enumerate(sizes):
                y = torch.repeat_interleave(y, f, dim=1 + i)
            return from_last(y, fmt)

        return Fn(upsample)

    return convert


def x_h(x: Tensor, fmt: str) -> int:
    return int(x.shape[2] if fmt == "channels_first" else x.shape[1])


def x_w(x: Tensor, fmt: str) -> int:
    return int(x.shape[3] if fmt == "channels_first" else x.shape[2])


for _n in (1, 2, 3):
    converter(f"Cropping{_n}D")(_cropping(_n))
    converter(f"ZeroPadding{_n}D")(_zero_padding(_n))
    converter(f"UpSampling{_n}D")(_upsampling(_n))


def _resize(x: Tensor, height: int, width: int, interpolation: str, antialias: bool = False) -> Tensor:
    """Resize channels_last [N, H, W, C] by kif.layers._resize's rules; the interpolation matrices depend only on sizes."""
    h, w = int(x.shape[1]), int(x.shape[2])
    if interpolation == "nearest":
        return x[:, torch.from_numpy(nearest_index(h, height))][:, :, torch.from_numpy(nearest_index(w, width))]
    dtype = x.dtype if x.is_floating_point() else torch.float64
    wh = torch.from_numpy(axis_weights(h, height, interpolation, antialias)).to(dtype)
    ww = torch.from_numpy(axis_weights(w, width, interpolation, antialias)).to(dtype)
    y = torch.einsum("oh,nhwc->nowc", wh, x.to(dtype))
    return torch.einsum("pw,nowc->nopc", ww, y)


def _back(y: Tensor, like: Tensor) -> Tensor:
    """Integer images come back rounded half to even and saturated, bool as != 0 (the reference's to_dtype)."""
    if like.is_floating_point() or y.dtype == like.dtype:
        return y.to(like.dtype)
    if like.dtype == torch.bool:
        return y != 0
    info = torch.iinfo(like.dtype)
    return torch.clamp(torch.round(y), info.min, info.max).to(like.dtype)


@converter("Resizing")
def _resizing(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    fmt, height, width = a["data_format"], a["height"], a["width"]

    def resizing(m: Fn, x: Tensor) -> Tensor:
        img = to_last(x, fmt) if x.is_floating_point() else to_last(x, fmt).to(torch.float64)
        h, wd = int(img.shape[1]), int(img.shape[2])
        if a["crop_to_aspect_ratio"]:
            top, left, ch, cw = aspect_crop_box(h, wd, height, width)
            img = img[:, top : top + ch, left : left + cw]
        elif a["pad_to_aspect_ratio"]:
            ph = (max(h, (wd * height) // width) - h) // 2
            pw = (max(wd, (h * width) // height) - wd) // 2
            img = F.pad(img.movedim(-1, 1), [pw, pw, ph, ph], value=a["fill_value"]).movedim(1, -1)
        return from_last(_back(_resize(img, height, width, a["interpolation"], a["antialias"]), x), fmt)

    return Fn(resizing)


@converter("CenterCrop")
def _center_crop(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    fmt, height, width = a["data_format"], a["height"], a["width"]

    def center_crop(m: Fn, x: Tensor) -> Tensor:
        img = to_last(x, fmt) if x.is_floating_point() else to_last(x, fmt).to(torch.float32)
        h, wd = int(img.shape[1]), int(img.shape[2])
        if h >= height and wd >= width:
            top, left = (h - height) // 2, (wd - width) // 2
            y = img[:, top : top + height, left : left + width]
        else:  # smaller than the target on some axis: crop to the aspect ratio, then resize (Keras smart_resize)
            top, left, ch, cw = aspect_crop_box(h, wd, height, width)
            y = _resize(img[:, top : top + ch, left : left + cw], height, width, "bilinear")
        return from_last(y, fmt)

    return Fn(center_crop)
