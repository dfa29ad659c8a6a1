"""Preprocessing layers: Rescaling, Normalization, CenterCrop, Resizing (spec/layers/<Type>.md).

Floating inputs keep their dtype; integer and bool inputs become float32 (Keras's default
compute dtype), except Resizing, which returns integer images as integers (rounded half to
even and saturated), as Keras 3 does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kif.layers._common import norm_axis, only
from kif.layers._resize import aspect_crop_box, resize, to_dtype
from kif.layers._spatial import float_dtype, from_last, is_float, join, spatial_input, split, to_last
from kif.layers.registry import ShapeError, TensorType, register_layer

NORMALIZATION_EPSILON = 1e-7  # Keras backend.epsilon(): the smallest standard deviation divided by


def _check_broadcast(name: str, value: Any, shape: tuple[int | None, ...]) -> None:
    """A scale/offset array must broadcast against the per-sample shape without growing it."""
    pshape = np.shape(value)
    sample = shape[1:]
    if len(pshape) > len(sample):
        raise ShapeError(f"expected {name} of rank <= {len(sample)}. Received: {name} shape {list(pshape)}, input shape {list(shape)}")
    for p, d in zip(reversed(pshape), reversed(sample), strict=False):  # right-aligned; pshape may be shorter
        if p != 1 and d is not None and p != d:
            raise ShapeError(
                f"expected {name} to broadcast against the input. Received: {name} shape {list(pshape)}, input shape {list(shape)}"
            )


@register_layer("Rescaling")
class Rescaling:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        for name in ("scale", "offset"):
            _check_broadcast(name, attrs[name], x.shape)
        return [TensorType(float_dtype(x.dtype), x.shape)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        dtype = np.dtype(x.dtype) if is_float(x.dtype) else np.dtype(np.float32)
        scale = np.asarray(attrs["scale"], dtype=np.float64).astype(dtype)
        offset = np.asarray(attrs["offset"], dtype=np.float64).astype(dtype)
        return [(x.astype(dtype, copy=False) * scale + offset).astype(dtype, copy=False)]


def _kept_axes(attrs: dict[str, Any], rank: int) -> list[int]:
    kept = sorted({norm_axis(a, rank) for a in attrs["axis"]})
    if len(kept) != len(attrs["axis"]):
        raise ShapeError(f"expected distinct axes. Received: axis={attrs['axis']}")
    return kept


@register_layer("Normalization")
class Normalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        kept = _kept_axes(attrs, len(x.shape))
        dims = [x.shape[a] for a in kept]
        size = None if any(d is None for d in dims) else math.prod(dims)  # type: ignore[arg-type]
        for role in ("mean", "variance"):
            got = weights.get(role)
            if got is not None and size is not None and tuple(got) != (size,):
                raise ShapeError(f"expected {role} of shape [{size}] (the kept axes {kept} flattened). Received: {list(got)}")
        return [TensorType(float_dtype(x.dtype), x.shape)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        dtype = np.dtype(x.dtype) if is_float(x.dtype) else np.dtype(np.float32)
        kept = _kept_axes(attrs, x.ndim)
        shape = [x.shape[d] if d in kept else 1 for d in range(x.ndim)]
        mean = np.asarray(weights["mean"]).astype(dtype).reshape(shape)
        std = np.maximum(np.sqrt(np.asarray(weights["variance"]).astype(dtype).reshape(shape)), np.asarray(NORMALIZATION_EPSILON, dtype))
        xf = x.astype(dtype, copy=False)
        y = mean + xf * std if attrs["invert"] else (xf - mean) / std
        return [y.astype(dtype, copy=False)]


def _image(inputs: list[TensorType | None], attrs: dict[str, Any]) -> tuple[TensorType, int | None, int | None]:
    x = spatial_input(inputs, 2)
    batch, _, channels = split(x.shape, attrs["data_format"])
    return x, batch, channels


@register_layer("CenterCrop")
class CenterCrop:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x, batch, channels = _image(inputs, attrs)
        fmt = attrs["data_format"]
        return [TensorType(float_dtype(x.dtype), join(batch, [attrs["height"], attrs["width"]], channels, fmt))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs["data_format"]
        dtype = np.dtype(x.dtype) if is_float(x.dtype) else np.dtype(np.float32)
        img = to_last(x, fmt).astype(dtype, copy=False)
        height, width = attrs["height"], attrs["width"]
        h, w = img.shape[1], img.shape[2]
        if h >= height and w >= width:
            top, left = (h - height) // 2, (w - width) // 2
            y = img[:, top : top + height, left : left + width]
        else:  # smaller than the target on some axis: crop to the aspect ratio, then resize (Keras smart_resize)
            top, left, ch, cw = aspect_crop_box(h, w, height, width)
            y = resize(img[:, top : top + ch, left : left + cw], height, width, "bilinear")
        return [np.ascontiguousarray(from_last(y, fmt))]


@register_layer("Resizing")
class Resizing:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x, batch, channels = _image(inputs, attrs)
        if attrs["crop_to_aspect_ratio"] and attrs["pad_to_aspect_ratio"]:
            raise ShapeError("expected at most one of crop_to_aspect_ratio and pad_to_aspect_ratio. Received: both true")
        if x.dtype == "bool":
            raise ShapeError("expected a numeric input. Received: bool")
        return [TensorType(x.dtype, join(batch, [attrs["height"], attrs["width"]], channels, attrs["data_format"]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs["data_format"]
        height, width = attrs["height"], attrs["width"]
        # Integer images are resized in floating point, so padding with a fractional fill_value is exact until the final rounding.
        img = to_last(x, fmt) if is_float(x.dtype) else to_last(x, fmt).astype(np.float64)
        h, w = img.shape[1], img.shape[2]
        if attrs["crop_to_aspect_ratio"]:
            top, left, ch, cw = aspect_crop_box(h, w, height, width)
            img = img[:, top : top + ch, left : left + cw]
        elif attrs["pad_to_aspect_ratio"]:
            # Keras pads floor((target - size) / 2) on both sides, so an odd difference loses one row or column.
            ph = (max(h, (w * height) // width) - h) // 2
            pw = (max(w, (h * width) // height) - w) // 2
            img = np.pad(img, [(0, 0), (ph, ph), (pw, pw), (0, 0)], constant_values=attrs["fill_value"])
        y = resize(img, height, width, attrs["interpolation"], attrs["antialias"])
        return [np.ascontiguousarray(from_last(to_dtype(y, x.dtype), fmt))]
