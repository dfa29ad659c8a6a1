"""Max/AveragePooling{1,2,3}D with explicit pads; "same" average pooling excludes padded cells (count_include_pad=0)."""

from __future__ import annotations

from typing import Any

from onnx import TensorProto

from kif.layers.pooling import pool_geometry
from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import to_first, to_last

_WIDENED = {"bfloat16": TensorProto.FLOAT, **dict.fromkeys(("int16", "int32", "uint16", "uint32"), TensorProto.DOUBLE)}


@emits("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def pool(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    x = inputs[0]
    assert x is not None
    rank = ctx.rank(x)
    last = attrs["data_format"] != "channels_first"
    shape = ctx.shape(x)
    spatial = shape[1:-1] if last else shape[2:]
    size = list(attrs["pool_size"])
    strides = list(attrs["strides"] or size)
    before, after = [], []
    for n, k, s in zip(spatial, size, strides, strict=True):
        if n is None and attrs["padding"] == "same":
            raise ctx.refuse("padding='same' needs static spatial sizes; declare them in the graph inputs")
        _, lo, hi = pool_geometry(k if n is None else n, k, s, attrs["padding"])
        before.append(lo)
        after.append(hi)
    t = to_first(ctx, x, rank) if last else x
    is_max = (ctx.layer.type if ctx.layer else "").startswith("Max")
    geometry: dict[str, Any] = {"kernel_shape": size, "strides": strides, "pads": before + after}
    if not is_max:
        geometry["count_include_pad"] = 0
    name = ctx.type_of(x).dtype
    if is_max and name in _WIDENED:
        # ONNX MaxPool takes float16/32/64 and 8-bit integers: pool in a float type that holds every value exactly
        wide = ctx.node("MaxPool", [ctx.node("Cast", [t], to=_WIDENED[name])], **geometry)
        y = ctx.node("Cast", [wide], to=ONNX_DTYPES[name])
    elif is_max and name in ("int64", "uint64"):
        raise ctx.refuse(f"ONNX MaxPool has no exact kernel for {name}")
    else:
        y = ctx.node("MaxPool" if is_max else "AveragePool", [t], **geometry)
    return [to_last(ctx, y, rank) if last else y]
