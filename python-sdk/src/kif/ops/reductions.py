"""Reductions (spec/ops/reductions.md): sum, mean, max, min, prod, var, std, logsumexp, argmax, argmin, any, all
over ``axis`` (null: every axis), keeping reduced axes as size 1 when ``keepdims``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from kif.layers.registry import ShapeError, TensorType
from kif.ops import EXACT, SUMMED, Op
from kif.ops._types import accept, compute, present

Types = Sequence[TensorType | None]
Arrays = Sequence[np.ndarray | None]


def axes_of(axis: Any, rank: int) -> tuple[int, ...]:
    """``axis`` (null, an integer or a list) → sorted non-negative axes; every axis when null."""
    listed = list(range(rank)) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    if listed and (rank == 0 or any(not -rank <= a < rank for a in listed) or len({a % rank for a in listed}) != len(listed)):
        raise ShapeError(f"expected distinct axes in [-{rank}, {rank}). Received: axis={axis}")
    return tuple(sorted(a % rank for a in listed))


def reduced_shape(shape: Sequence[int | None], axes: tuple[int, ...], keepdims: bool) -> tuple[int | None, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdims else tuple(d for i, d in enumerate(shape) if i not in axes)


def _logsumexp(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(peak), peak, 0)  # all -inf: the result is -inf; +inf stays +inf
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


class Reduce:
    op: ClassVar[Op]
    NONEMPTY: ClassVar[frozenset[str]] = frozenset({"max", "min", "argmax", "argmin"})

    @classmethod
    def out_dtype(cls, attrs: dict[str, Any], x: TensorType) -> str:
        return {"any": "bool", "all": "bool"}.get(cls.op.name, attrs.get("dtype", x.dtype))

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        (x,) = present(inputs, 1, 1)
        accept(x, cls.op.dtypes)
        axes = axes_of(attrs["axis"], len(x.shape))
        if cls.op.name in cls.NONEMPTY and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"expected non-empty reduced axes for {cls.op.type}. Received: shape {list(x.shape)}, axis={attrs['axis']}")
        return [TensorType(cls.out_dtype(attrs, x), reduced_shape(x.shape, axes, attrs["keepdims"]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axes, keep = axes_of(attrs["axis"], x.ndim), attrs["keepdims"]
        name = cls.op.name
        target = np.dtype("bool") if name in ("any", "all") else x.dtype
        with np.errstate(all="ignore"):
            if name in ("argmax", "argmin"):
                y = _arg(np.argmax if name == "argmax" else np.argmin, x, attrs["axis"], keep)
                return [y.astype(attrs["dtype"])]
            data = x != 0 if name in ("any", "all") else compute(x)
            y = cls.op.numpy(data, axis=axes, keepdims=keep)
        return [np.asarray(y).astype(target)]


def _arg(fn: Any, x: np.ndarray, axis: int | None, keep: bool) -> np.ndarray:
    if axis is None:
        flat = fn(x.reshape(-1))
        return np.asarray(flat).reshape((1,) * x.ndim if keep else ())
    return np.asarray(fn(x, axis=axis, keepdims=keep))


_AXIS = {
    "description": "The axes to reduce: null (every axis), one integer or a list of distinct integers (negative counts from the end).",
    "default": None,
    "oneOf": [{"type": "null"}, {"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}],
}
_ONE_AXIS = {"description": "The axis to search; null searches the flattened tensor.", "default": None, "type": ["integer", "null"]}
_KEEP = {"description": "Keep each reduced axis as size 1.", "default": False, "type": "boolean"}
_INDEX = {"description": "The dtype of the indices.", "default": "int64", "enum": ["int32", "int64"]}


def _reduce(name: str, math: str, fn: Any, torch: str, onnx: str, dtypes: str = "numeric", tol: Any = SUMMED) -> Op:
    attrs = {"axis": _AXIS, "keepdims": _KEEP}
    return Op(
        name,
        "reductions",
        f"The {math} over axis.",
        math,
        Reduce,
        attributes=attrs,
        tolerance=tol,
        dtypes=dtypes,
        numpy=fn,
        torch=torch,
        onnx=onnx,
    )


def _var(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.var(x, axis=axis, keepdims=keepdims)  # population variance (divides by N)


OPS: list[Op] = [
    _reduce("sum", "sum of the elements", np.sum, "sum", "ReduceSum"),
    _reduce("mean", "arithmetic mean (sum / N)", np.mean, "mean", "ReduceMean", "float"),
    _reduce("max", "largest element (the reduced axes MUST NOT be empty)", np.max, "amax", "ReduceMax", tol=EXACT),
    _reduce("min", "smallest element (the reduced axes MUST NOT be empty)", np.min, "amin", "ReduceMin", tol=EXACT),
    _reduce("prod", "product of the elements", np.prod, "", "ReduceProd"),
    _reduce("var", "population variance mean((x - mean(x))^2)", _var, "", "", "float"),
    _reduce("std", "population standard deviation sqrt(var(x))", np.std, "", "", "float"),
    _reduce(
        "logsumexp",
        "log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m the maximum",
        _logsumexp,
        "logsumexp",
        "ReduceLogSumExp",
        "float",
    ),
    _reduce("any", "OR of the elements (non-zero is true; false over no elements)", np.any, "", "", "any", EXACT),
    _reduce("all", "AND of the elements (non-zero is true; true over no elements)", np.all, "", "", "any", EXACT),
    *[
        Op(
            name,
            "reductions",
            f"The index of the {word} element along axis (the first one on ties).",
            f"index of the {word} along axis; null: in the flattened tensor, as a scalar (shape [] or all 1 with keepdims)",
            Reduce,
            attributes={"axis": _ONE_AXIS, "keepdims": _KEEP, "dtype": _INDEX},
            dtypes="numeric",
            torch=name,
            onnx="",
        )
        for name, word in (("argmax", "largest"), ("argmin", "smallest"))
    ],
]
