"""Shape and indexing ops (spec/ops/shape.md) on whole tensors, plus matmul and einsum."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from kif.graph import Shape
from kif.layers.registry import ShapeError, TensorType
from kif.ops import EXACT, SUMMED, Op
from kif.ops._einsum import einsum_shape
from kif.ops._index import plan
from kif.ops._types import INTS, accept, broadcast, compute, present, same_dtype
from kif.ops.reductions import axes_of

Types = Sequence[TensorType | None]
Arrays = Sequence[np.ndarray | None]


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"expected {what} in [-{rank}, {rank}). Received: {what}={axis}")
    return axis % rank


class _Shape:
    """A shape op: ``rule(attrs, types) -> (dtype, shape)`` and ``compute(attrs, arrays) -> array``."""

    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        types = present(inputs, *cls.op.inputs)
        for t in types:
            accept(t, cls.op.dtypes)
        dtype, shape = cls.rule(attrs, types)
        return [TensorType(dtype, tuple(shape))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.ascontiguousarray(cls.compute(attrs, [np.asarray(x) for x in inputs]))]

    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        raise NotImplementedError

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class Reshape(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x, target = types[0], list(attrs["shape"])
        if target.count(-1) > 1 or any(d < -1 for d in target):
            raise ShapeError(f"expected sizes >= 0 with at most one -1. Received: shape={target}")
        size = None if None in x.shape else math.prod(x.shape)  # type: ignore[arg-type]
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if size is not None and (known == 0 or size % known):
                raise ShapeError(f"expected {size} elements to fit shape={target}. Received: input shape {list(x.shape)}")
            target[target.index(-1)] = None if size is None else size // known  # type: ignore[call-overload]
        elif size is not None and size != known:
            raise ShapeError(f"expected {known} elements for shape={target}. Received: input shape {list(x.shape)}")
        return x.dtype, tuple(target)

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return xs[0].reshape(attrs["shape"])


class Transpose(_Shape):
    @staticmethod
    def perm(attrs: dict[str, Any], rank: int) -> list[int]:
        perm = list(range(rank))[::-1] if attrs["perm"] is None else [p % rank if -rank <= p < rank else p for p in attrs["perm"]]
        if sorted(perm) != list(range(rank)):
            raise ShapeError(f"expected perm to be a permutation of 0..{rank - 1}. Received: perm={attrs['perm']}")
        return perm

    @classmethod
    def rule(cls, attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x = types[0]
        return x.dtype, tuple(x.shape[p] for p in cls.perm(attrs, len(x.shape)))

    @classmethod
    def compute(cls, attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.transpose(xs[0], cls.perm(attrs, xs[0].ndim))


def _listed(axis: int | list[int]) -> list[int]:
    return [axis] if isinstance(axis, int) else list(axis)


class ExpandDims(_Shape):
    @staticmethod
    def positions(attrs: dict[str, Any], rank: int) -> tuple[int, ...]:
        return axes_of(_listed(attrs["axis"]), rank + len(_listed(attrs["axis"])))

    @classmethod
    def rule(cls, attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x = types[0]
        at = cls.positions(attrs, len(x.shape))
        rest = iter(x.shape)
        return x.dtype, tuple(1 if i in at else next(rest) for i in range(len(x.shape) + len(at)))

    @classmethod
    def compute(cls, attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.expand_dims(xs[0], cls.positions(attrs, xs[0].ndim))


class Squeeze(_Shape):
    @staticmethod
    def axes(attrs: dict[str, Any], shape: Shape) -> tuple[int, ...]:
        if attrs["axis"] is None:
            if None in shape:
                raise ShapeError(f"expected a static shape to squeeze every size-1 axis (give axis). Received: {list(shape)}")
            return tuple(i for i, d in enumerate(shape) if d == 1)
        axes = axes_of(attrs["axis"], len(shape))
        if any(shape[a] not in (1, None) for a in axes):
            raise ShapeError(f"expected size-1 axes to squeeze. Received: axis={attrs['axis']}, shape {list(shape)}")
        return axes

    @classmethod
    def rule(cls, attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x = types[0]
        axes = cls.axes(attrs, x.shape)
        return x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes)

    @classmethod
    def compute(cls, attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.squeeze(xs[0], cls.axes(attrs, xs[0].shape))


def _joined(types: list[TensorType], axis: int, new: bool) -> tuple[str, Shape]:
    dtype = same_dtype(types)
    ranks = {len(t.shape) for t in types}
    if len(ranks) != 1:
        raise ShapeError(f"expected inputs of one rank. Received: shapes {[list(t.shape) for t in types]}")
    rank = ranks.pop()
    at = _axis(axis, rank + 1 if new else rank)
    out: list[int | None] = []
    for i in range(rank):
        dims = {t.shape[i] for t in types} - {None}
        if (new or i != at) and len(dims) > 1:
            raise ShapeError(f"expected equal sizes off the joined axis. Received: shapes {[list(t.shape) for t in types]}")
        if not new and i == at:
            sizes = [t.shape[i] for t in types]
            out.append(None if None in sizes else sum(sizes))  # type: ignore[arg-type]
        else:
            out.append(dims.pop() if dims else None)
    if new:
        out.insert(at, len(types))
    return dtype, tuple(out)


class Concatenate(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        return _joined(types, attrs["axis"], new=False)

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs, axis=attrs["axis"])


class Stack(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        return _joined(types, attrs["axis"], new=True)

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.stack(xs, axis=attrs["axis"])


class StridedSlice(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        return types[0].dtype, plan(attrs["index"], types[0].shape)[1]

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        steps, _ = plan(attrs["index"], xs[0].shape)
        key = tuple(v if kind == "pick" else None if kind == "new" else slice(*v) for kind, v in steps)
        return xs[0][key]


class Take(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x, indices = types
        if indices.dtype not in INTS:
            raise ShapeError(f"expected integer indices. Received: dtype={indices.dtype}")
        if attrs["axis"] is None:
            return x.dtype, indices.shape
        at = _axis(attrs["axis"], len(x.shape))
        return x.dtype, (*x.shape[:at], *indices.shape, *x.shape[at + 1 :])

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        x, indices = xs
        size = x.size if attrs["axis"] is None else x.shape[attrs["axis"]]
        if indices.size and (indices.min() < -size or indices.max() >= size):
            raise IndexError(f"expected indices in [-{size}, {size}). Received: [{indices.min()}, {indices.max()}]")
        return np.take(x, indices.astype(np.int64), axis=attrs["axis"])


class Pad(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x, pads = types[0], attrs["pads"]
        if len(pads) != len(x.shape) or any(len(p) != 2 or min(p) < 0 for p in pads):
            raise ShapeError(f"expected one [before, after] pair of sizes >= 0 per axis. Received: pads={pads}, shape {list(x.shape)}")
        if attrs["mode"] != "constant":
            limit = 0 if attrs["mode"] == "reflect" else 1  # reflect needs pads < size, symmetric pads <= size
            if any(d is not None and max(p) > d - 1 + limit for d, p in zip(x.shape, pads, strict=True) if max(p)):
                raise ShapeError(f"expected {attrs['mode']} pads within the axis sizes. Received: pads={pads}, shape {list(x.shape)}")
        return x.dtype, tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, pads, strict=True))

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        pads = [tuple(p) for p in attrs["pads"]]
        if attrs["mode"] == "constant":
            return np.pad(xs[0], pads, mode="constant", constant_values=np.asarray(attrs["value"]).astype(xs[0].dtype))
        return np.pad(xs[0], pads, mode=attrs["mode"])


class Tile(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x, reps = types[0], list(attrs["repeats"])
        if any(r < 0 for r in reps):
            raise ShapeError(f"expected repeats >= 0. Received: repeats={reps}")
        rank = max(len(reps), len(x.shape))
        shape = (1,) * (rank - len(x.shape)) + tuple(x.shape)
        reps = [1] * (rank - len(reps)) + reps
        return x.dtype, tuple(None if d is None else d * r for d, r in zip(shape, reps, strict=True))

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.tile(xs[0], attrs["repeats"])


class BroadcastTo(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        x, target = types[0], tuple(attrs["shape"])
        if len(target) < len(x.shape) or broadcast([x.shape, target]) != target:
            raise ShapeError(f"expected a shape the input broadcasts to. Received: shape={list(target)}, input shape {list(x.shape)}")
        return x.dtype, target

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(xs[0], attrs["shape"])


def matmul_shape(a: Shape, b: Shape) -> Shape:
    if not a or not b:
        raise ShapeError(f"expected inputs of rank >= 1. Received: shapes {list(a)}, {list(b)}")
    a2 = a if len(a) > 1 else (1, *a)
    b2 = b if len(b) > 1 else (*b, 1)
    if None not in (a2[-1], b2[-2]) and a2[-1] != b2[-2]:
        raise ShapeError(f"expected the contracted sizes to match. Received: shapes {list(a)}, {list(b)}")
    out = [*broadcast([a2[:-2], b2[:-2]]), a2[-2], b2[-1]]
    if len(b) == 1:
        out.pop(-1)  # the column axis added to b
    if len(a) == 1:
        out.pop(-2 if len(b) > 1 else -1)  # the row axis added to a
    return tuple(out)


class Matmul(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        return same_dtype(types), matmul_shape(types[0].shape, types[1].shape)

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.matmul(compute(xs[0]), compute(xs[1])).astype(xs[0].dtype)


class Einsum(_Shape):
    @staticmethod
    def rule(attrs: dict[str, Any], types: list[TensorType]) -> tuple[str, Shape]:
        return same_dtype(types), einsum_shape(attrs["equation"], [t.shape for t in types])

    @staticmethod
    def compute(attrs: dict[str, Any], xs: list[np.ndarray]) -> np.ndarray:
        return np.einsum(attrs["equation"], *[compute(x) for x in xs]).astype(xs[0].dtype)


def _ints(what: str, **extra: Any) -> dict[str, Any]:
    return {"description": what, "type": "array", "items": {"type": "integer"}, **extra}


_AXIS1 = {"description": "The axis (negative counts from the end).", "default": 0, "type": "integer"}
_SLICE = {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": ["integer", "null"]}}
_ITEM = {"oneOf": [{"type": "integer"}, _SLICE, {"enum": ["newaxis", "..."]}]}


def _op(
    name: str,
    summary: str,
    math: str,
    kernel: type,
    inputs: tuple[int, int | None] = (1, 1),
    tol: Any = EXACT,
    dtypes: str = "any",
    **attrs: Any,
) -> Op:
    return Op(name, "shape", summary, math, kernel, inputs, attrs, tolerance=tol, dtypes=dtypes, torch="", onnx="")


OPS: list[Op] = [
    _op(
        "reshape",
        "Gives the tensor a new shape with the same elements in row-major order.",
        "y = x.reshape(shape); one -1 is inferred",
        Reshape,
        shape=_ints("The output shape: sizes >= 0 and at most one -1."),
    ),
    _op(
        "transpose",
        "Permutes the axes.",
        "y.shape[i] = x.shape[perm[i]]; null perm reverses the axes",
        Transpose,
        perm={"description": "A permutation of 0..rank-1, or null (reverse).", "default": None, "oneOf": [{"type": "null"}, _ints("")]},
    ),
    _op(
        "expand_dims",
        "Inserts size-1 axes.",
        "axis: the new axes' positions in the output",
        ExpandDims,
        axis={"description": "Positions of the new axes in the output.", "oneOf": [{"type": "integer"}, _ints("", minItems=1)]},
    ),
    _op(
        "squeeze",
        "Removes size-1 axes.",
        "null axis: every size-1 axis (needs a static shape)",
        Squeeze,
        axis={
            "description": "The size-1 axes to remove; null removes every one.",
            "default": None,
            "oneOf": [{"type": "null"}, {"type": "integer"}, _ints("")],
        },
    ),
    _op("concatenate", "Joins the inputs along an existing axis.", "sizes off axis MUST match", Concatenate, (1, None), axis=_AXIS1),
    _op(
        "stack",
        "Joins the inputs along a new axis.",
        "the inputs' shapes MUST match; axis: the new axis in the output",
        Stack,
        (1, None),
        axis=_AXIS1,
    ),
    _op(
        "strided_slice",
        "NumPy basic indexing x[index]: integers, slices with any step, new axes and an ellipsis.",
        "y = x[index]; slice bounds follow Python's slice.indices (negative steps walk backwards, bounds are clamped); "
        "an integer outside [-size, size) is an error",
        StridedSlice,
        index={
            "description": "Index items: integer, [start, stop, step] (null = default), 'newaxis' or '...'.",
            "type": "array",
            "items": _ITEM,
        },
    ),
    _op(
        "take",
        "Gathers positions along an axis: x indexed by the integer tensor indices.",
        "y = numpy.take(x, indices, axis); negative indices count from the end; out-of-range indices are an error",
        Take,
        (2, 2),
        axis={
            "description": "The axis to gather from; null gathers from the flattened tensor.",
            "default": None,
            "type": ["integer", "null"],
        },
    ),
    _op(
        "pad",
        "Pads every axis by [before, after] elements.",
        "constant: value; reflect: mirrored without the edge; symmetric: with it",
        Pad,
        pads={"description": "One [before, after] pair per axis.", "type": "array", "items": _ints("", minItems=2, maxItems=2)},
        mode={"description": "How new elements are filled.", "default": "constant", "enum": ["constant", "reflect", "symmetric"]},
        value={"description": "The fill value in constant mode.", "default": 0, "type": "number"},
    ),
    _op(
        "tile",
        "Repeats the tensor along each axis.",
        "numpy.tile: repeats shorter than the rank are padded with leading 1s",
        Tile,
        repeats=_ints("Repetitions per axis (>= 0)."),
    ),
    _op("broadcast_to", "Broadcasts the tensor to a shape.", "NumPy broadcasting to shape", BroadcastTo, shape=_ints("The target shape.")),
    _op(
        "matmul",
        "Matrix product with NumPy's rules: batch axes broadcast, 1-D operands are promoted and the added axis removed.",
        "y = numpy.matmul(a, b)",
        Matmul,
        (2, 2),
        SUMMED,
        "numeric",
    ),
    _op(
        "einsum",
        "Einstein summation over the inputs.",
        "y = numpy.einsum(equation, *inputs) (explicit or implicit output, '...')",
        Einsum,
        (1, None),
        SUMMED,
        "numeric",
        equation={"description": "The subscripts, e.g. 'bij,bjk->bik'.", "type": "string", "maxLength": 256},
    ),
]
