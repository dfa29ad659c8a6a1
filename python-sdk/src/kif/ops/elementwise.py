"""Element-wise primitive ops (spec/ops/elementwise.md): unary math, broadcasting binary arithmetic, comparisons,
logic, ``where``, ``cast``, ``clip`` and ``constant``. Each row names its NumPy function; the kernels apply it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from kif.layers.activations import erf, sigmoid
from kif.layers.registry import ShapeError, TensorType
from kif.ops import EXACT, ROUNDED, Op, Tol
from kif.ops._types import DTYPES, accept, broadcast, compute, present, same_dtype

Types = Sequence[TensorType | None]
Arrays = Sequence[np.ndarray | None]


class _Kernel:
    op: ClassVar[Op]
    out: ClassVar[str | None] = None  # output dtype when fixed (bool for comparisons and logic)

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        types = present(inputs, *cls.op.inputs)
        for t in types:
            accept(t, cls.op.dtypes)
        dtype = same_dtype(types) if cls.out is None else cls.out
        return [TensorType(dtype, broadcast([t.shape for t in types]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        xs = [np.asarray(x) for x in inputs]
        with np.errstate(all="ignore"):  # inf, nan and integer division by zero follow NumPy (spec/ops/index.md)
            y = np.asarray(cls.op.numpy(*[compute(x) for x in xs]))
        return [y.astype(cls.out or xs[0].dtype)]


class Unary(_Kernel):
    pass


class Binary(_Kernel):
    pass


class Predicate(_Kernel):  # comparisons and logic: bool results
    out = "bool"


class Where:
    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        cond, x, y = present(inputs, 3, 3)
        return [TensorType(same_dtype([x, y]), broadcast([cond.shape, x.shape, y.shape]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        cond, x, y = (np.asarray(a) for a in inputs)
        return [np.where(cond.astype(bool), x, y)]


class Cast:
    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        (x,) = present(inputs, 1, 1)
        return [TensorType(attrs["dtype"], x.shape)]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        from kif.dtypes import by_name

        x = np.asarray(inputs[0])
        target = np.dtype(by_name(attrs["dtype"]).numpy)
        with np.errstate(all="ignore"):
            return [
                (x != 0)
                if target == np.bool_
                else np.trunc(x).astype(target)
                if x.dtype.kind == "f" and target.kind in "iu"
                else x.astype(target)
            ]


class Clip:
    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        (x,) = present(inputs, 1, 1)
        accept(x, "numeric")
        if attrs["min"] > attrs["max"]:
            raise ShapeError(f"expected min <= max. Received: min={attrs['min']}, max={attrs['max']}")
        return [x]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        return [np.minimum(np.maximum(compute(x), attrs["min"]), attrs["max"]).astype(x.dtype)]


class Constant:
    op: ClassVar[Op]

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: Types, weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        present(inputs, 0, 0)
        return [TensorType(attrs["dtype"], tuple(weights["value"]))]

    @classmethod
    def run(cls, attrs: dict[str, Any], inputs: Arrays, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        from kif.dtypes import by_name

        return [np.array(weights["value"], dtype=np.dtype(by_name(attrs["dtype"]).numpy))]


def _unary(name: str, math: str, fn: Any, torch: str, onnx: str, dtypes: str = "float", tol: Tol = ROUNDED) -> Op:
    return Op(
        name, "elementwise", f"Element-wise {math}.", f"y = {math}", Unary, numpy=fn, torch=torch, onnx=onnx, dtypes=dtypes, tolerance=tol
    )


def _binary(name: str, math: str, fn: Any, torch: str, onnx: str, dtypes: str = "numeric", tol: Tol = EXACT, kernel: type = Binary) -> Op:
    summary = f"Element-wise {math}, with broadcasting."
    return Op(name, "elementwise", summary, f"z = {math}", kernel, (2, 2), numpy=fn, torch=torch, onnx=onnx, dtypes=dtypes, tolerance=tol)


def _mod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.mod(x, y)  # the sign of the divisor (Python %, TensorFlow floormod)


_NUMBER = {"type": "number"}
MOD = Tol((1e-6, 1e-6), (1e-3, 1e-3), "Float mod is fmod-based in NumPy and torch, x - floor(x / y) * y elsewhere: they round differently.")
_DTYPE = {"description": "The output dtype.", "enum": DTYPES}

OPS: list[Op] = [
    _unary("abs", "|x|", np.abs, "abs", "Abs", "numeric", EXACT),
    _unary("neg", "-x", np.negative, "neg", "Neg", "numeric", EXACT),
    _unary("exp", "exp(x)", np.exp, "exp", "Exp"),
    _unary("log", "log(x) (natural; nan for x < 0, -inf at 0)", np.log, "log", "Log"),
    _unary("log1p", "log(1 + x)", np.log1p, "log1p", ""),
    _unary("sqrt", "sqrt(x) (nan for x < 0)", np.sqrt, "sqrt", "Sqrt"),
    _unary("rsqrt", "1 / sqrt(x)", lambda x: 1 / np.sqrt(x), "rsqrt", ""),
    _unary("square", "x * x", np.square, "square", "", "numeric", EXACT),
    _unary("reciprocal", "1 / x", np.reciprocal, "reciprocal", "Reciprocal", tol=EXACT),
    _unary("sin", "sin(x)", np.sin, "sin", "Sin"),
    _unary("cos", "cos(x)", np.cos, "cos", "Cos"),
    _unary("tan", "tan(x)", np.tan, "tan", "Tan"),
    _unary("tanh", "tanh(x)", np.tanh, "tanh", "Tanh"),
    _unary("sigmoid", "1 / (1 + exp(-x))", sigmoid, "sigmoid", "Sigmoid"),
    _unary("erf", "erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt", erf, "erf", "Erf"),
    _unary("floor", "floor(x)", np.floor, "floor", "Floor", tol=EXACT),
    _unary("ceil", "ceil(x)", np.ceil, "ceil", "Ceil", tol=EXACT),
    _unary("round", "x rounded to the nearest integer, halves to even", np.round, "round", "Round", tol=EXACT),
    _unary("sign", "sign(x): -1, 0 or 1 (0 for 0; nan for nan)", np.sign, "sign", "Sign", "numeric", EXACT),
    _binary("add", "x + y", np.add, "add", "Add"),
    _binary("subtract", "x - y", np.subtract, "sub", "Sub"),
    _binary("multiply", "x * y", np.multiply, "mul", "Mul"),
    _binary("divide", "x / y (true division; floats only)", np.true_divide, "div", "Div", "float"),
    _binary("floor_divide", "floor(x / y)", np.floor_divide, "floor_divide", ""),
    _binary("mod", "x - floor(x / y) * y (the sign of y, as Python's %)", _mod, "remainder", "", tol=MOD),
    _binary("power", "x ** y (floats only)", np.power, "pow", "Pow", "float", ROUNDED),
    _binary("maximum", "max(x, y)", np.maximum, "maximum", "Max"),
    _binary("minimum", "min(x, y)", np.minimum, "minimum", "Min"),
    _binary("equal", "x == y", np.equal, "eq", "Equal", "any", kernel=Predicate),
    _binary("not_equal", "x != y", np.not_equal, "ne", "", "any", kernel=Predicate),
    _binary("less", "x < y", np.less, "lt", "Less", kernel=Predicate),
    _binary("less_equal", "x <= y", np.less_equal, "le", "LessOrEqual", kernel=Predicate),
    _binary("greater", "x > y", np.greater, "gt", "Greater", kernel=Predicate),
    _binary("greater_equal", "x >= y", np.greater_equal, "ge", "GreaterOrEqual", kernel=Predicate),
    _binary("logical_and", "x AND y (non-zero is true)", np.logical_and, "logical_and", "And", "any", kernel=Predicate),
    _binary("logical_or", "x OR y (non-zero is true)", np.logical_or, "logical_or", "Or", "any", kernel=Predicate),
    _binary("logical_xor", "x XOR y (non-zero is true)", np.logical_xor, "logical_xor", "Xor", "any", kernel=Predicate),
    Op(
        "logical_not",
        "elementwise",
        "Element-wise NOT (non-zero is true).",
        "y = NOT x",
        Predicate,
        numpy=np.logical_not,
        torch="logical_not",
        onnx="Not",
    ),
    Op(
        "where",
        "elementwise",
        "Element-wise choice: x where cond is true (non-zero), else y; the three broadcast.",
        "out = cond ? x : y",
        Where,
        (3, 3),
        torch="where",
        onnx="Where",
    ),
    Op(
        "cast",
        "elementwise",
        "Converts to another dtype.",
        "y = x in `dtype`: floats to integers truncate toward zero (a value outside the target's range is unspecified), "
        "any value to bool is x != 0, bool to numbers is 0 or 1, floats round to nearest even.",
        Cast,
        attributes={"dtype": _DTYPE},
    ),
    Op(
        "clip",
        "elementwise",
        "Clamps every element to [min, max].",
        "y = min(max(x, min), max)",
        Clip,
        dtypes="numeric",
        attributes={"min": {"description": "Lower bound.", **_NUMBER}, "max": {"description": "Upper bound (>= min).", **_NUMBER}},
    ),
    Op(
        "constant",
        "elementwise",
        "A tensor stored as a weight: no inputs, one output.",
        "y = value (cast to `dtype`)",
        Constant,
        (0, 0),
        attributes={"dtype": _DTYPE},
        weights={"value": {"rank": None, "layout": "the output", "description": "The tensor's value."}},
    ),
]
