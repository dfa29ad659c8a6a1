"""LocallyConnected1D/2D: Pad (tf.keras's local "same": floor(k / 2) zeros before), one strided Slice per kernel tap
stacked into [N, K * C, P] windows (P output positions), then a batched MatMul per output position with the unshared
kernel [P, K * C, F], the bias, the output layout and the activation. The stored kernel follows the input's spatial
sizes, so they must be static in the graph."""

from __future__ import annotations

import itertools
import math
from typing import Any

from kif.layers.locally_connected import geometry
from kif.onnx._context import Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation, to_first


@emits("LocallyConnected1D", "LocallyConnected2D")
def locally_connected(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    dt, rank, first = ctx.np_dtype(x), ctx.rank(x), attrs["data_format"] == "channels_first"
    shape = ctx.shape(x)
    spatial = shape[2:] if first else shape[1:-1]
    channels = shape[1] if first else shape[-1]
    if any(n is None for n in spatial) or channels is None:
        raise ctx.refuse("the unshared kernel follows the input's spatial sizes; declare them (and the channels) in the graph inputs")
    ksize, strides, filters = list(attrs["kernel_size"]), list(attrs["strides"]), int(attrs["filters"])
    geo = [geometry(attrs["padding"], int(n), k, s) for n, k, s in zip(spatial, ksize, strides, strict=True)]
    out = [g[0] for g in geo]
    xf = x if first else to_first(ctx, x, rank)
    if any(g[1] or g[2] > 0 for g in geo):
        pads = [0, 0, *(g[1] for g in geo), 0, 0, *(max(g[2], 0) for g in geo)]
        xf = ctx.node("Pad", [xf, ctx.ints(pads)], mode="constant")
    d, axes = len(ksize), list(range(2, rank))
    taps = []
    for tap in itertools.product(*(range(k) for k in ksize)):
        ends = [t + (o - 1) * s + 1 for t, o, s in zip(tap, out, strides, strict=True)]
        window = ctx.node("Slice", [xf, ctx.ints(list(tap)), ctx.ints(ends), ctx.ints(axes), ctx.ints(strides)])  # [N, C, *out]
        taps.append(ctx.node("Unsqueeze", [window, ctx.ints([1])]))
    stacked = taps[0] if len(taps) == 1 else ctx.node("Concat", taps, axis=1)  # [N, K, C, *out]: rows (t, c)
    positions, rows = math.prod(out), math.prod(ksize) * int(channels)
    flat = ctx.node("Reshape", [stacked, ctx.ints([0, rows, positions])])
    per_position = ctx.node("Transpose", [flat], perm=[2, 0, 1])  # [P, N, K * C]
    kernel = ctx.weight("kernel", dt).reshape(positions, rows, filters)
    y = ctx.node("Transpose", [ctx.node("MatMul", [per_position, ctx.const(kernel, hint="kernel")])], perm=[1, 0, 2])  # [N, P, F]
    if attrs["use_bias"]:
        y = ctx.node("Add", [y, ctx.const(ctx.weight("bias", dt).reshape(positions, filters), hint="bias")])
    y = ctx.node("Reshape", [y, ctx.ints([0, *out, filters])])  # [N, *out, F]
    if first:
        y = to_first(ctx, y, d + 2)
    return [activation(ctx, attrs["activation"], x, y)]
