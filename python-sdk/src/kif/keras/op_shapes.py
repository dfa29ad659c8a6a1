"""``keras.ops`` shape and indexing nodes (and ``x[...]``, Keras 3's GetItem) → primitive shape ops
(spec/ops/shape.md). Arguments are read from ``Node.args`` (tensors as ``TensorArg``) so that nested values
such as slice keys and index lists keep their structure."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.keras.mapping import Context, MappedLayer
from kif.keras.op_args import TensorArg


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(_int(v) for v in value)


def _tensors(args: list[Any]) -> list[str]:
    flat = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    return [a.name for a in flat if isinstance(a, TensorArg)] if all(isinstance(a, TensorArg) for a in flat) else []


def _key_item(item: Any) -> Any:
    """One item of a GetItem key → an op.strided_slice index item (None if KIF cannot express it)."""
    if _int(item):
        return item
    if item is None:
        return "newaxis"
    if isinstance(item, dict) and item.get("class_name") == "__ellipsis__":
        return "..."
    if isinstance(item, dict) and item.get("class_name") == "__slice__" and isinstance(item.get("config"), dict):
        bounds = [item["config"].get(k) for k in ("start", "stop", "step")]
        if all(b is None or _int(b) for b in bounds) and bounds[2] != 0:
            return bounds
    return None


def map_shape(ctx: Context, emit: Any) -> list[MappedLayer] | None:
    """``emit`` is op_prims.Emitter. None: the class is not a shape op; refusals raise naming the node."""
    from kif.keras.op_prims import fail

    node, config, name = ctx.node, ctx.config, ctx.node.class_name
    args = list(node.args)
    first = args[0].name if args and isinstance(args[0], TensorArg) else None
    if node.kw_inputs or (first is None and name not in ("Concatenate", "Stack", "Einsum")):
        return None
    if name == "GetItem" and len(args) == 2:
        key = args[1] if isinstance(args[1], list) else [args[1]]
        index = [_key_item(item) for item in key]
        if any(i is None for i in index):
            raise fail(ctx, f"indexes with {key!r}; KIF slices with integers, slices, None and ... only")
        return emit.op("strided_slice", [first], index=index)
    if name == "Flip" and len(args) == 1 and _int(config.get("axis")):  # x[..., ::-1, ...] at axis
        axis, full = config["axis"], [None, None, None]
        index = [full] * axis + [[None, None, -1]] if axis >= 0 else ["...", [None, None, -1]] + [full] * (-axis - 1)
        return emit.op("strided_slice", [first], index=index)
    if name == "Reshape" and len(args) == 1 and _ints(config.get("newshape")):
        return emit.op("reshape", [first], shape=config["newshape"])
    if name == "Transpose" and len(args) == 1 and (config.get("axes") is None or _ints(config.get("axes"))):
        return emit.op("transpose", [first], perm=config.get("axes"))
    if name == "ExpandDims" and len(args) == 1 and (_int(config.get("axis")) or _ints(config.get("axis"))):
        return emit.op("expand_dims", [first], axis=config["axis"])
    if name == "Squeeze" and len(args) == 1 and (config.get("axis") is None or _int(config["axis"]) or _ints(config["axis"])):
        return emit.op("squeeze", [first], axis=config.get("axis"))
    if name in ("Concatenate", "Stack") and _tensors(args) and _int(config.get("axis", 0)):
        return emit.op(name.lower(), list(_tensors(args)), axis=config.get("axis", 0))
    if name == "Take" and len(args) == 2 and (config.get("axis") is None or _int(config["axis"])):
        indices = args[1].name if isinstance(args[1], TensorArg) else _constant_indices(ctx, emit, args[1])
        return emit.op("take", [first, indices], axis=config.get("axis"))
    if name == "Pad" and len(args) == 1:
        return emit.op("pad", [first], **_pad(ctx, first, config, node.kwargs.get("constant_values")))
    if name == "Tile" and len(args) == 1 and (_ints(config.get("repeats")) or _int(config.get("repeats"))):
        repeats = config["repeats"]
        return emit.op("tile", [first], repeats=[repeats] if _int(repeats) else repeats)
    if name == "BroadcastTo" and len(args) == 1 and _ints(config.get("shape")):
        return emit.op("broadcast_to", [first], shape=config["shape"])
    if name == "Matmul" and len(args) == 2 and all(isinstance(a, TensorArg) for a in args):
        return emit.op("matmul", [a.name for a in args])
    if name == "Einsum" and isinstance(config.get("subscripts"), str) and args and all(isinstance(a, TensorArg) for a in args):
        return emit.op("einsum", [a.name for a in args], equation=config["subscripts"])
    return None


def _constant_indices(ctx: Context, emit: Any, value: Any) -> str:
    from kif.keras.op_prims import fail

    array = np.asarray(value) if _int(value) or isinstance(value, list) else None
    if array is None or array.dtype.kind not in "iu" or array.size > 1 << 20:
        raise fail(ctx, f"takes indices {value!r}; KIF takes integer tensors or integer lists")
    return str(emit.constant(array, "int32"))


def _pad(ctx: Context, x: str, config: dict[str, Any], value: Any) -> dict[str, Any]:
    from kif.keras.op_prims import fail

    mode = config.get("mode", "constant")
    width = config.get("pad_width")
    found = ctx.type_of(x)
    rank = None if found is None else len(found.shape)
    if _int(width):
        width = [[width, width]]
    if isinstance(width, list) and len(width) == 1 and rank is not None:
        width = width * rank  # one pair for every axis
    pairs = isinstance(width, list) and len(width) == rank and all(_ints(p) and len(p) == 2 for p in width)
    if not pairs or mode not in ("constant", "reflect", "symmetric") or not (value is None or isinstance(value, (int, float))):
        raise fail(ctx, f"pads with pad_width={config.get('pad_width')!r}, mode={mode!r}, constant_values={value!r}")
    return {"pads": width, "mode": mode, "value": 0 if value is None else value}


def _tf_key_item(item: Any) -> Any:
    """tf.keras SlicingOpLambda writes slices as {start, stop, step} and Ellipsis as '...' or __ellipsis__."""
    if item == "...":
        return "..."
    if isinstance(item, dict) and "class_name" not in item and set(item) <= {"start", "stop", "step"}:
        item = {"class_name": "__slice__", "config": item}
    return _key_item(item)


def map_tf_shape(ctx: Context, emit: Any, function: str) -> list[MappedLayer] | None:
    """tf.reshape, tf.transpose, tf.expand_dims, tf.squeeze, tf.matmul and x[...] (tf.__operators__.getitem)."""
    from kif.keras.op_prims import fail

    node = ctx.node
    kwargs = {k: v for k, v in node.kwargs.items() if k != "name"}
    if len(node.inputs) != 1:
        return None
    x = node.inputs[0]
    if function == "__operators__.getitem" and set(kwargs) == {"slice_spec"} and not node.kw_inputs:
        spec = kwargs["slice_spec"]
        key = spec if isinstance(spec, list) else [spec]
        index = [_tf_key_item(item) for item in key]
        if any(i is None for i in index):
            raise fail(ctx, f"indexes with {spec!r}; KIF slices with integers, slices, None and ... only")
        return emit.op("strided_slice", [x], index=index)
    if function == "reshape" and set(kwargs) == {"shape"} and _ints(kwargs["shape"]):
        return emit.op("reshape", [x], shape=kwargs["shape"])
    if (
        function in ("transpose", "compat.v1.transpose")
        and set(kwargs) <= {"perm"}
        and (kwargs.get("perm") is None or _ints(kwargs["perm"]))
    ):
        return emit.op("transpose", [x], perm=kwargs.get("perm"))
    if function == "expand_dims" and set(kwargs) == {"axis"} and _int(kwargs["axis"]):
        return emit.op("expand_dims", [x], axis=kwargs["axis"])
    if function == "squeeze" and set(kwargs) <= {"axis"} and (kwargs.get("axis") is None or _int(kwargs["axis"]) or _ints(kwargs["axis"])):
        return emit.op("squeeze", [x], axis=kwargs.get("axis"))
    if function in ("linalg.matmul", "matmul") and not kwargs and list(node.kw_inputs) == ["b"] and len(node.kw_inputs["b"]) == 1:
        return emit.op("matmul", [x, node.kw_inputs["b"][0]])
    return None
