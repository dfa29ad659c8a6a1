"""Shape layers: Reshape, Permute, RepeatVector, Cropping*, ZeroPadding*, UpSampling* (spec/layers/<Type>.md).

All are pure data movement except UpSampling2D with an interpolation other than nearest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._resize import resize, to_dtype
from kif.layers._spatial import from_last, join, spatial_input, split, to_last
from kif.layers.registry import ShapeError, TensorType, register_layer


@register_layer("Reshape")
class Reshape:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) < 1:
            raise ShapeError(f"expected input of rank >= 1. Received: shape {list(x.shape)}")
        target = list(attrs["target_shape"])
        if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
            raise ShapeError(f"expected target_shape of positive sizes with at most one -1. Received: {target}")
        rest = x.shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)  # type: ignore[arg-type]
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if size is not None:
                if size % known:
                    raise ShapeError(f"expected {size} elements per sample to fit {target}. Received: shape {list(x.shape)}")
                target[target.index(-1)] = size // known
            else:
                target[target.index(-1)] = None  # type: ignore[call-overload]
        elif size is not None and size != known:
            raise ShapeError(f"expected {known} elements per sample for target_shape {target}. Received: shape {list(x.shape)}")
        return [TensorType(x.dtype, (x.shape[0], *target))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [x.reshape(x.shape[0], *attrs["target_shape"])]


@register_layer("Permute")
class Permute:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        dims = list(attrs["dims"])
        if sorted(dims) != list(range(1, len(x.shape))):
            raise ShapeError(
                f"expected dims to be a permutation of 1..{len(x.shape) - 1}. Received: dims={dims}, input shape {list(x.shape)}"
            )
        return [TensorType(x.dtype, (x.shape[0], *[x.shape[d] for d in dims]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [np.ascontiguousarray(np.transpose(x, (0, *attrs["dims"])))]


@register_layer("RepeatVector")
class RepeatVector:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) != 2:
            raise ShapeError(f"expected input of rank 2. Received: shape {list(x.shape)}")
        return [TensorType(x.dtype, (x.shape[0], attrs["n"], x.shape[1]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [np.repeat(x[:, None, :], attrs["n"], axis=1)]


def _pairs(value: list[Any], n: int, name: str) -> list[tuple[int, int]]:
    """Cropping/padding amounts as n (before, after) pairs; Cropping1D/ZeroPadding1D hold one flat pair."""
    pairs = [tuple(value)] if n == 1 and value and isinstance(value[0], int) else [tuple(p) for p in value]
    if len(pairs) != n or any(len(p) != 2 for p in pairs):
        raise ShapeError(f"expected {name} as {n} pair(s) of integers. Received: {name}={value}")
    return pairs  # type: ignore[return-value]


class _Cropping:
    dims = 0

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        fmt = attrs.get("data_format", "channels_last")
        batch, spatial, channels = split(x.shape, fmt)
        out: list[int | None] = []
        for d, (a, b) in zip(spatial, _pairs(attrs["cropping"], cls.dims, "cropping"), strict=True):
            if d is not None and a + b >= d:
                received = f"cropping={attrs['cropping']}, input shape {list(x.shape)}"
                raise ShapeError(f"expected cropping smaller than each spatial dimension. Received: {received}")
            out.append(None if d is None else d - a - b)
        return [TensorType(x.dtype, join(batch, out, channels, fmt))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs.get("data_format", "channels_last")
        xl = to_last(x, fmt)
        index = [slice(a, xl.shape[1 + i] - b) for i, (a, b) in enumerate(_pairs(attrs["cropping"], cls.dims, "cropping"))]
        return [np.ascontiguousarray(from_last(xl[(slice(None), *index)], fmt))]


@register_layer("Cropping1D")
class Cropping1D(_Cropping):
    dims = 1


@register_layer("Cropping2D")
class Cropping2D(_Cropping):
    dims = 2


@register_layer("Cropping3D")
class Cropping3D(_Cropping):
    dims = 3


class _ZeroPadding:
    dims = 0

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        fmt = attrs["data_format"]
        batch, spatial, channels = split(x.shape, fmt)
        pairs = _pairs(attrs["padding"], cls.dims, "padding")
        out = [None if d is None else d + a + b for d, (a, b) in zip(spatial, pairs, strict=True)]
        return [TensorType(x.dtype, join(batch, out, channels, fmt))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        pairs = _pairs(attrs["padding"], cls.dims, "padding")
        spec = [(0, 0), (0, 0), *pairs] if attrs["data_format"] == "channels_first" else [(0, 0), *pairs, (0, 0)]
        return [np.pad(x, spec)]


@register_layer("ZeroPadding1D")
class ZeroPadding1D(_ZeroPadding):
    dims = 1


@register_layer("ZeroPadding2D")
class ZeroPadding2D(_ZeroPadding):
    dims = 2


@register_layer("ZeroPadding3D")
class ZeroPadding3D(_ZeroPadding):
    dims = 3


class _UpSampling:
    dims = 0

    @classmethod
    def _size(cls, attrs: dict[str, Any]) -> list[int]:
        size = attrs["size"]
        sizes = [size] if isinstance(size, int) else list(size)
        if len(sizes) != cls.dims:
            raise ShapeError(f"expected size of length {cls.dims}. Received: size={size}")
        return sizes

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = spatial_input(inputs, cls.dims)
        fmt = attrs.get("data_format", "channels_last")
        batch, spatial, channels = split(x.shape, fmt)
        out = [None if d is None else d * f for d, f in zip(spatial, cls._size(attrs), strict=True)]
        return [TensorType(x.dtype, join(batch, out, channels, fmt))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        fmt = attrs.get("data_format", "channels_last")
        y = to_last(x, fmt)
        sizes = cls._size(attrs)
        interpolation = attrs.get("interpolation", "nearest")
        if interpolation != "nearest":  # UpSampling2D: Resizing's interpolation to (H * sh, W * sw), no antialias
            y = to_dtype(resize(y, y.shape[1] * sizes[0], y.shape[2] * sizes[1], interpolation), x.dtype)
        else:
            for i, f in enumerate(sizes):
                y = np.repeat(y, f, axis=1 + i)
        return [np.ascontiguousarray(from_last(y, fmt))]


@register_layer("UpSampling1D")
class UpSampling1D(_UpSampling):
    dims = 1


@register_layer("UpSampling2D")
class UpSampling2D(_UpSampling):
    dims = 2


@register_layer("UpSampling3D")
class UpSampling3D(_UpSampling):
    dims = 3
