"""ContrastLimitedAdaptiveHistogramEqualization (spec/layers/ContrastLimitedAdaptiveHistogramEqualization.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._spatial import is_float
from kif.layers.registry import ShapeError, TensorType, register_layer

F = np.float32


def _check(attrs: dict[str, Any], dtype: str | np.dtype, shape: tuple[int | None, ...]) -> None:
    if len(shape) != 4:
        raise ShapeError(f"expected input of rank 4. Received: shape {list(shape)}")
    if not is_float(dtype):
        raise ShapeError(f"expected a floating input. Received: {dtype}")
    lo, hi = (float(v) for v in attrs["value_range"])
    if lo == hi or not np.isfinite([lo, hi]).all():
        raise ShapeError(f"expected value_range [lo, hi] with finite lo != hi. Received: {list(attrs['value_range'])}")
    if any(int(g) < 1 for g in attrs["tile_grid_size"]):
        raise ShapeError(f"expected tile_grid_size of positive integers. Received: {list(attrs['tile_grid_size'])}")
    spatial = shape[2:] if attrs["data_format"] == "channels_first" else shape[1:3]
    for size, grid in zip(spatial, attrs["tile_grid_size"], strict=True):
        if size is not None and -(-size // int(grid)) * int(grid) - size > size:  # symmetric padding reflects at most once
            raise ShapeError(f"expected each of height and width to be at least its tile padding. Received: shape {list(shape)}")


def _to_range(x: np.ndarray, src: tuple[float, float], dst: tuple[float, float]) -> np.ndarray:
    """Keras's _transform_value_range in float32, skipped when the ranges are equal."""
    if src == dst:
        return x
    x = x.astype(F)
    return (x - F(src[0])) / (F(src[1]) - F(src[0])) * (F(dst[1]) - F(dst[0])) + F(dst[0])


def _axis_weights(size: int, tile: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = (np.arange(size, dtype=F) - F(tile / 2.0)) / F(tile) + F(1.0)
    i0 = np.floor(g)
    w = g - i0
    return np.clip(i0, 0, grid + 1).astype(np.intp), np.clip(i0 + 1, 0, grid + 1).astype(np.intp), w


def clahe(u: np.ndarray, grid_h: int, grid_w: int, clip_limit: float) -> np.ndarray:
    """Steps 2-6 of the spec on channels-last images already in [0, 255] (float32 result)."""
    n, h, w, c = u.shape
    th, tw = -(-h // grid_h), -(-w // grid_w)
    p = np.pad(u, [(0, 0), (0, th * grid_h - h), (0, tw * grid_w - w), (0, 0)], mode="symmetric")
    with np.errstate(invalid="ignore"):
        bins = np.clip(np.trunc(p).astype(np.int64), 0, 255)
    tiles = bins.reshape(n, grid_h, th, grid_w, tw, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, grid_h, grid_w, c, th * tw)
    groups = tiles.reshape(-1, th * tw) + (np.arange(n * grid_h * grid_w * c) * 256)[:, None]
    hist = np.bincount(groups.ravel(), minlength=groups.shape[0] * 256).astype(F).reshape(n, grid_h, grid_w, c, 256)
    if clip_limit > 0:
        limit = F(clip_limit * (th * tw) / 256.0)
        clipped = np.clip(hist, F(0), limit)
        hist = clipped + np.sum(hist - clipped, axis=-1, keepdims=True, dtype=F) / F(256.0)
    cdf = np.cumsum(hist, axis=-1, dtype=F)
    cdf_min = np.min(cdf, axis=-1, keepdims=True)
    den = F(th * tw) - cdf_min
    den = np.where(den == 0, F(1), den)
    lut = np.clip((cdf - cdf_min) * F(255.0) / den, F(0), F(255))
    lut = np.pad(lut, [(0, 0), (1, 1), (1, 1), (0, 0), (0, 0)], mode="edge")
    y0, y1, wy = _axis_weights(th * grid_h, th, grid_h)
    x0, x1, wx = _axis_weights(tw * grid_w, tw, grid_w)
    b = np.arange(n)[:, None, None, None]
    ch = np.arange(c)[None, None, None, :]
    wy, wx = wy[None, :, None, None], wx[None, None, :, None]
    y0, y1, x0, x1 = y0[None, :, None, None], y1[None, :, None, None], x0[None, None, :, None], x1[None, None, :, None]
    nw, ne = lut[b, y0, x0, ch, bins], lut[b, y0, x1, ch, bins]
    sw, se = lut[b, y1, x0, ch, bins], lut[b, y1, x1, ch, bins]
    top = nw * (F(1.0) - wx) + ne * wx
    bot = sw * (F(1.0) - wx) + se * wx
    return (top * (F(1.0) - wy) + bot * wy)[:, :h, :w, :].astype(F, copy=False)


def run_clahe(x: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    first = attrs["data_format"] == "channels_first"
    img = np.transpose(x, (0, 2, 3, 1)) if first else x
    vr = (float(attrs["value_range"][0]), float(attrs["value_range"][1]))
    gh, gw = (int(g) for g in attrs["tile_grid_size"])
    with np.errstate(all="ignore"):
        u = _to_range(img, vr, (0.0, 255.0)).astype(F, copy=False)
        y = _to_range(clahe(u, gh, gw, float(attrs["clip_limit"])), (0.0, 255.0), vr).astype(x.dtype)
    return np.transpose(y, (0, 3, 1, 2)) if first else y


@register_layer("ContrastLimitedAdaptiveHistogramEqualization")
class ContrastLimitedAdaptiveHistogramEqualization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        _check(attrs, x.dtype, tuple(x.shape))
        return [TensorType(x.dtype, tuple(x.shape))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        _check(attrs, x.dtype, x.shape)
        return [run_clahe(x, attrs)]
