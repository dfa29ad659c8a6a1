"""Normalisation layers at inference (spec/layers/<Type>.md for each):

BatchNormalization  (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, per feature on ``axis``
LayerNormalization  (x - mean) / sqrt(var + epsilon) * gamma + beta, statistics per sample over ``axis``
GroupNormalization  the same, statistics per sample and group of channels over all non-batch axes
UnitNormalization   x / max(||x||_2, 1e-12) over ``axis``
RMSNormalization    x / sqrt(mean(x^2) + epsilon) * scale over ``axis``

Statistics are the biased (population) mean and variance, computed in float32 for
16-bit inputs (float64 for float64); the output has the input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers import activations
from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer

UNIT_NORM_EPSILON = 1e-12  # Keras 3 UnitNormalization: ops.normalize(order=2, epsilon=1e-12), not an attribute


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)


def _axes(axis: int | list[int], rank: int) -> tuple[int, ...]:
    """Sorted non-negative axes; ShapeError when one is out of range or repeated."""
    given = [axis] if isinstance(axis, int) else list(axis)
    for a in given:
        if not -rank <= a < rank:
            raise ShapeError(f"expected axis within [-{rank}, {rank}). Received: axis={axis} for input rank {rank}")
    axes = tuple(sorted(a % rank for a in given))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"expected distinct axes. Received: axis={axis}")
    return axes


def _check_weight(role: str, got: tuple[int, ...] | None, expected: tuple[int | None, ...]) -> None:
    if got is None:
        return
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got, strict=True)):
        layout = ["?" if e is None else e for e in expected]
        raise ShapeError(f"expected {role} of shape {layout}. Received: {role} shape {list(got)}")


def _on_axes(w: np.ndarray, axes: tuple[int, ...], rank: int, dtype: np.dtype) -> np.ndarray:
    """A weight laid out over ``axes`` (ascending), reshaped to broadcast against a rank-``rank`` tensor."""
    shape = [1] * rank
    for a, d in zip(axes, w.shape, strict=True):
        shape[a] = d
    return w.astype(dtype, copy=False).reshape(shape)


def _same_with_weights(x: TensorType, axes: tuple[int, ...], roles: list[str], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    activations.require_float(x)
    expected = tuple(x.shape[a] for a in axes)
    for role in roles:
        _check_weight(role, weights.get(role), expected)
    return [x]


@register_layer("BatchNormalization")
class BatchNormalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        axes = _axes(attrs["axis"], len(x.shape))
        return _same_with_weights(x, axes, ["gamma", "beta", "moving_mean", "moving_variance"], weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        w = _wide(x)
        axes = _axes(attrs["axis"], x.ndim)
        mean = _on_axes(weights["moving_mean"], axes, x.ndim, w.dtype)
        var = _on_axes(weights["moving_variance"], axes, x.ndim, w.dtype)
        inv = 1.0 / np.sqrt(var + w.dtype.type(attrs["epsilon"]))
        if attrs["scale"]:
            inv = inv * _on_axes(weights["gamma"], axes, x.ndim, w.dtype)
        y = w - mean  # then in place: no further full-size temporaries
        y *= inv
        if attrs["center"]:
            y += _on_axes(weights["beta"], axes, x.ndim, w.dtype)
        return [y.astype(x.dtype, copy=False)]


@register_layer("LayerNormalization")
class LayerNormalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        axes = _axes(attrs["axis"], len(x.shape))
        return _same_with_weights(x, axes, ["gamma", "beta"], weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        w = _wide(x)
        axes = _axes(attrs["axis"], x.ndim)
        mean = np.mean(w, axis=axes, keepdims=True)
        centered = w - mean
        var = np.mean(np.square(centered), axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + w.dtype.type(attrs["epsilon"]))
        # rms_scaling (deprecated in Keras) divides by the standard deviation but keeps the mean in.
        y = w * inv if attrs["rms_scaling"] else centered
        if not attrs["rms_scaling"]:
            y *= inv  # in place from here on: y is a fresh array
        if attrs["scale"]:
            y *= _on_axes(weights["gamma"], axes, x.ndim, w.dtype)
        if attrs["center"] and not attrs["rms_scaling"]:
            y += _on_axes(weights["beta"], axes, x.ndim, w.dtype)
        return [y.astype(x.dtype, copy=False)]


def _groups(attrs: dict[str, Any], channels: int | None) -> int | None:
    if channels is None:
        return None
    groups = channels if attrs["groups"] == -1 else attrs["groups"]
    if groups > channels or channels % groups:
        raise ShapeError(f"expected groups to divide the {channels} channels. Received: groups={attrs['groups']}")
    return int(groups)


@register_layer("GroupNormalization")
class GroupNormalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) < 2:
            raise ShapeError(f"expected input of rank >= 2. Received: shape {list(x.shape)}")
        (axis,) = _axes(attrs["axis"], len(x.shape))
        if axis == 0:
            raise ShapeError(f"expected a channel axis other than the batch axis. Received: axis={attrs['axis']}")
        _groups(attrs, x.shape[axis])
        return _same_with_weights(x, (axis,), ["gamma", "beta"], weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        (axis,) = _axes(attrs["axis"], x.ndim)
        channels = x.shape[axis]
        groups = _groups(attrs, channels)
        assert groups is not None
        w = np.moveaxis(_wide(x), axis, -1)  # [N, ..., C]
        moved = w.shape
        g = w.reshape(moved[0], -1, groups, channels // groups)  # [N, positions, G, C/G]
        mean = np.mean(g, axis=(1, 3), keepdims=True)
        var = np.mean(np.square(g - mean), axis=(1, 3), keepdims=True)
        y = ((g - mean) / np.sqrt(var + g.dtype.type(attrs["epsilon"]))).reshape(moved)
        if attrs["scale"]:
            y = y * weights["gamma"].astype(y.dtype, copy=False)
        if attrs["center"]:
            y = y + weights["beta"].astype(y.dtype, copy=False)
        return [np.moveaxis(y, -1, axis).astype(x.dtype, copy=False)]


@register_layer("UnitNormalization")
class UnitNormalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        _axes(attrs["axis"], len(x.shape))
        activations.require_float(x)
        return [x]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        w = _wide(x)
        norm = np.sqrt(np.sum(np.square(w), axis=_axes(attrs["axis"], x.ndim), keepdims=True))
        return [(w / np.maximum(norm, w.dtype.type(UNIT_NORM_EPSILON))).astype(x.dtype, copy=False)]


@register_layer("RMSNormalization")
class RMSNormalization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        axes = _axes(attrs["axis"], len(x.shape))
        return _same_with_weights(x, axes, ["scale"], weights)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        w = _wide(x)
        axes = _axes(attrs["axis"], x.ndim)
        mean_square = np.mean(np.square(w), axis=axes, keepdims=True)
        y = w / np.sqrt(mean_square + w.dtype.type(attrs["epsilon"])) * _on_axes(weights["scale"], axes, x.ndim, w.dtype)
        return [y.astype(x.dtype, copy=False)]
