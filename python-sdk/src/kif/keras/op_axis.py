"""``keras.ops`` and tf.keras ``TFOpLambda`` nodes → the ops along an axis (spec/ops/axis.md): split,
take_along_axis, repeat, cumsum, one_hot, log_softmax, top_k and sort. ``split`` and ``top_k`` write one KIF output
per Keras output (``ctx.output(i)``)."""

from __future__ import annotations

import itertools
from typing import Any

from kif.keras.mapping import Context, MappedLayer
from kif.keras.op_args import TensorArg
from kif.ops._types import DTYPES
from kif.ops.axis import max_parts


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(_int(v) for v in value)


def _axis_size(ctx: Context, x: str, axis: int) -> int | None:
    found = ctx.type_of(x)
    if found is None or not -len(found.shape) <= axis < len(found.shape):
        return None
    return found.shape[axis]


def _split_points(ctx: Context, x: str, axis: int, points: list[int]) -> list[int]:
    """NumPy's split indices (cut positions) → part sizes; KIF takes increasing cuts within a known axis only."""
    from kif.keras.op_prims import fail

    size = _axis_size(ctx, x, axis)
    cuts = [0, *points, size]
    if size is None or any(a is None or b is None or not 0 <= a <= b for a, b in itertools.pairwise(cuts)):
        raise fail(ctx, f"splits at {points!r}; KIF splits at increasing positions within an axis of known size")
    return [int(b) - int(a) for a, b in itertools.pairwise(cuts)]  # type: ignore[arg-type]


def _parts(ctx: Context, count: int) -> int:
    from kif.keras.op_prims import fail

    if count > max_parts():
        raise fail(ctx, f"splits into {count} parts, more than the limit max_layer_inputs={max_parts()}")
    return count


def map_axis(ctx: Context, emit: Any) -> list[MappedLayer] | None:
    """A keras.ops node of this family → ops; None: not one; refusals raise naming the node."""
    from kif.keras.op_prims import fail

    node, config, name = ctx.node, ctx.config, ctx.node.class_name
    args = list(node.args)
    if not args or not isinstance(args[0], TensorArg) or node.kw_inputs:
        return None
    x = args[0].name
    if name == "Split" and len(args) == 1 and _int(config.get("axis", 0)):
        axis, parts = config.get("axis", 0), config.get("indices_or_sections")
        if _int(parts) and parts >= 1:
            return emit.op("split", [x], count=_parts(ctx, parts), splits=parts, axis=axis)
        if _ints(parts):
            _parts(ctx, len(parts) + 1)
            sizes = _split_points(ctx, x, axis, parts)
            return emit.op("split", [x], count=len(sizes), splits=sizes, axis=axis)
        raise fail(ctx, f"splits with indices_or_sections={parts!r}")
    if name == "TakeAlongAxis" and len(args) == 2 and isinstance(args[1], TensorArg):
        if not _int(config.get("axis")):
            raise fail(ctx, f"takes along axis={config.get('axis')!r}; KIF takes along one integer axis")
        return emit.op("take_along_axis", [x, args[1].name], axis=config["axis"])
    if name == "Repeat" and len(args) == 1 and (config.get("axis") is None or _int(config["axis"])):
        repeats = config.get("repeats")
        if not (_int(repeats) or _ints(repeats)):
            raise fail(ctx, f"repeats {repeats!r} times; KIF repeats a static count or list of counts")
        return emit.op("repeat", [x], repeats=repeats, axis=config.get("axis"))
    if name == "Cumsum" and len(args) == 1 and (config.get("axis") is None or _int(config["axis"])):
        if config.get("dtype") not in (None, emit.dtype([x])):
            raise fail(ctx, f"sums in dtype {config['dtype']!r}; cast the input with ops.cast first")
        return emit.op("cumsum", [x], axis=config.get("axis"), exclusive=False, reverse=False)
    if name == "OneHot" and len(args) == 1 and _int(config.get("num_classes")) and _int(config.get("axis", -1)):
        dtype = config.get("dtype") or "float32"
        if config.get("sparse") or dtype not in DTYPES:
            raise fail(ctx, f"has sparse={config.get('sparse')!r}, dtype={dtype!r}; KIF writes dense tensors of its dtypes")
        return emit.op("one_hot", [x], depth=config["num_classes"], axis=config.get("axis", -1), dtype=dtype, on_value=1, off_value=0)
    if name in ("Softmax", "LogSoftmax") and len(args) == 1 and _int(config.get("axis", -1)):
        return emit.op(name.lower().replace("logsoftmax", "log_softmax"), [x], axis=config.get("axis", -1))
    if name == "TopK" and len(args) == 1 and _int(config.get("k")):
        if config.get("sorted", True) is not True:
            raise fail(ctx, "has sorted=False (an unspecified order); KIF's top_k is sorted")
        return emit.op("top_k", [x], count=2, k=config["k"], dtype="int32")
    if name == "Sort" and len(args) == 1 and _int(config.get("axis", -1)):
        return emit.op("sort", [x], axis=config.get("axis", -1), descending=False)
    return None


