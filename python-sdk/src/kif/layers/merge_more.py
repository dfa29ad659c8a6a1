"""Merge layers: Subtract, Multiply, Average, Maximum, Minimum and Dot (spec/layers/<Type>.md).

The element-wise merges broadcast as Keras does: a lower-rank input gets new axes right
after the batch axis, then per-sample dimensions of size 1 stretch (NumPy rules); the
batch dimensions must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kif.graph import Shape
from kif.layers._common import norm_axis
from kif.layers.registry import ShapeError, TensorType, register_layer

_DOT_EPSILON = 1e-7  # Keras 3 backend.epsilon(): the smallest norm used by normalize=True


def _present(inputs: list[TensorType | None], low: int, high: int | None) -> list[TensorType]:
    present = [t for t in inputs if t is not None]
    if len(present) < low or (high is not None and len(present) > high):
        expected = str(low) if low == high else f"at least {low}"
        raise ShapeError(f"expected {expected} inputs. Received: {len(present)}")
    if len({t.dtype for t in present}) > 1:
        raise ShapeError(f"expected inputs of one dtype. Received: {[t.dtype for t in present]}")
    if any(len(t.shape) < 1 for t in present):
        raise ShapeError(f"expected inputs of rank >= 1. Received: {[list(t.shape) for t in present]}")
    return present


def broadcast_shape(shapes: list[Shape]) -> Shape:
    """The merged shape: equal batch dimensions, per-sample dimensions broadcast right-aligned."""
    batch: int | None = None
    rest: list[int | None] = []
    for shape in shapes:
        if shape[0] is not None:
            if batch is not None and batch != shape[0]:
                raise ShapeError(f"expected inputs with one batch size. Received: {[list(s) for s in shapes]}")
            batch = shape[0]
        sample = list(shape[1:])
        if len(sample) > len(rest):
            rest = [1] * (len(sample) - len(rest)) + rest
        sample = [1] * (len(rest) - len(sample)) + sample
        merged: list[int | None] = []
        for a, b in zip(rest, sample, strict=True):
            if a == 1:
                merged.append(b)
            elif b == 1:
                merged.append(a)
            elif a is None or b is None:
                merged.append(a if b is None else b)
            elif a != b:
                raise ShapeError(f"expected broadcast-compatible inputs. Received: {[list(s) for s in shapes]}")
            else:
                merged.append(a)
        rest = merged
    return (batch, *rest)


def _aligned(inputs: list[np.ndarray | None]) -> list[np.ndarray]:
    arrays = [x for x in inputs if x is not None]
    rank = max(x.ndim for x in arrays)
    return [x.reshape(x.shape[0], *([1] * (rank - x.ndim)), *x.shape[1:]) for x in arrays]


class _ElementWise:
    arity: tuple[int, int | None] = (2, None)
    combine: Callable[[list[np.ndarray]], np.ndarray]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        present = _present(inputs, *cls.arity)
        return [TensorType(present[0].dtype, broadcast_shape([t.shape for t in present]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        arrays = _aligned(inputs)
        return [np.asarray(cls.combine(arrays)).astype(arrays[0].dtype, copy=False)]


def _fold(op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[list[np.ndarray]], np.ndarray]:
    def combine(arrays: list[np.ndarray]) -> np.ndarray:
        out = arrays[0]
        for x in arrays[1:]:
            out = op(out, x)
        return out

    return combine


def _average(arrays: list[np.ndarray]) -> np.ndarray:
    total = _fold(np.add)(arrays)
    return total / np.asarray(len(arrays), dtype=total.dtype)


@register_layer("Add")
class Add(_ElementWise):
    combine = staticmethod(_fold(np.add))


@register_layer("Subtract")
class Subtract(_ElementWise):
    arity = (2, 2)
    combine = staticmethod(_fold(np.subtract))


@register_layer("Multiply")
class Multiply(_ElementWise):
    combine = staticmethod(_fold(np.multiply))


@register_layer("Average")
class Average(_ElementWise):
    combine = staticmethod(_average)


@register_layer("Maximum")
class Maximum(_ElementWise):
    combine = staticmethod(_fold(np.maximum))


@register_layer("Minimum")
class Minimum(_ElementWise):
    combine = staticmethod(_fold(np.minimum))


def _dot_axes(attrs: dict[str, Any], rank_x: int, rank_y: int) -> tuple[int, int]:
    a, b = attrs["axes"]
    ax, ay = norm_axis(a, rank_x), norm_axis(b, rank_y)
    if ax == 0 or ay == 0:
        raise ShapeError(f"expected axes off the batch axis. Received: axes={attrs['axes']}")
    return ax, ay


@register_layer("Dot")
class Dot:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x, y = _present(inputs, 2, 2)
        if len(x.shape) < 2 or len(y.shape) < 2:
            raise ShapeError(f"expected inputs of rank >= 2. Received: {list(x.shape)}, {list(y.shape)}")
        ax, ay = _dot_axes(attrs, len(x.shape), len(y.shape))
        dx, dy = x.shape[ax], y.shape[ay]
        if dx is not None and dy is not None and dx != dy:
            raise ShapeError(f"expected equal sizes on the dot axes. Received: {list(x.shape)} axis {ax}, {list(y.shape)} axis {ay}")
        bx, by = x.shape[0], y.shape[0]
        if bx is not None and by is not None and bx != by:
            raise ShapeError(f"expected inputs with one batch size. Received: {list(x.shape)}, {list(y.shape)}")
        rest = [d for i, d in enumerate(x.shape) if i not in (0, ax)] + [d for i, d in enumerate(y.shape) if i not in (0, ay)]
        return [TensorType(x.dtype, (bx if bx is not None else by, *(rest or [1])))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x, y = inputs[0], inputs[1]
        assert x is not None and y is not None
        ax, ay = _dot_axes(attrs, x.ndim, y.ndim)
        if attrs["normalize"]:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        xm = np.moveaxis(x, ax, -1)  # [N, ...x, K]
        ym = np.moveaxis(y, ay, 1)  # [N, K, ...y]
        n, k = xm.shape[0], xm.shape[-1]
        out = np.matmul(xm.reshape(n, -1, k), ym.reshape(n, k, -1))
        shape = (*xm.shape[1:-1], *ym.shape[2:])
        return [out.reshape(n, *(shape or (1,))).astype(x.dtype, copy=False)]


def _l2_normalize(x: np.ndarray, axis: int) -> np.ndarray:
    """x * min(1 / ||x||, 1 / epsilon) along axis (Keras 3's ops.normalize for order 2)."""
    square_sum = np.sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.minimum(1.0 / np.sqrt(square_sum), np.asarray(1.0 / _DOT_EPSILON, dtype=x.dtype))
    return (x * inv).astype(x.dtype, copy=False)
