"""Private image resizing shared by UpSampling2D, Resizing and CenterCrop (spec/layers/Resizing.md).

Half-pixel centers, as tf.image.resize. Every method but nearest is separable and linear: each
spatial axis is a [out, in] weight matrix (bilinear here, the others in _resize_filters);
antialiasing widens the filter by the downscale factor. Nearest is an exact gather with integer
index arithmetic.
"""

from __future__ import annotations

import numpy as np

from kif.layers import _resize_filters


def nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Source index per output cell: min(floor((o + 0.5) * n_in / n_out), n_in - 1), in exact integers."""
    o = np.arange(n_out, dtype=np.int64)
    return np.minimum(((2 * o + 1) * n_in) // (2 * n_out), n_in - 1)


def bilinear_weights(n_in: int, n_out: int, antialias: bool = False) -> np.ndarray:
    """The [n_out, n_in] float64 interpolation matrix of one axis."""
    scale = n_in / n_out
    centers = (np.arange(n_out) + 0.5) * scale
    if antialias and scale > 1.0:
        # Triangle filter stretched by the scale, renormalised over the cells inside the image.
        j = np.arange(n_in) + 0.5
        w = np.maximum(0.0, 1.0 - np.abs((j[None, :] - centers[:, None]) / scale))
        return w / w.sum(axis=1, keepdims=True)
    src = np.maximum(centers - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    t = src - lo
    w = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(w, (rows, lo), 1.0 - t)
    np.add.at(w, (rows, hi), t)
    return w


def axis_weights(n_in: int, n_out: int, interpolation: str, antialias: bool = False) -> np.ndarray:
    """The [n_out, n_in] float64 matrix of one axis for every interpolation but nearest."""
    if interpolation == "bilinear":
        return bilinear_weights(n_in, n_out, antialias)
    if interpolation == "area":  # tf.image.resize ignores antialias for area
        return _resize_filters.area_weights(n_in, n_out)
    if interpolation == "bicubic" and not antialias:
        return _resize_filters.bicubic_table(n_in, n_out)
    return _resize_filters.scale_and_translate(n_in, n_out, interpolation, antialias)


def resize(x: np.ndarray, height: int, width: int, interpolation: str, antialias: bool = False) -> np.ndarray:
    """Resize a channels_last batch [N, H, W, C]; float inputs keep their dtype, others come back as float64."""
    h, w = x.shape[1], x.shape[2]
    if interpolation == "nearest":
        return x[:, nearest_index(h, height)][:, :, nearest_index(w, width)]
    wh = axis_weights(h, height, interpolation, antialias)
    ww = axis_weights(w, width, interpolation, antialias)
    y = np.einsum("oh,nhwc->nowc", wh, x.astype(np.float64), optimize=True)
    y = np.einsum("pw,nowc->nopc", ww, y, optimize=True)
    return y.astype(x.dtype) if x.dtype.name in ("float16", "float32", "float64", "bfloat16") else y


def aspect_crop_box(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) of the centered box with the target's aspect ratio."""
    crop_h = max(min(h, (w * height) // width), 1)
    crop_w = max(min(w, (h * width) // height), 1)
    return (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w


def to_dtype(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast a resize result back: floats directly, integers rounded half to even and saturated."""
    if dtype.name in ("float16", "float32", "float64", "bfloat16") or y.dtype == dtype:
        return y.astype(dtype, copy=False)
    if dtype == np.bool_:
        return y != 0
    info = np.iinfo(dtype)
    return np.clip(np.rint(y), info.min, info.max).astype(dtype)
