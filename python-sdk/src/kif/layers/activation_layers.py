"""Activation layers with attributes or weights: ReLU, LeakyReLU, PReLU, ELU, Softmax.

Specs: spec/layers/{ReLU,LeakyReLU,PReLU,ELU,Softmax}.md. Each computes in float32 for
16-bit inputs (the input's dtype otherwise) and returns the input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers import activations
from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)


def _same(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    x = only(inputs)
    activations.require_float(x)
    return [x]


def _relu(x: np.ndarray, *, max_value: float | None, negative_slope: float, threshold: float) -> np.ndarray:
    """Keras 3: min(x, max_value) for x > threshold, negative_slope * (x - threshold) otherwise."""
    w = _wide(x)
    if max_value is None and negative_slope == 0 and threshold == 0:
        # The plain relu: w * (w > 0) gives exactly the general formula's values (-0.0 for negative w, NaN for NaN
        # and -inf), in two passes instead of four.
        return (w * (w > 0)).astype(x.dtype, copy=False)
    upper = w if max_value is None else np.minimum(w, w.dtype.type(max_value))
    y = np.where(w > threshold, upper, w.dtype.type(negative_slope) * (w - w.dtype.type(threshold)))
    return y.astype(x.dtype, copy=False)


@register_layer("ReLU")
class ReLU:
    infer = staticmethod(_same)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [_relu(x, max_value=attrs["max_value"], negative_slope=attrs["negative_slope"], threshold=attrs["threshold"])]


@register_layer("LeakyReLU")
class LeakyReLU:
    infer = staticmethod(_same)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [activations.leaky_relu(_wide(x), attrs["negative_slope"]).astype(x.dtype, copy=False)]


@register_layer("ELU")
class ELU:
    infer = staticmethod(_same)

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [activations.elu(_wide(x), attrs["alpha"]).astype(x.dtype, copy=False)]


def _prelu_alpha_shape(x: TensorType, shared_axes: list[int]) -> tuple[int | None, ...]:
    rank = len(x.shape)
    if rank < 2:
        raise ShapeError(f"expected input of rank >= 2. Received: shape {list(x.shape)}")
    bad = [a for a in shared_axes if a >= rank]
    if bad:
        raise ShapeError(f"expected shared_axes within 1..{rank - 1}. Received: shared_axes={shared_axes}")
    return tuple(1 if i in shared_axes else d for i, d in enumerate(x.shape) if i > 0)


@register_layer("PReLU")
class PReLU:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        activations.require_float(x)
        expected = _prelu_alpha_shape(x, attrs["shared_axes"])
        alpha = weights.get("alpha")
        if alpha is not None and (
            len(alpha) != len(expected) or any(e is not None and e != a for e, a in zip(expected, alpha, strict=True))
        ):
            raise ShapeError(f"expected alpha of shape {list(expected)}. Received: alpha shape {list(alpha)}")
        return [x]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        w = _wide(x)
        alpha = weights["alpha"].astype(w.dtype, copy=False)
        return [np.where(w > 0, w, alpha * w).astype(x.dtype, copy=False)]


def _softmax_axes(axis: int | list[int], rank: int) -> tuple[int, ...]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(f"expected axis within [-{rank}, {rank}). Received: axis={axis} for rank {rank}")
    normalized = tuple(sorted(a % rank for a in axes))
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"expected distinct axes. Received: axis={axis}")
    return normalized


def _check_mask(x: TensorType, mask: TensorType) -> None:
    if mask.dtype != "bool":
        raise ShapeError(f"expected a bool mask. Received: dtype {mask.dtype}")
    if len(mask.shape) > len(x.shape) or any(
        m is not None and i is not None and m not in (1, i) for m, i in zip(reversed(mask.shape), reversed(x.shape), strict=False)
    ):
        raise ShapeError(f"expected a mask broadcastable to the input {list(x.shape)}. Received: mask shape {list(mask.shape)}")


def masked_softmax(x: np.ndarray, axes: tuple[int, ...], mask: np.ndarray | None) -> np.ndarray:
    """Softmax over ``axes``; masked-out (false) positions get 0 and do not count; a fully masked slice is all 0."""
    w = _wide(x)
    if mask is None:
        return activations.softmax(w, axis=axes).astype(x.dtype, copy=False)
    keep = np.broadcast_to(mask, w.shape)
    peak = np.max(np.where(keep, w, -np.inf), axis=axes, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)  # a fully masked slice: any finite shift will do
    e = np.where(keep, np.exp(np.where(keep, w - peak, 0)), 0)
    total = np.sum(e, axis=axes, keepdims=True)
    y = e / np.where(total > 0, total, 1)
    return y.astype(x.dtype, copy=False)


@register_layer("Softmax")
class Softmax:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        if not 1 <= len(inputs) <= 2 or inputs[0] is None:
            raise ShapeError(f"expected an input and an optional mask. Received: {len(inputs)} inputs")
        x = inputs[0]
        activations.require_float(x)
        _softmax_axes(attrs["axis"], len(x.shape))
        if len(inputs) == 2 and inputs[1] is not None:
            _check_mask(x, inputs[1])
        return [x]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        mask = inputs[1] if len(inputs) > 1 else None
        return [masked_softmax(x, _softmax_axes(attrs["axis"], x.ndim), mask)]
