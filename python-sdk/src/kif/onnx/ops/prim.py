"""Primitive ops (spec/ops/index.md) as ONNX nodes, from the op table: a row's ``onnx`` operator is applied to the
inputs (logic inputs cast to bool first); the ops without one direct operator have a dedicated emitter below."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import EMITTERS, Emitter, emits
from kif.ops import Op, ops

Names = list[str | None]


def _xs(inputs: Names) -> list[str]:
    assert all(i is not None for i in inputs)
    return [i for i in inputs if i is not None]


def _bool(ctx: Ctx, x: str) -> str:
    return x if ctx.type_of(x).dtype == "bool" else ctx.node("Cast", [x], to=ONNX_DTYPES["bool"])


def _float(ctx: Ctx, x: str) -> bool:
    return ctx.np_dtype(x).kind == "f" or ctx.type_of(x).dtype == "bfloat16"


def _direct(op: Op) -> Emitter:
    logic = op.name.startswith("logical_")

    def emit(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
        xs = [_bool(ctx, x) for x in _xs(inputs)] if logic else _xs(inputs)
        return [ctx.node(op.onnx, xs)]

    return emit


@emits("op.log1p")
def _log1p(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    (x,) = _xs(inputs)
    return [ctx.node("Log", [ctx.node("Add", [x, ctx.scalar(1.0, x)])])]


@emits("op.rsqrt")
def _rsqrt(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("Reciprocal", [ctx.node("Sqrt", _xs(inputs))])]


@emits("op.square")
def _square(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    (x,) = _xs(inputs)
    return [ctx.node("Mul", [x, x])]


@emits("op.not_equal")
def _not_equal(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    return [ctx.node("Not", [ctx.node("Equal", _xs(inputs))])]


@emits("op.floor_divide")
def _floor_divide(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, y = _xs(inputs)
    if _float(ctx, x):
        return [ctx.node("Floor", [ctx.node("Div", [x, y])])]
    # integers: x - mod(x, y) is an exact multiple of y, so ONNX's truncating Div is exact
    return [ctx.node("Div", [ctx.node("Sub", [x, ctx.node("Mod", [x, y], fmod=0)]), y])]


@emits("op.mod")
def _mod(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x, y = _xs(inputs)
    if _float(ctx, x):  # ONNX Mod needs fmod=1 (C's sign) for floats; the spec's mod has the divisor's sign
        return [ctx.node("Sub", [x, ctx.node("Mul", [ctx.node("Floor", [ctx.node("Div", [x, y])]), y])])]
    return [ctx.node("Mod", [x, y], fmod=0)]


@emits("op.where")
def _where(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    c, x, y = _xs(inputs)
    return [ctx.node("Where", [_bool(ctx, c), x, y])]


@emits("op.cast")
def _cast(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    (x,) = _xs(inputs)
    target = attrs["dtype"]
    if target == "bool":
        return [ctx.node("Not", [ctx.node("Equal", [x, ctx.scalar(0, x)])])]
    return [ctx.node("Cast", [x], to=ONNX_DTYPES[target])]


@emits("op.clip")
def _clip(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    (x,) = _xs(inputs)
    return [ctx.node("Clip", [x, ctx.scalar(attrs["min"], x), ctx.scalar(attrs["max"], x)])]


@emits("op.constant")
def _constant(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    dtype = ctx.out_dtype(0)
    return [ctx.node("Identity", [ctx.const(ctx.weight("value", np.dtype(dtype)), hint="value")])]


for _op in ops().values():
    if _op.type not in EMITTERS and _op.onnx and _op.family == "elementwise":
        emits(_op.type)(_direct(_op))

from kif.onnx.ops import prim_axis, prim_reduce, prim_shape  # noqa: E402, F401  (registration of the other families)
