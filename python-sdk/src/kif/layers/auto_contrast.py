"""AutoContrast (spec/layers/AutoContrast.md): per image and channel, stretch [min, max] over value_range."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._spatial import float_dtype, is_float
from kif.layers.registry import ShapeError, TensorType, register_layer


def _bounds(attrs: dict[str, Any]) -> tuple[float, float]:
    lo, hi = (float(v) for v in attrs["value_range"])
    if not lo < hi:
        raise ShapeError(f"expected value_range [lo, hi] with lo < hi. Received: {list(attrs['value_range'])}")
    return lo, hi


def auto_contrast(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The five steps of the spec, each operation rounded to the compute dtype."""
    dt = np.dtype(x.dtype) if is_float(x.dtype) else np.dtype(np.float32)
    t = dt.type
    original = x.astype(dt, copy=False)
    mapped = not (lo == 0 and hi == 255)
    with np.errstate(all="ignore"):  # inf and NaN are part of the definition (constant channels)
        u = (original - t(lo)) / (t(hi) - t(lo)) * t(255) if mapped else original
        low = np.min(u, axis=(1, 2), keepdims=True)
        high = np.max(u, axis=(1, 2), keepdims=True)
        scale = t(255) / (high - low)
        offset = -low * scale
        r = np.minimum(np.maximum(u * scale + offset, t(0)), t(255))
        v = r / t(255) * (t(hi) - t(lo)) + t(lo) if mapped else r
    return np.where(np.isnan(v), original, v).astype(dt, copy=False)


@register_layer("AutoContrast")
class AutoContrast:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) != 4:
            raise ShapeError(f"expected input of rank 4. Received: shape {list(x.shape)}")
        _bounds(attrs)
        return [TensorType(float_dtype(x.dtype), tuple(x.shape))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        lo, hi = _bounds(attrs)
        return [auto_contrast(x, lo, hi)]
