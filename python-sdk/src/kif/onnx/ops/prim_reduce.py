"""Reductions (spec/ops/reductions.md) as ONNX nodes (opset 18+: axes are an input)."""

from __future__ import annotations

from typing import Any

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.ops.reductions import axes_of

Names = list[str | None]
_DIRECT = {
    "sum": "ReduceSum",
    "mean": "ReduceMean",
    "max": "ReduceMax",
    "min": "ReduceMin",
    "prod": "ReduceProd",
    "logsumexp": "ReduceLogSumExp",
}


def _x(inputs: Names) -> str:
    assert inputs[0] is not None
    return inputs[0]


def _reduce(ctx: Ctx, op: str, x: str, axes: tuple[int, ...], keep: bool) -> str:
    if not axes:
        return ctx.node("Identity", [x])
    return ctx.node(op, [x, ctx.ints(axes)], keepdims=int(keep))


def _axes(ctx: Ctx, attrs: dict[str, Any], x: str) -> tuple[int, ...]:
    return axes_of(attrs["axis"], ctx.rank(x))


def _direct(op: str) -> Any:
    def emit(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
        x = _x(inputs)
        return [_reduce(ctx, op, x, _axes(ctx, attrs, x), attrs["keepdims"])]

    return emit


for _name, _op in _DIRECT.items():
    emits(f"op.{_name}")(_direct(_op))


def _variance(ctx: Ctx, x: str, axes: tuple[int, ...], keep: bool) -> str:
    deviation = ctx.node("Sub", [x, _reduce(ctx, "ReduceMean", x, axes, True)])
    return _reduce(ctx, "ReduceMean", ctx.node("Mul", [deviation, deviation]), axes, keep)


@emits("op.var")
def _var(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    return [_variance(ctx, x, _axes(ctx, attrs, x), attrs["keepdims"])]


@emits("op.std")
def _std(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    return [ctx.node("Sqrt", [_variance(ctx, x, _axes(ctx, attrs, x), attrs["keepdims"])])]


@emits("op.any", "op.all")
def _any_all(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    truth = x if ctx.type_of(x).dtype == "bool" else ctx.node("Not", [ctx.node("Equal", [x, ctx.scalar(0, x)])])
    as_int = ctx.node("Cast", [truth], to=ONNX_DTYPES["int32"])
    op = "ReduceMax" if ctx.layer is not None and ctx.layer.type == "op.any" else "ReduceMin"
    axes = _axes(ctx, attrs, x)
    return [ctx.node("Cast", [_reduce(ctx, op, as_int, axes, attrs["keepdims"])], to=ONNX_DTYPES["bool"])]


@emits("op.argmax", "op.argmin")
def _arg(ctx: Ctx, attrs: dict[str, Any], inputs: Names) -> list[str]:
    x = _x(inputs)
    op = "ArgMax" if ctx.layer is not None and ctx.layer.type == "op.argmax" else "ArgMin"
    if attrs["axis"] is None:
        flat = ctx.node("Reshape", [x, ctx.ints([-1])])
        y = ctx.node(op, [flat], axis=0, keepdims=0)
        if attrs["keepdims"]:
            y = ctx.node("Reshape", [y, ctx.ints([1] * ctx.rank(x))])
    else:
        y = ctx.node(op, [x], axis=attrs["axis"] % ctx.rank(x), keepdims=int(attrs["keepdims"]), select_last_index=0)
    return [ctx.node("Cast", [y], to=ONNX_DTYPES[attrs["dtype"]])]
