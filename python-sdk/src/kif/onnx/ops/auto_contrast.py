"""AutoContrast (spec/layers/AutoContrast.md) as ONNX nodes: ReduceMin/ReduceMax over axes 1-2, Div, Clip, Where(IsNaN)."""

from __future__ import annotations

from typing import Any

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import reduce


@emits("AutoContrast")
def auto_contrast(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    dt = ctx.out_dtype(0)
    original = x if ctx.np_dtype(x) == dt else ctx.node("Cast", [x], to=ONNX_DTYPES[ctx.out_types[0].dtype])
    lo, hi = (float(v) for v in attrs["value_range"])
    mapped = not (lo == 0 and hi == 255)
    c255 = ctx.scalar(255.0, dt)
    u = original
    if mapped:  # ((x - lo) / (hi - lo)) * 255, with the bounds in the compute dtype
        lo_c, hi_c = ctx.scalar(lo, dt), ctx.scalar(hi, dt)
        width = ctx.node("Sub", [hi_c, lo_c])
        u = ctx.node("Mul", [ctx.node("Div", [ctx.node("Sub", [original, lo_c]), width]), c255])
    low = reduce(ctx, "ReduceMin", u, [1, 2], True)
    high = reduce(ctx, "ReduceMax", u, [1, 2], True)
    scale = ctx.node("Div", [c255, ctx.node("Sub", [high, low])])
    offset = ctx.node("Mul", [ctx.node("Neg", [low]), scale])
    r = ctx.node("Clip", [ctx.node("Add", [ctx.node("Mul", [u, scale]), offset]), ctx.scalar(0.0, dt), c255])
    v = r
    if mapped:  # (r / 255) * (hi - lo) + lo
        v = ctx.node("Add", [ctx.node("Mul", [ctx.node("Div", [r, c255]), width]), lo_c])
    return [ctx.node("Where", [ctx.node("IsNaN", [v]), original, v])]
