"""Pooling: Max/AveragePooling{1,2,3}D and Global{Max,Average}Pooling{1,2,3}D (spec/layers/<Type>.md).

Windowed pooling reads windows through a strided view (no copy). padding="same" pads
TensorFlow's way (extra cell at the end); padded cells never take part: max ignores them
and average divides by the number of real cells in the window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kif.layers._spatial import from_last, is_float, join, spatial_input, split, to_last
from kif.layers.registry import ShapeError, TensorType, register_layer

_TAP_LOOP_MAX = 256  # up to this many taps a per-tap loop beats a reduction over strided tap axes


def pool_geometry(n: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) of one spatial axis."""
    if padding == "valid":
        if n < k:
            raise ShapeError(f"expected each spatial dimension >= pool_size with padding='valid'. Received: dimension {n}, pool_size {k}")
        return (n - k) // s + 1, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def clip_windows(
    spatial: list[int], pool_size: list[int], strides: list[int], geometry: list[tuple[int, int, int]]
) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Drop the window taps that fall on padding for every output: padded cells never take part, so the result is
    unchanged, and the work is bounded by the input rather than by a file-controlled window (a 10^6 window over 4 cells).
    """
    sizes, clipped = [], []
    for n, k, s, (out, lo, hi) in zip(spatial, pool_size, strides, geometry, strict=True):
        first, last = max(0, lo - (out - 1) * s), min(k, lo + n)  # taps that reach a real cell for some output
        if out > 0 and last - first < k:
            k, lo = last - first, lo - first
            hi = (out - 1) * s + k - n - lo
        sizes.append(k)
        clipped.append((out, lo, hi))
    return sizes, clipped


def _strides(attrs: dict[str, Any]) -> list[int]:
    strides = attrs["strides"]
    return list(attrs["pool_size"] if strides is None else strides)


def _check_lengths(attrs: dict[str, Any], n: int) -> None:
    for key in ("pool_size", "strides"):
        if attrs[key] is not None and len(attrs[key]) != n:
            raise ShapeError(f"expected {key} of length {n}. Received: {key}={attrs[key]}")


def _check_dtype(x: TensorType, mode: str) -> None:
    if mode == "average" and not is_float(x.dtype):
        raise ShapeError(f"expected a floating input for average pooling. Received: {x.dtype}")


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind in "fV" or dtype.name == "bfloat16" else np.iinfo(dtype).min


def pool(x: np.ndarray, pool_size: list[int], strides: list[int], padding: str, mode: str) -> np.ndarray:
    """Pool a channels_last array [N, *spatial, C]."""
    n = len(pool_size)
    geometry = [pool_geometry(x.shape[1 + i], pool_size[i], strides[i], padding) for i in range(n)]
    pool_size, geometry = clip_windows(list(x.shape[1 : n + 1]), pool_size, strides, geometry)
    pads = [(0, 0), *[(lo, hi) for _, lo, hi in geometry], (0, 0)]
    fill = _lowest(x.dtype) if mode == "max" else 0
    xp = np.pad(x, pads, constant_values=fill) if any(lo or hi for _, lo, hi in geometry) else x
    if mode == "max" and math.prod(pool_size) <= _TAP_LOOP_MAX:
        # One strided maximum per window tap (a loop over taps, not pixels): same values as reducing the
        # window view, several times faster than NumPy's reduction over the trailing strided tap axes.
        y = None
        for tap in np.ndindex(*pool_size):
            view = xp[
                (slice(None), *[slice(t, t + (out - 1) * s + 1, s) for t, (out, _, _), s in zip(tap, geometry, strides, strict=True)])
            ]
            y = view.copy() if y is None else np.maximum(y, view, out=y)
        return y
    windows = sliding_window_view(xp, tuple(pool_size), axis=tuple(range(1, n + 1)))  # [N, *full, C, *k]
    windows = windows[(slice(None), *[slice(0, out * s, s) for (out, _, _), s in zip(geometry, strides, strict=True)])]
    taps = tuple(range(-n, 0))
    if mode == "max":  # many taps: one reduction, not one Python-level pass per tap
        return windows.max(axis=taps)
    acc = np.promote_types(x.dtype, np.float32) if x.dtype.name != "bfloat16" else np.dtype(np.float32)
    sums = windows.sum(axis=taps, dtype=acc)
    count = np.ones((), dtype=acc)
    for i, (out, lo, hi) in enumerate(geometry):
        # Real cells per window along axis i: a 1-D window sum of ones over the padded axis.
        ones = np.pad(np.ones(x.shape[1 + i], dtype=acc), (lo, hi))
        per_axis = sliding_window_view(ones, pool_size[i])[: out * strides[i] : strides[i]].sum(-1)
        count = np.multiply.outer(count, per_axis)
    return (sums / count[None, ..., None]).astype(x.dtype)


class _Pooling:
    dims = 0
    mode = "max"

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        _check_dtype(x, cls.mode)
        _check_lengths(attrs, cls.dims)
        batch, spatial, channels = split(x.shape, attrs["data_format"])
        strides = _strides(attrs)
        out = [
            None if d is None else pool_geometry(d, k, s, attrs["padding"])[0]
            for d, k, s in zip(spatial, attrs["pool_size"], strides, strict=True)
        ]
        return [TensorType(x.dtype, join(batch, out, channels, attrs["data_format"]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs["data_format"]
        y = pool(to_last(x, fmt), list(attrs["pool_size"]), _strides(attrs), attrs["padding"], cls.mode)
        return [np.ascontiguousarray(from_last(y, fmt))]


@register_layer("MaxPooling1D")
class MaxPooling1D(_Pooling):
    dims, mode = 1, "max"


@register_layer("MaxPooling2D")
class MaxPooling2D(_Pooling):
    dims, mode = 2, "max"


@register_layer("MaxPooling3D")
class MaxPooling3D(_Pooling):
    dims, mode = 3, "max"


@register_layer("AveragePooling1D")
class AveragePooling1D(_Pooling):
    dims, mode = 1, "average"


@register_layer("AveragePooling2D")
class AveragePooling2D(_Pooling):
    dims, mode = 2, "average"


@register_layer("AveragePooling3D")
class AveragePooling3D(_Pooling):
    dims, mode = 3, "average"


class _GlobalPooling:
    dims = 0
    mode = "max"

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        _check_dtype(x, cls.mode)
        fmt = attrs["data_format"]
        batch, spatial, channels = split(x.shape, fmt)
        if len(inputs) > 1 and inputs[1] is not None:
            _check_mask(inputs[1], batch, spatial[0])
        if attrs["keepdims"]:
            return [TensorType(x.dtype, join(batch, [1] * cls.dims, channels, fmt))]
        return [TensorType(x.dtype, (batch, channels))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs["data_format"]
        axes = tuple(range(1, cls.dims + 1)) if fmt == "channels_last" else tuple(range(2, cls.dims + 2))
        keep = attrs["keepdims"]
        mask = inputs[1] if len(inputs) > 1 else None
        acc = np.promote_types(x.dtype, np.float32) if x.dtype.name != "bfloat16" else np.dtype(np.float32)
        if mask is None:
            y = x.max(axis=axes, keepdims=keep) if cls.mode == "max" else x.mean(axis=axes, dtype=acc, keepdims=keep)
            return [np.asarray(y).astype(x.dtype, copy=False)]
        m = np.expand_dims(mask.astype(bool), 2 if fmt == "channels_last" else 1)
        if cls.mode == "max":
            y = np.where(m, x, _lowest(x.dtype)).max(axis=axes, keepdims=keep)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):  # an all-masked row is 0/0 = NaN, as in Keras
                y = np.where(m, x, 0).sum(axis=axes, dtype=acc, keepdims=keep) / m.sum(axis=axes, dtype=acc, keepdims=keep)
        return [np.asarray(y).astype(x.dtype, copy=False)]


def _check_mask(mask: TensorType, batch: int | None, steps: int | None) -> None:
    if mask.dtype != "bool" or len(mask.shape) != 2:
        raise ShapeError(f"expected a bool mask of shape [N, T]. Received: {mask.dtype} {list(mask.shape)}")
    for got, want in zip(mask.shape, (batch, steps), strict=True):
        if got is not None and want is not None and got != want:
            raise ShapeError(f"expected mask shape [{batch}, {steps}]. Received: {list(mask.shape)}")


@register_layer("GlobalMaxPooling1D")
class GlobalMaxPooling1D(_GlobalPooling):
    dims, mode = 1, "max"


@register_layer("GlobalMaxPooling2D")
class GlobalMaxPooling2D(_GlobalPooling):
    dims, mode = 2, "max"


@register_layer("GlobalMaxPooling3D")
class GlobalMaxPooling3D(_GlobalPooling):
    dims, mode = 3, "max"


@register_layer("GlobalAveragePooling1D")
class GlobalAveragePooling1D(_GlobalPooling):
    dims, mode = 1, "average"


@register_layer("GlobalAveragePooling2D")
class GlobalAveragePooling2D(_GlobalPooling):
    dims, mode = 2, "average"


@register_layer("GlobalAveragePooling3D")
class GlobalAveragePooling3D(_GlobalPooling):
    dims, mode = 3, "average"
