"""tf.keras ``TFOpLambda`` structural functions → primitive shape ops (spec/ops/shape.md): tf.concat, tf.stack,
tf.gather, tf.pad, tf.tile, tf.slice, tf.strided_slice and the ``compat.v1`` spellings tf.keras records for
tf.transpose and tf.squeeze. ``op_shapes.map_tf_shape`` handles reshape, transpose, squeeze, expand_dims, matmul and
``x[...]``; this module takes what it leaves. Arguments are the forms tf.keras 2.x writes (tests/fixtures/tf_op_lambda).
"""

from __future__ import annotations

from typing import Any

from kif.keras.mapping import Context, MappedLayer
from kif.keras.op_args import TensorArg


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(_int(v) for v in value)


def _bits(mask: Any, count: int) -> list[bool]:
    return [bool(int(mask) >> i & 1) for i in range(count)]


def _strided_index(begin: list[int], end: list[int], strides: list[int], masks: dict[str, int]) -> list[Any]:
    """tf.strided_slice's begin/end/strides and bit masks → op.strided_slice index items (NumPy slicing)."""
    count = len(begin)
    b_mask, e_mask, ellipsis, new_axis, shrink = (
        _bits(masks.get(k, 0), count) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    )
    index: list[Any] = []
    for i in range(count):
        if ellipsis[i]:
            index.append("...")
        elif new_axis[i]:
            index.append("newaxis")
        elif shrink[i]:
            index.append(begin[i])
        else:
            index.append([None if b_mask[i] else begin[i], None if e_mask[i] else end[i], strides[i]])
    return index


_STRIDED_KEYS = {"begin", "end", "strides", "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"}


def map_tf_structure(ctx: Context, emit: Any, function: str) -> list[MappedLayer] | None:
    """``emit`` is op_prims.Emitter. None: not a function of this module; bad arguments raise naming the node."""
    from kif.keras.op_prims import fail
    from kif.keras.op_shapes import _constant_indices

    node = ctx.node
    kwargs = {k: v for k, v in node.kwargs.items() if k != "name"}
    listed = len(node.args) == 1 and isinstance(node.args[0], list) and all(isinstance(a, TensorArg) for a in node.args[0])
    if function in ("concat", "stack") and not node.kw_inputs and node.inputs:
        axis = kwargs.get("axis", 0)
        if not (listed or len(node.inputs) == 1) or node.constants or set(kwargs) - {"axis"} or not _int(axis):
            raise fail(ctx, f"takes {kwargs!r}; KIF {function}s a list of tensors along one integer axis")
        return emit.op("concatenate" if function == "concat" else "stack", list(node.inputs), axis=axis)
    if len(node.inputs) != 1 or len(node.args) != 1:
        return None
    x = node.inputs[0]
    if function in ("gather", "compat.v1.gather"):
        indices = node.kw_inputs.get("indices")
        axis = kwargs.get("axis", 0)  # tf.gather's axis=None means 0
        axis = 0 if axis is None else axis
        extra = set(kwargs) - {"indices", "axis", "batch_dims", "validate_indices"} or set(node.kw_inputs) - {"indices"}
        if extra or kwargs.get("batch_dims", 0) != 0 or not _int(axis) or (indices is None and "indices" not in kwargs):
            raise fail(ctx, f"gathers with {kwargs!r}; KIF gathers along one integer axis with batch_dims 0")
        index = indices[0] if indices else _constant_indices(ctx, emit, kwargs["indices"])
        return emit.op("take", [x, index], axis=axis)
    if node.kw_inputs:
        return None
    if function in ("pad", "compat.v1.pad"):
        pads, mode, value = kwargs.get("paddings"), kwargs.get("mode", "CONSTANT"), kwargs.get("constant_values", 0)
        pairs = isinstance(pads, list) and all(_ints(p) and len(p) == 2 and min(p) >= 0 for p in pads)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        known = isinstance(mode, str) and mode.lower() in ("constant", "reflect", "symmetric")
        if not (pairs and known and number) or set(kwargs) - {"paddings", "mode", "constant_values"}:
            raise fail(ctx, f"pads with {kwargs!r}; KIF pads with constant [before, after] pairs in CONSTANT, REFLECT or SYMMETRIC mode")
        return emit.op("pad", [x], pads=pads, mode=mode.lower(), value=value)
    if function == "tile" and set(kwargs) == {"multiples"}:
        if not _ints(kwargs["multiples"]) or min(kwargs["multiples"], default=0) < 0:
            raise fail(ctx, f"tiles with multiples={kwargs['multiples']!r}; KIF tiles by constant non-negative integers")
        return emit.op("tile", [x], repeats=kwargs["multiples"])
    if function == "slice" and set(kwargs) == {"begin", "size"}:
        begin, size = kwargs["begin"], kwargs["size"]
        if not (_ints(begin) and _ints(size) and len(begin) == len(size) and min(begin, default=0) >= 0 and min(size, default=0) >= -1):
            raise fail(ctx, f"slices with begin={begin!r}, size={size!r}; KIF slices with constant integers")
        return emit.op("strided_slice", [x], index=[[b, None if s == -1 else b + s, 1] for b, s in zip(begin, size, strict=True)])
    if function == "strided_slice" and {"begin", "end"} <= set(kwargs) <= _STRIDED_KEYS:
        begin, end = kwargs["begin"], kwargs["end"]
        strides = kwargs.get("strides") or [1] * (len(begin) if _ints(begin) else 0)
        masks = {k: kwargs.get(k, 0) for k in _STRIDED_KEYS - {"begin", "end", "strides"}}
        ok = _ints(begin) and _ints(end) and _ints(strides) and len(begin) == len(end) == len(strides) and 0 not in strides
        if not ok or not all(_int(m) and 0 <= m < 1 << 31 for m in masks.values()):
            raise fail(ctx, f"slices with {kwargs!r}; KIF slices with constant begin, end, non-zero strides and integer masks")
        return emit.op("strided_slice", [x], index=_strided_index(begin, end, strides, masks))
    if function == "compat.v1.transpose" and set(kwargs) <= {"perm", "conjugate"} and kwargs.get("conjugate", False) is False:
        if not (kwargs.get("perm") is None or _ints(kwargs["perm"])):
            raise fail(ctx, f"transposes with perm={kwargs['perm']!r}; KIF takes a constant permutation")
        return emit.op("transpose", [x], perm=kwargs.get("perm"))
    if function == "compat.v1.squeeze" and set(kwargs) <= {"axis", "squeeze_dims"}:
        axis = kwargs.get("axis") if kwargs.get("axis") is not None else kwargs.get("squeeze_dims")
        if not (axis is None or _int(axis) or _ints(axis)):
            raise fail(ctx, f"squeezes axis={axis!r}; KIF takes null, an integer or a list of integers")
        return emit.op("squeeze", [x], axis=axis)
    return None


def einsum_refusal(ctx: Context, function: str) -> Exception | None:
    """tf.keras stores only tf.einsum's equation (its operands are ``*inputs``, which TFOpLambda drops), so not even
    tf.keras can rebuild the node from the file."""
    from kif.keras.op_prims import fail

    if function in ("einsum", "linalg.einsum"):
        why = "is tf.einsum, whose operands tf.keras does not store (only the equation)"
        return fail(ctx, f"{why}; use keras.layers.EinsumDense or keras.ops.einsum")
    return None
