"""Ops along one axis (spec/ops/axis.md): split, take_along_axis, repeat, cumsum, one_hot, softmax, log_softmax,
top_k and sort. ``split`` and ``top_k`` have more than one output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from kif.graph import Shape
from kif.layers.registry import ShapeError, TensorType
from kif.ops import SUMMED, Op
from kif.ops._types import DTYPES, INTS, accept, broadcast, compute, present

Types = Sequence[TensorType | None]
Arrays = Sequence[np.ndarray | None]
Out = list[tuple[str, Shape]]


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"expected {what} in [-{rank}, {rank}). Received: {what}={axis}")
    return axis % rank


def _int_input(t: TensorType, what: str) -> None:
    if t.dtype not in INTS:
        raise ShapeError(f"expected integer {what}. Received: dtype={t.dtype}")


class _Axis:
    """An op along an axis: ``rule(attrs, types) -> [(dtype, shape)]`` and ``compute(attrs, arrays) -> [array]``."""

    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        types = present(inputs, *cls.op.inputs)
        accept(types[0], cls.op.dtypes)
        return [TensorType(dtype, tuple(shape)) for dtype, shape in cls.rule(attrs, types)]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.ascontiguousarray(y) for y in cls.compute(attrs, [np.asarray(x) for x in inputs])]

    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        raise NotImplementedError

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


def max_parts() -> int:
    """The most outputs an op.split may have: the fan-out bound of kif.limits (a hostile count must not allocate)."""
    from kif import limits

    return limits.current().max_layer_inputs


def split_sizes(splits: int | list[int], size: int | None) -> list[int | None]:
    """The part sizes: ``splits`` equal parts (which MUST divide a known size) or the listed sizes (summing to it)."""
    count = splits if isinstance(splits, int) else len(splits)
    if count > max_parts():
        raise ShapeError(f"expected at most {max_parts()} parts (the limit max_layer_inputs). Received: {count} parts")
    if isinstance(splits, int):
        if splits < 1 or (size is not None and size % splits):
            raise ShapeError(f"expected {splits} equal parts of an axis of size {size}")
        return [None if size is None else size // splits] * splits
    if not splits or any(s < 0 for s in splits) or (size is not None and sum(splits) != size):
        raise ShapeError(f"expected sizes >= 0 summing to the axis size {size}. Received: splits={splits}")
    return list(splits)


class Split(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        at = _axis(attrs["axis"], len(x.shape))
        return [(x.dtype, (*x.shape[:at], s, *x.shape[at + 1 :])) for s in split_sizes(attrs["splits"], x.shape[at])]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x = xs[0]
        at = attrs["axis"] % x.ndim
        sizes = [int(s) for s in split_sizes(attrs["splits"], x.shape[at])]  # type: ignore[arg-type]
        return np.split(x, np.cumsum(sizes)[:-1], axis=at)


class TakeAlongAxis(_Axis):
    @staticmethod
    def shape(attrs: dict[str, Any], x: Shape, i: Shape) -> tuple[int, Shape]:
        if len(x) != len(i):
            raise ShapeError(f"expected indices of the input's rank. Received: shapes {list(x)}, {list(i)}")
        at = _axis(attrs["axis"], len(x))
        off = broadcast([x[:at] + x[at + 1 :], i[:at] + i[at + 1 :]])
        return at, (*off[:at], i[at], *off[at:])

    @classmethod
    def rule(cls, attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x, indices = types
        _int_input(indices, "indices")
        return [(x.dtype, cls.shape(attrs, x.shape, indices.shape)[1])]

    @classmethod
    def compute(cls, attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x, indices = xs
        at, out = cls.shape(attrs, x.shape, indices.shape)
        size = x.shape[at]
        if indices.size and (indices.min() < -size or indices.max() >= size):
            raise IndexError(f"expected indices in [-{size}, {size}). Received: [{indices.min()}, {indices.max()}]")
        x_shape = (*out[:at], size, *out[at + 1 :])
        i = np.broadcast_to(indices.astype(np.int64), out)  # type: ignore[arg-type]
        return [np.take_along_axis(np.broadcast_to(x, x_shape), np.where(i < 0, i + size, i), axis=at)]  # type: ignore[arg-type]


class Repeat(_Axis):
    @staticmethod
    def place(attrs: dict[str, Any], shape: Shape) -> tuple[int | None, int | None]:
        """The repeated axis (None: the flattened tensor) and its output size."""
        reps, axis = attrs["repeats"], attrs["axis"]
        if axis is None:
            size = None if None in shape else int(np.prod(shape, dtype=np.int64))
        else:
            axis = _axis(axis, len(shape))
            size = shape[axis]
        if isinstance(reps, int):
            if reps < 0:
                raise ShapeError(f"expected repeats >= 0. Received: repeats={reps}")
            return axis, None if size is None else size * reps
        if any(r < 0 for r in reps) or (size is not None and len(reps) != size):
            raise ShapeError(f"expected one repeat count >= 0 per element ({size}). Received: repeats={reps}")
        return axis, sum(reps)

    @classmethod
    def rule(cls, attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        axis, size = cls.place(attrs, x.shape)
        return [(x.dtype, (size,) if axis is None else (*x.shape[:axis], size, *x.shape[axis + 1 :]))]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.repeat(xs[0], attrs["repeats"], axis=attrs["axis"])]


class Cumsum(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        if attrs["axis"] is None:
            return [(x.dtype, (None if None in x.shape else int(np.prod(x.shape, dtype=np.int64)),))]
        _axis(attrs["axis"], len(x.shape))
        return [(x.dtype, x.shape)]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x, axis = xs[0], attrs["axis"]
        if axis is None:
            x, axis = x.reshape(-1), 0
        data = np.flip(compute(x), axis) if attrs["reverse"] else compute(x)
        y = np.cumsum(data, axis=axis, dtype=data.dtype)
        if attrs["exclusive"]:
            y = y - data  # the sum of the elements before, exactly 0 for the first one
        return [(np.flip(y, axis) if attrs["reverse"] else y).astype(x.dtype)]


class OneHot(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        _int_input(x, "indices")
        if attrs["depth"] < 1:
            raise ShapeError(f"expected depth >= 1. Received: depth={attrs['depth']}")
        at = _axis(attrs["axis"], len(x.shape) + 1)
        return [(attrs["dtype"], (*x.shape[:at], attrs["depth"], *x.shape[at:]))]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        from kif.dtypes import by_name

        x, depth = xs[0].astype(np.int64), attrs["depth"]
        hot = x[..., None] == np.arange(depth)  # out-of-range (and negative) indices match no class
        y = np.where(hot, attrs["on_value"], attrs["off_value"]).astype(np.dtype(by_name(attrs["dtype"]).numpy))
        return [np.moveaxis(y, -1, attrs["axis"] % (x.ndim + 1))]


class Softmax(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        _axis(attrs["axis"], len(x.shape))
        return [(x.dtype, x.shape)]

    @classmethod
    def compute(cls, attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x, axis = compute(xs[0]), attrs["axis"]
        with np.errstate(all="ignore"):
            shifted = x - np.max(x, axis=axis, keepdims=True)
            total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
            y = shifted - np.log(total) if cls.op.name == "log_softmax" else np.exp(shifted) / total
        return [y.astype(xs[0].dtype)]


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sort positions along ``axis``: ties keep the lower index first; NaN ranks above +inf (NumPy's order)."""
    key = x.astype(np.float32) if x.dtype.name == "bfloat16" else x
    if not descending:
        return np.argsort(key, axis=axis, kind="stable")
    # descending and stable: sort the reversed axis ascending, read it backwards, map positions back
    backwards = np.argsort(np.flip(key, axis), axis=axis, kind="stable")
    return key.shape[axis] - 1 - np.flip(backwards, axis)


