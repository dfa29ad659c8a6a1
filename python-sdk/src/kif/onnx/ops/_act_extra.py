"""The activations added in KIF 0.2.0 (spec/layers/activations.md) as ONNX nodes (opset 21, standard domain)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kif.onnx._context import ONNX_DTYPES, Ctx

NAMES = frozenset(
    {"celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax",
     "squareplus", "tanh_shrink"}
)  # fmt: skip


def activation(ctx: Ctx, name: str, like: str | np.dtype, x: str) -> str:
    def c(value: float) -> str:
        return ctx.scalar(value, like)

    if name == "celu":  # alpha = 1: max(x, 0) + min(exp(x) - 1, 0) is elu (ONNX Celu is float32-only)
        return ctx.node("Elu", [x], alpha=1.0)
    if name == "glu":
        a, gate = ctx.node("Split", [x], outputs=2, axis=-1, num_outputs=2)
        return ctx.node("Mul", [a, ctx.node("Sigmoid", [gate])])
    if name in ("hard_shrink", "soft_shrink"):  # Shrink: x - bias if x > lambd, x + bias if x < -lambd, else 0
        return ctx.node("Shrink", [x], lambd=0.5, bias=0.5 if name == "soft_shrink" else 0.0)
    if name == "hard_tanh":
        return ctx.node("Clip", [x, c(-1.0), c(1.0)])
    if name == "log_sigmoid":
        return ctx.node("Neg", [ctx.node("Softplus", [ctx.node("Neg", [x])])])
    if name == "sparse_plus":
        square = ctx.node("Mul", [ctx.node("Mul", [ctx.node("Add", [x, c(1.0)]), ctx.node("Add", [x, c(1.0)])]), c(0.25)])
        inner = ctx.node("Where", [ctx.node("Less", [x, c(1.0)]), square, x])
        return ctx.node("Where", [ctx.node("LessOrEqual", [x, c(-1.0)]), c(0.0), inner])
    if name == "sparse_sigmoid":
        return ctx.node("Clip", [ctx.node("Mul", [ctx.node("Add", [x, c(1.0)]), c(0.5)]), c(0.0), c(1.0)])
    if name == "squareplus":
        return _squareplus(ctx, x, c)
    if name == "tanh_shrink":
        return ctx.node("Sub", [x, ctx.node("Tanh", [x])])
    if name == "sparsemax":
        return _sparsemax(ctx, x, like)
    raise ctx.refuse(f"activation {name!r} has no ONNX form here")


def _squareplus(ctx: Ctx, x: str, c: Callable[[float], str]) -> str:
    """x/2 + r/2 for x >= 0, 1 / (r/2 + |x|/2) otherwise, r = hypot(x, 2) = m sqrt((x/m)² + (2/m)²), m = max(|x|, 2)."""
    m = ctx.node("Max", [ctx.node("Abs", [x]), c(2.0)])
    u, v = ctx.node("Div", [x, m]), ctx.node("Div", [c(2.0), m])
    root = ctx.node("Mul", [m, ctx.node("Sqrt", [ctx.node("Add", [ctx.node("Mul", [u, u]), ctx.node("Mul", [v, v])])])])
    half_root, half_x = ctx.node("Mul", [root, c(0.5)]), ctx.node("Mul", [x, c(0.5)])
    negative = ctx.node("Reciprocal", [ctx.node("Add", [half_root, ctx.node("Abs", [half_x])])])
    return ctx.node("Where", [ctx.node("GreaterOrEqual", [x, c(0.0)]), ctx.node("Add", [half_x, half_root]), negative])


def _sparsemax(ctx: Ctx, x: str, like: str | np.dtype) -> str:
    """Sorted with TopK (k = the last axis's size), τ from the sum of the sorted values over the support."""
    last = ctx.ints([-1])
    z = ctx.node("Sub", [x, ctx.node("ReduceMax", [x, last], keepdims=1)])
    ordered, _ = ctx.node("TopK", [z, ctx.node("Shape", [z], start=-1)], outputs=2, axis=-1, largest=1, sorted=1)
    cumulative = ctx.node("CumSum", [ordered, ctx.const(np.asarray(-1, dtype=np.int64))])
    ones = ctx.node("Add", [ctx.node("Mul", [ordered, ctx.scalar(0.0, like)]), ctx.scalar(1.0, like)])
    k = ctx.node("CumSum", [ones, ctx.const(np.asarray(-1, dtype=np.int64))])  # 1, 2, …, n
    gap = ctx.node("Sub", [ordered, ctx.node("Div", [ctx.node("Sub", [cumulative, ctx.scalar(1.0, like)]), k])])
    dtype = like if isinstance(like, np.dtype) else ctx.np_dtype(like)
    support = ctx.node("Cast", [ctx.node("Greater", [gap, ctx.scalar(0.0, like)])], to=ONNX_DTYPES[dtype.name])
    total = ctx.node("ReduceSum", [ctx.node("Mul", [ordered, support]), last], keepdims=1)
    size = ctx.node("ReduceSum", [support, last], keepdims=1)
    tau = ctx.node("Div", [ctx.node("Sub", [total, ctx.scalar(1.0, like)]), size])
    return ctx.node("Relu", [ctx.node("Sub", [z, tau])])
