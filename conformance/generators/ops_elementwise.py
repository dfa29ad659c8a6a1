"""Cases for the element-wise primitive ops (spec/ops/elementwise.md): Keras 3 models of keras.ops calls.

``python conformance/generators/ops_elementwise.py [OUT_ROOT]`` rewrites ``cases/ops_elementwise/``. Expected values
come from Keras (``model.predict``); ``op.exp``/``op.tanh``/``op.sigmoid`` (which the converter writes as the
Activation layer) are built with ``kif.GraphBuilder`` around the same Keras model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import _suite as s
import kif
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

ops = K.ops
UNARY: dict[str, tuple[Callable[[Any], Any], str]] = {
    "abs": (ops.abs, "any"),
    "neg": (ops.negative, "any"),
    "log": (ops.log, "positive"),
    "log1p": (ops.log1p, "positive"),
    "sqrt": (ops.sqrt, "positive"),
    "rsqrt": (ops.rsqrt, "positive"),
    "square": (ops.square, "any"),
    "reciprocal": (ops.reciprocal, "positive"),
    "sin": (ops.sin, "any"),
    "cos": (ops.cos, "any"),
    "tan": (ops.tan, "small"),
    "erf": (ops.erf, "any"),
    "floor": (ops.floor, "any"),
    "ceil": (ops.ceil, "any"),
    "round": (ops.round, "halves"),
    "sign": (ops.sign, "any"),
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": ops.add,
    "subtract": ops.subtract,
    "multiply": ops.multiply,
    "divide": ops.divide,
    "floor_divide": ops.floor_divide,
    "mod": ops.mod,
    "maximum": ops.maximum,
    "minimum": ops.minimum,
    "less": ops.less,
    "less_equal": ops.less_equal,
    "greater": ops.greater,
    "greater_equal": ops.greater_equal,
}
HALVES = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 3.0]], "float32").repeat(2, 0)


def _inputs(case_id: str, kind: str) -> list[np.ndarray]:
    x = s.normal(s.rng_for(case_id, "inputs"), 2, 8) * 2
    return [{"positive": np.abs(x) + 0.1, "small": x / 3, "halves": HALVES}.get(kind, x).astype("float32")]


def _op_bundle(op_type: str, n: int, **attrs: Any) -> Callable[[Any], kif.Model]:
    def make(model: Any) -> kif.Model:
        b = kif.GraphBuilder(model.name)
        names = [b.input(t.name, K.backend.standardize_dtype(t.dtype), tuple(t.shape)) for t in model.inputs]
        b.output(b.add(op_type, names[:n] if n > 1 else names[0], name="op", **attrs))
        return b.build()

    return make


def cases() -> Iterator[Case]:
    for case in _cases():
        case.id = f"op-{case.id}"  # unique across groups (layers_merge has add-broadcast)
        yield case


def _cases() -> Iterator[Case]:
    for name, (fn, kind) in UNARY.items():
        cid = f"{name.replace('_', '-')}-f32"
        yield layer_case(cid, f"op.{name} on float32", lambda f=fn: f, (8,), inputs=_inputs(cid, kind))
    for name, fn in (("exp", ops.exp), ("tanh", ops.tanh), ("sigmoid", ops.sigmoid)):
        cid = f"{name}-f32"
        yield layer_case(cid, f"op.{name} on float32", lambda f=fn: f, (8,), inputs=_inputs(cid, "any"), bundle=_op_bundle(f"op.{name}", 1))
    for name, fn in BINARY.items():
        # two-tensor add, subtract, multiply, maximum, minimum convert to merge layers: the bundle names the op
        bundle = _op_bundle(f"op.{name}", 2) if name in ("add", "subtract", "multiply", "maximum", "minimum") else None
        cid, what = f"{name.replace('_', '-')}-broadcast", f"op.{name} broadcasting (3, 4) with (1, 4)"
        yield layer_case(cid, what, lambda f=fn: lambda xs: f(*xs), (3, 4), (1, 4), bundle=bundle)
    yield layer_case("power-f32", "op.power of a positive base", lambda: lambda xs: ops.power(ops.abs(xs[0]) + 0.5, xs[1]), (6,), (6,))
    for name, fn in (("equal", ops.equal), ("not_equal", ops.not_equal)):
        yield layer_case(
            f"{name.replace('_', '-')}-int32",
            f"op.{name} on int32",
            lambda f=fn: lambda xs: f(*xs),
            (6,),
            (6,),
            dtype="int32",
            inputs=[np.array([[1, 2, 3, -1, 0, 5]] * 2, "int32"), np.array([[1, 0, 3, 1, 0, -5]] * 2, "int32")],
        )
    ints = [np.array([[-7, 7, -8, 5, 0, 9]] * 2, "int32"), np.array([[2, -2, 3, -3, 4, 4]] * 2, "int32")]
    for name, fn in (("floor_divide", ops.floor_divide), ("mod", ops.mod)):
        yield layer_case(
            f"{name.replace('_', '-')}-int32",
            f"op.{name} of negative int32 (Python floor rule)",
            lambda f=fn: lambda xs: f(*xs),
            (6,),
            (6,),
            dtype="int32",
            inputs=ints,
        )
    bools = [np.array([[True, True, False, False]] * 2), np.array([[True, False, True, False]] * 2)]
    for name, fn in (("logical_and", ops.logical_and), ("logical_or", ops.logical_or), ("logical_xor", ops.logical_xor)):
        yield layer_case(
            f"{name.replace('_', '-')}-bool",
            f"op.{name} truth table",
            lambda f=fn: lambda xs: f(*xs),
            (4,),
            (4,),
            dtype="bool",
            inputs=bools,
        )
    yield layer_case("logical-not-bool", "op.logical_not of bools", lambda: ops.logical_not, (4,), dtype="bool", inputs=bools[:1])
    yield layer_case(
        "where-broadcast",
        "op.where choosing between broadcast inputs",
        lambda: lambda xs: ops.where(xs[0] > 0, xs[0], xs[1]),
        (3, 4),
        (1, 4),
    )
    yield layer_case(
        "constant-scalar", "op.constant from Python numbers in keras.ops calls", lambda: lambda x: ops.maximum(x, 0.25) ** 3, (5,)
    )
    mixed = [np.array([[-2.7, -0.5, 0.0, 0.4, 1.9, 300.0]] * 2, "float32")]
    yield layer_case("cast-float-int32", "op.cast truncates floats toward zero", lambda: lambda x: ops.cast(x, "int32"), (6,), inputs=mixed)
    yield layer_case(
        "cast-bool-float32", "op.cast of bools to float32", lambda: lambda x: ops.cast(x, "float32"), (4,), dtype="bool", inputs=bools[:1]
    )
    yield layer_case("clip-f32", "op.clip to [-1, 1]", lambda: lambda x: ops.clip(x, -1.0, 1.0), (6,), inputs=mixed)
    yield layer_case(
        "add-f16",
        "op.add on float16 with a length-1 axis",
        lambda: lambda xs: ops.add(xs[0], xs[1]),
        (3, 4),
        (1, 4),
        dtype="float16",
        level="extended",
    )


if __name__ == "__main__":
    s.main("ops_elementwise", cases)