class TopK(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x, k = types[0], attrs["k"]
        if not x.shape:
            raise ShapeError("expected an input of rank >= 1")
        if k < 0 or (x.shape[-1] is not None and k > x.shape[-1]):
            raise ShapeError(f"expected 0 <= k <= the last axis size {x.shape[-1]}. Received: k={k}")
        shape = (*x.shape[:-1], k)
        return [(x.dtype, shape), (attrs["dtype"], shape)]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x = xs[0]
        order = _order(x, -1, descending=True)[..., : attrs["k"]]
        return [np.take_along_axis(x, order, axis=-1), order.astype(attrs["dtype"])]


class Sort(_Axis):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> Out:
        x = types[0]
        _axis(attrs["axis"], len(x.shape))
        return [(x.dtype, x.shape)]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> list[np.ndarray]:
        x, axis = xs[0], attrs["axis"] % xs[0].ndim
        return [np.take_along_axis(x, _order(x, axis, attrs["descending"]), axis=axis)]


_AXIS = {"description": "The axis (negative counts from the end).", "type": "integer"}
_FLAT_AXIS = {"description": "The axis (negative counts from the end); null works on the flattened tensor.", "type": ["integer", "null"]}
_STABLE = (
    "ties keep their input order (the lower index first); NaN ranks above +inf (last ascending, first descending), "
    "NaNs in input order; -0.0 and +0.0 are equal"
)


def _op(name: str, summary: str, math: str, kernel: type, **kw: Any) -> Op:
    return Op(name, "axis", summary, math, kernel, **kw)


OPS: list[Op] = [
    _op(
        "split",
        "Splits the tensor along an axis into consecutive parts: one output per part.",
        "splits = n: n equal parts (n MUST divide the axis size); splits = [s0, s1, …]: parts of those sizes (they MUST "
        "sum to the axis size); output i is x[..., start_i : start_i + size_i, ...] along axis. A layer MUST declare one "
        "output per part or fewer (trailing parts left undeclared are dropped)",
        Split,
        outputs=(1, None),
        attributes={
            "splits": {
                "description": "The number of equal parts, or each part's size.",
                "oneOf": [{"type": "integer", "minimum": 1}, {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}],
            },
            "axis": {**_AXIS, "default": 0},
        },
    ),
    _op(
        "take_along_axis",
        "Picks one position along an axis per output element: numpy.take_along_axis with broadcasting.",
        "indices MUST have the input's rank; off the axis the two shapes broadcast (NumPy rules); y[..., j, ...] = "
        "x[..., indices[..., j, ...], ...] along axis; negative indices count from the end; indices outside [-size, size) "
        "are an error",
        TakeAlongAxis,
        inputs=(2, 2),
        attributes={"axis": _AXIS},
    ),
    _op(
        "repeat",
        "Repeats each element along an axis: numpy.repeat with static repeat counts.",
        "repeats = r: every element r times; repeats = [r0, r1, …]: element i r_i times (one count per element of the "
        "axis: the list's length MUST equal the axis size, checked at run time when the size is unknown); null axis "
        "repeats the flattened tensor",
        Repeat,
        attributes={
            "repeats": {
                "description": "One count for every element, or a count per element (each >= 0).",
                "oneOf": [{"type": "integer", "minimum": 0}, {"type": "array", "items": {"type": "integer", "minimum": 0}}],
            },
            "axis": {**_FLAT_AXIS, "default": None},
        },
    ),
    _op(
        "cumsum",
        "Cumulative sum along an axis, inclusive or exclusive, forwards or reversed (tf.math.cumsum).",
        "y[i] = sum of x[j] for j <= i (exclusive: j < i; reverse: j >= i, exclusive reverse: j > i) along axis, in the "
        "input's dtype (half floats accumulate in float32); an empty sum is 0; null axis: the flattened tensor",
        Cumsum,
        tolerance=SUMMED,
        dtypes="numeric",
        attributes={
            "axis": {**_FLAT_AXIS, "default": None},
            "exclusive": {"description": "Leave each element out of its own sum.", "default": False, "type": "boolean"},
            "reverse": {"description": "Sum from the end of the axis.", "default": False, "type": "boolean"},
        },
    ),
    _op(
        "one_hot",
        "One-hot encodes integer indices along a new axis of size depth (tf.one_hot).",
        "y[..., c, ...] = on_value where indices == c, else off_value, for c in [0, depth); an index outside [0, depth), "
        "negative ones included, gives off_value everywhere (no error, no wrapping); axis is the new axis's position in "
        "the output",
        OneHot,
        dtypes="numeric",
        attributes={
            "depth": {"description": "The number of classes (>= 1).", "type": "integer", "minimum": 1},
            "axis": {
                "description": "Position of the new axis in the output (negative counts from the end).",
                "default": -1,
                "type": "integer",
            },
            "dtype": {"description": "The output dtype.", "default": "float32", "enum": DTYPES},
            "on_value": {"description": "The value at the index's class.", "default": 1, "type": "number"},
            "off_value": {"description": "The value elsewhere.", "default": 0, "type": "number"},
        },
    ),
    _op(
        "softmax",
        "Softmax along any one axis.",
        "y = exp(x - m) / sum(exp(x - m)) along axis, m the maximum along axis (so large inputs do not overflow); "
        "a slice holding +inf or NaN, or only -inf, gives NaN",
        Softmax,
        tolerance=SUMMED,
        dtypes="float",
        attributes={"axis": {**_AXIS, "default": -1}},
    ),
    _op(
        "log_softmax",
        "Log of the softmax along any one axis.",
        "y = x - m - log(sum(exp(x - m))) along axis, m the maximum along axis; a slice holding +inf or NaN, or only -inf, gives NaN",
        Softmax,
        tolerance=SUMMED,
        dtypes="float",
        attributes={"axis": {**_AXIS, "default": -1}},
    ),
    _op(
        "top_k",
        "The k largest elements along the last axis, largest first, and their positions: two outputs (values, indices).",
        f"values = the first k of x sorted descending along the last axis, indices their positions in x; {_STABLE} "
        "(so equal values come lowest index first, as tf.math.top_k and torch.topk with sorted=True); k MUST be at "
        "most the last axis size; the indices output MAY be left undeclared",
        TopK,
        outputs=(1, 2),
        dtypes="numeric",
        attributes={
            "k": {"description": "How many elements (0 <= k <= the last axis size).", "type": "integer", "minimum": 0},
            "dtype": {"description": "The indices' dtype.", "default": "int32", "enum": ["int32", "int64"]},
        },
    ),
    _op(
        "sort",
        "Sorts along an axis, stably.",
        f"y = x sorted along axis, ascending (descending: largest first); {_STABLE}",
        Sort,
        attributes={
            "axis": {**_AXIS, "default": -1},
            "descending": {"description": "Largest first.", "default": False, "type": "boolean"},
        },
    ),
]
