"""Adaptive{Average,Max}Pooling{1,2,3}D (spec/layers/<Type>.md): pooling into a fixed output size.

Output position o of an axis of input size n and output size m pools the input positions
floor(o n / m) <= p < ceil((o + 1) n / m). The windows are separable, so the kernel pools one axis
at a time (a mean of equal-sized row means is the window mean; a max of maxima is the max).
Along an axis the windows have at most two sizes; each size is one strided view, read only at
the starts that use it (m windows of k cells, never the n - k + 1 of a full sliding view).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kif.layers._spatial import from_last, is_float, join, spatial_input, split, to_last
from kif.layers.registry import ShapeError, TensorType, register_layer


def windows(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each of the m windows over n positions (integer arithmetic)."""
    o = np.arange(m, dtype=np.int64)
    return (o * n) // m, -((-(o + 1) * n) // m)


def _pool_axis(x: np.ndarray, axis: int, m: int, mode: str, acc: np.dtype) -> np.ndarray:
    n = x.shape[axis]
    if n == 0:
        raise ShapeError(f"expected a non-empty spatial axis for adaptive pooling. Received: size 0 on axis {axis}")
    start, end = windows(n, m)
    sizes = end - start
    shape = list(x.shape)
    shape[axis] = m
    out = np.empty(shape, dtype=acc if mode == "average" else x.dtype)
    for k in np.unique(sizes):
        chosen = np.flatnonzero(sizes == k)
        view = np.take(sliding_window_view(x, int(k), axis=axis), start[chosen], axis=axis)  # [..., len(chosen), ..., k]
        pooled = view.sum(axis=-1, dtype=acc) / acc.type(k) if mode == "average" else view.max(axis=-1)
        index = [slice(None)] * x.ndim
        index[axis] = chosen
        out[tuple(index)] = pooled
    return out


def adaptive_pool(x: np.ndarray, output_size: list[int], mode: str) -> np.ndarray:
    """Adaptive pooling of a channels_last array [N, *spatial, C]."""
    acc = np.promote_types(x.dtype, np.float32) if x.dtype.name != "bfloat16" else np.dtype(np.float32)
    y = x
    for i, m in enumerate(output_size):
        y = _pool_axis(y, 1 + i, m, mode, acc)
    return y.astype(x.dtype, copy=False)


class _AdaptivePooling:
    dims = 0
    mode = "max"

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        if cls.mode == "average" and not is_float(x.dtype):
            raise ShapeError(f"expected a floating input for average pooling. Received: {x.dtype}")
        size = list(attrs["output_size"])
        if len(size) != cls.dims:
            raise ShapeError(f"expected output_size of length {cls.dims}. Received: output_size={size}")
        batch, spatial, channels = split(x.shape, attrs["data_format"])
        if any(d == 0 for d in spatial):
            raise ShapeError(f"expected non-empty spatial axes. Received: shape {list(x.shape)}")
        return [TensorType(x.dtype, join(batch, size, channels, attrs["data_format"]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs["data_format"]
        y = adaptive_pool(to_last(x, fmt), list(attrs["output_size"]), cls.mode)
        return [np.ascontiguousarray(from_last(y, fmt))]


@register_layer("AdaptiveAveragePooling1D")
class AdaptiveAveragePooling1D(_AdaptivePooling):
    dims, mode = 1, "average"


@register_layer("AdaptiveAveragePooling2D")
class AdaptiveAveragePooling2D(_AdaptivePooling):
    dims, mode = 2, "average"


@register_layer("AdaptiveAveragePooling3D")
class AdaptiveAveragePooling3D(_AdaptivePooling):
    dims, mode = 3, "average"


@register_layer("AdaptiveMaxPooling1D")
class AdaptiveMaxPooling1D(_AdaptivePooling):
    dims, mode = 1, "max"


@register_layer("AdaptiveMaxPooling2D")
class AdaptiveMaxPooling2D(_AdaptivePooling):
    dims, mode = 2, "max"


@register_layer("AdaptiveMaxPooling3D")
class AdaptiveMaxPooling3D(_AdaptivePooling):
    dims, mode = 3, "max"
