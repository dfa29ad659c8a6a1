"""BatchNormalization (folded to one Mul + Add), LayerNormalization and RMSNormalization (written out, any axes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers.normalization import _axes, _on_axes
from kif.onnx._context import Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import reduce


@emits("BatchNormalization")
def batch_norm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    rank, dt = ctx.rank(x), ctx.np_dtype(x)
    axes = _axes(attrs["axis"], rank)

    def on(role: str) -> np.ndarray:
        return _on_axes(ctx.weight(role, dt).astype(np.float64), axes, rank, np.dtype(np.float64))

    # Inference batch norm is affine: fold it in float64, then cast once (well inside the type's tolerance).
    scale = 1.0 / np.sqrt(on("moving_variance") + attrs["epsilon"])
    if attrs["scale"]:
        scale = scale * on("gamma")
    shift = -on("moving_mean") * scale
    if attrs["center"]:
        shift = shift + on("beta")
    y = ctx.node("Mul", [x, ctx.const(scale.astype(dt), hint="scale")])
    return [ctx.node("Add", [y, ctx.const(shift.astype(dt), hint="shift")])]


def _affine(ctx: Ctx, y: str, role: str, axes: tuple[int, ...], rank: int, dt: np.dtype, op: str) -> str:
    return ctx.node(op, [y, ctx.const(_on_axes(ctx.weight(role, dt), axes, rank, dt), hint=role)])


@emits("LayerNormalization")
def layer_norm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    rank, dt = ctx.rank(x), ctx.np_dtype(x)
    axes = _axes(attrs["axis"], rank)
    if not attrs["rms_scaling"] and axes == tuple(range(axes[0], rank)):
        # Trailing axes: the opset-17 LayerNormalization op, with gamma/beta laid out over the normalised axes.
        shape = ctx.shape(x)[axes[0] :]
        gamma = ctx.weight("gamma", dt) if attrs["scale"] else np.ones(shape, dt)
        ins = [x, ctx.const(gamma.reshape(shape), hint="gamma")]
        if attrs["center"]:
            ins.append(ctx.const(ctx.weight("beta", dt).reshape(shape), hint="beta"))
        return [ctx.node("LayerNormalization", ins, axis=axes[0], epsilon=float(attrs["epsilon"]))]
    mean = reduce(ctx, "ReduceMean", x, axes, True)
    centred = ctx.node("Sub", [x, mean])
    var = reduce(ctx, "ReduceMean", ctx.node("Mul", [centred, centred]), axes, True)
    std = ctx.node("Sqrt", [ctx.node("Add", [var, ctx.scalar(attrs["epsilon"], x)])])
    # rms_scaling (deprecated in Keras) divides by the standard deviation but keeps the mean in.
    y = ctx.node("Div", [x if attrs["rms_scaling"] else centred, std])
    if attrs["scale"]:
        y = _affine(ctx, y, "gamma", axes, rank, dt, "Mul")
    if attrs["center"] and not attrs["rms_scaling"]:
        y = _affine(ctx, y, "beta", axes, rank, dt, "Add")
    return [y]


@emits("RMSNormalization")
def rms_norm(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    rank, dt = ctx.rank(x), ctx.np_dtype(x)
    axes = _axes(attrs["axis"], rank)
    mean_square = reduce(ctx, "ReduceMean", ctx.node("Mul", [x, x]), axes, True)
    y = ctx.node("Div", [x, ctx.node("Sqrt", [ctx.node("Add", [mean_square, ctx.scalar(attrs["epsilon"], x)])])])
    return [_affine(ctx, y, "scale", axes, rank, dt, "Mul")]