def map_tf_axis(ctx: Context, emit: Any, function: str) -> list[MappedLayer] | None:
    """tf.split, tf.math.cumsum, tf.one_hot, tf.nn.log_softmax, tf.math.top_k, tf.sort and tf.repeat."""
    from kif.keras.op_prims import fail

    node = ctx.node
    if len(node.inputs) != 1 or node.kw_inputs:
        return None
    x = node.inputs[0]
    names = {
        "split": ("num_or_size_splits", "axis", "num"),
        "math.cumsum": ("axis", "exclusive", "reverse"),
        "cumsum": ("axis", "exclusive", "reverse"),
        "one_hot": ("depth", "on_value", "off_value", "axis", "dtype"),
        "nn.log_softmax": ("axis",),
        "math.log_softmax": ("axis",),
        "math.top_k": ("k", "sorted"),
        "nn.top_k": ("k", "sorted"),
        "sort": ("axis", "direction"),
        "repeat": ("repeats", "axis"),
    }.get(function)
    if names is None:
        return None
    kwargs = {k: v for k, v in node.kwargs.items() if k != "name"}
    kwargs.update(zip(names, node.constants, strict=False))  # positional arguments after the tensor
    if set(kwargs) - set(names) or len(node.constants) > len(names):
        raise fail(ctx, f"takes arguments {sorted(set(kwargs) - set(names))} KIF does not map")
    get = kwargs.get
    if function == "split":
        parts, axis = get("num_or_size_splits"), get("axis", 0)
        if not _int(axis) or (get("num") is not None and not _int(get("num"))):
            raise fail(ctx, f"splits along axis={axis!r}")
        if _int(parts) and parts >= 1:
            return emit.op("split", [x], count=_parts(ctx, parts), splits=parts, axis=axis)
        if _ints(parts) and _parts(ctx, len(parts)) and parts and sum(1 for p in parts if p == -1) <= 1 and all(p >= -1 for p in parts):
            if -1 in parts:
                size = _axis_size(ctx, x, axis)
                if size is None:
                    raise fail(ctx, "splits with a -1 size along an axis of unknown size")
                parts = [size - (sum(parts) + 1) if p == -1 else p for p in parts]
            return emit.op("split", [x], count=len(parts), splits=parts, axis=axis)
        raise fail(ctx, f"splits with num_or_size_splits={parts!r}")
    if function in ("math.cumsum", "cumsum"):
        axis, exclusive, reverse = get("axis", 0), get("exclusive", False), get("reverse", False)
        if not _int(axis) or not isinstance(exclusive, bool) or not isinstance(reverse, bool):
            raise fail(ctx, f"sums with axis={axis!r}, exclusive={exclusive!r}, reverse={reverse!r}")
        return emit.op("cumsum", [x], axis=axis, exclusive=exclusive, reverse=reverse)
    if function == "one_hot":
        depth, on, off, axis, dtype = get("depth"), get("on_value", 1), get("off_value", 0), get("axis"), get("dtype") or "float32"
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (on, off))
        if not _int(depth) or not numbers or not (axis is None or _int(axis)) or dtype not in DTYPES:
            raise fail(ctx, f"encodes with depth={depth!r}, on_value={on!r}, off_value={off!r}, axis={axis!r}, dtype={dtype!r}")
        return emit.op("one_hot", [x], depth=depth, axis=-1 if axis is None else axis, dtype=dtype, on_value=on, off_value=off)
    if function in ("nn.log_softmax", "math.log_softmax"):
        if not _int(get("axis", -1)):
            raise fail(ctx, f"takes the log-softmax along axis={get('axis')!r}")
        return emit.op("log_softmax", [x], axis=get("axis", -1))
    if function in ("math.top_k", "nn.top_k"):
        if not _int(get("k", 1)) or get("sorted", True) is not True:
            raise fail(ctx, f"has k={get('k')!r}, sorted={get('sorted')!r}; KIF's top_k is sorted")
        return emit.op("top_k", [x], count=2, k=get("k", 1), dtype="int32")
    if function == "sort":
        if not _int(get("axis", -1)) or get("direction", "ASCENDING") not in ("ASCENDING", "DESCENDING"):
            raise fail(ctx, f"sorts with axis={get('axis')!r}, direction={get('direction')!r}")
        return emit.op("sort", [x], axis=get("axis", -1), descending=get("direction") == "DESCENDING")
    repeats, axis = get("repeats"), get("axis")
    if not (_int(repeats) or _ints(repeats)) or not (axis is None or _int(axis)):
        raise fail(ctx, f"repeats {repeats!r} times along axis={axis!r}; KIF repeats static counts")
    return emit.op("repeat", [x], repeats=repeats, axis=axis)
