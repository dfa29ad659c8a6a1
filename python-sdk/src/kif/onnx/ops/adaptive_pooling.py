"""Adaptive{Average,Max}Pooling{1,2,3}D: ONNX has no adaptive pool, so each output position of each spatial axis is a
Slice of its window reduced with ReduceMean/ReduceMax, and the positions are concatenated (the windows are separable).
The windows follow the input sizes, which must therefore be static in the graph."""

from __future__ import annotations

from typing import Any

from kif.layers.adaptive_pooling import windows
from kif.onnx._context import Ctx
from kif.onnx.ops import emits


@emits(*(f"Adaptive{kind}Pooling{n}D" for kind in ("Average", "Max") for n in (1, 2, 3)))
def adaptive_pool(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    first = 1 if attrs["data_format"] != "channels_first" else 2
    reduce_op = "ReduceMax" if (ctx.layer.type if ctx.layer else "").startswith("AdaptiveMax") else "ReduceMean"
    y = x
    for i, m in enumerate(attrs["output_size"]):
        axis = first + i
        n = ctx.shape(x)[axis]
        if n is None:
            raise ctx.refuse("adaptive pooling needs static spatial sizes (its windows follow them); declare them in the graph inputs")
        parts = []
        for lo, hi in zip(*windows(int(n), int(m)), strict=True):
            window = ctx.node("Slice", [y, ctx.ints([int(lo)]), ctx.ints([int(hi)]), ctx.ints([axis])])
            parts.append(ctx.node(reduce_op, [window, ctx.ints([axis])], keepdims=1))
        y = parts[0] if len(parts) == 1 else ctx.node("Concat", parts, axis=axis)
    return [y]
