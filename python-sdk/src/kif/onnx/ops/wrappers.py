"""Bidirectional and TimeDistributed: the inner layer's emitter run on a stand-in layer with the inner weights."""

from __future__ import annotations

from typing import Any

from kif.graph import Layer
from kif.layers import recurrent
from kif.layers.registry import TensorType
from kif.onnx._context import Ctx
from kif.onnx.ops import EMITTERS, emits
from kif.onnx.ops.recurrent import reverse_time


def _inner(ctx: Ctx, nested: dict[str, Any], suffix: str, weights: dict[str, str]) -> Any:
    """Run ``fn`` as the nested layer: swap ctx.layer to a stand-in, restore afterwards."""
    outer = ctx.layer
    assert outer is not None
    if nested["type"] not in EMITTERS:
        raise ctx.refuse(f"the wrapped type {nested['type']!r} is not exported")
    stand_in = Layer(f"{outer.name}/{suffix}", nested["type"], nested["attributes"], [], [], weights)

    def call(inputs: list[str | None], out_types: list[TensorType]) -> list[str]:
        saved = ctx.out_types
        ctx.layer, ctx.out_types = stand_in, out_types
        try:
            return EMITTERS[nested["type"]](ctx, nested["attributes"], inputs)
        finally:
            ctx.layer, ctx.out_types = outer, saved

    return call


@emits("Bidirectional")
def bidirectional(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    layer = ctx.layer
    assert layer is not None
    nf, nb = (recurrent.STATES[attrs[s]["type"]] for s in ("forward", "backward"))
    padded = [*inputs, *[None] * (nf + nb + 2 - len(inputs))]
    x, fs, bs, mask = padded[0], padded[1 : 1 + nf], padded[1 + nf : 1 + nf + nb], padded[1 + nf + nb]
    results = {}
    for side, states in (("forward", fs), ("backward", bs)):
        prefix = f"{side}_"
        weights = {role[len(prefix) :]: name for role, name in layer.weights.items() if role.startswith(prefix)}
        results[side] = _inner(ctx, attrs[side], side, weights)([x, *states, mask], [])
    y, y_rev = results["forward"][0], results["backward"][0]
    if attrs["forward"]["attributes"]["return_sequences"]:
        y_rev = reverse_time(ctx, y_rev)  # back to input time order, as Keras does
    mode = attrs["merge_mode"]
    if mode is None:
        merged = [y, y_rev]
    elif mode == "concat":
        merged = [ctx.node("Concat", [y, y_rev], axis=-1)]
    elif mode == "sum":
        merged = [ctx.node("Add", [y, y_rev])]
    elif mode == "mul":
        merged = [ctx.node("Mul", [y, y_rev])]
    else:
        merged = [ctx.node("Mean", [y, y_rev])]
    return [*merged, *results["forward"][1:], *results["backward"][1:]]


@emits("TimeDistributed")
def time_distributed(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None and ctx.layer is not None
    t = ctx.type_of(x)
    # Fold time into the batch: every step is an independent sample of the wrapped layer.
    folded_shape = ctx.node("Concat", [ctx.ints([-1]), ctx.node("Shape", [x], start=2)], axis=0)
    folded = ctx.node("Reshape", [x, folded_shape])
    ctx.types[folded] = TensorType(t.dtype, (None, *t.shape[2:]))
    out_t = ctx.out_types[0]
    (y,) = _inner(ctx, attrs["layer"], "layer", dict(ctx.layer.weights))([folded], [TensorType(out_t.dtype, (None, *out_t.shape[2:]))])[:1]
    back = ctx.node("Concat", [ctx.node("Shape", [x], start=0, end=2), ctx.node("Shape", [y], start=1)], axis=0)
    return [ctx.node("Reshape", [y, back])]
