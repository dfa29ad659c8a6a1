"""Primitive ops (spec/ops/) for ``kif.keras.to_keras``: one row per op type, emitting ``keras.ops`` calls on KerasTensors.

Keras 3 records each call as an op node of the functional graph, so a rebuilt model saves and reloads as plain Keras.
Where ``keras.ops`` (on any backend) departs from the KIF definition the row emits a composition that gives the KIF
result, or refuses the attribute combination in one error naming the layer:

* reductions, ``matmul`` and ``einsum`` on float16/bfloat16 compute in float32 and round back, as the reference does;
  ``sum``/``prod`` of small integers (int32 in Keras) and ``argmax``/``argmin`` (int32 in Keras) are cast to KIF's dtype;
* integer ``floor_divide`` and ``mod`` by zero give 0 (NumPy; Keras-torch raises); ``sign`` keeps nan (torch gives 0);
* ``take`` with ``axis`` null flattens first (Keras-torch resolves negative indices against axis 0 there);
* ``pad`` in reflect/symmetric mode gathers the positions NumPy reads (Keras-torch's "symmetric" is replicate);
* ``strided_slice`` with a negative step gathers the positions it walks (torch has no negative steps; on an axis of
  unknown size only ``[::-k]``, as a flip);
* ``clip`` of an integer tensor clamps to the truncated bounds (trunc is monotone, so this is exactly KIF's
  ``trunc(min(max(x, min), max))``);
* ``constant`` is a ``kif>Constant`` layer holding the value as a weight.
Every result is finally cast to the dtype the KIF shape rule gives, so Keras's dtype promotion never leaks through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kif.errors import KifError
from kif.graph import Layer

Emit = Callable[["OpContext", dict[str, Any], list[Any]], Any]
TABLE: dict[str, Emit] = {}
_HALF = ("float16", "bfloat16")


class OpContext:
    """What a row may need beyond its inputs: keras, the layer (for errors and weights) and a constant's anchor."""

    def __init__(self, keras: Any, layer: Layer, weights: dict[str, np.ndarray], anchor: Any, name: str) -> None:
        self.keras, self.ops, self.layer, self.weights, self.anchor, self.name = keras, keras.ops, layer, weights, anchor, name

    def refuse(self, why: str) -> KifError:
        return KifError(f"Layer {self.layer.name!r} ({self.layer.type}): to_keras cannot express {why}", code="layer-unsupported",
                        pointer=self.layer.name)  # fmt: skip


def emits(*names: str) -> Callable[[Emit], Emit]:
    def register(fn: Emit) -> Emit:
        for name in names:
            TABLE["op." + name] = fn
        return fn

    return register


def _dtype(x: Any) -> str:
    return str(x.dtype).removeprefix("torch.")


def _in_f32(c: OpContext, x: Any) -> Any:
    return c.ops.cast(x, "float32") if _dtype(x) in _HALF else x


# --- element-wise ----------------------------------------------------------------------------------

_UNARY = {
    "abs": "abs", "neg": "negative", "exp": "exp", "log": "log", "log1p": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt",
    "square": "square", "reciprocal": "reciprocal", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh",
    "sigmoid": "sigmoid", "erf": "erf", "floor": "floor", "ceil": "ceil", "round": "round",
    "logical_not": "logical_not",
}  # fmt: skip
_BINARY = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "power": "power",
    "maximum": "maximum", "minimum": "minimum", "equal": "equal", "not_equal": "not_equal", "less": "less",
    "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal",
    "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor",
}  # fmt: skip


def _direct(fn_name: str) -> Emit:
    return lambda c, a, xs: getattr(c.ops, fn_name)(*xs)


for _kif, _keras in {**_UNARY, **_BINARY}.items():
    emits(_kif)(_direct(_keras))  # round: torch and NumPy both round halves to even


@emits("sign")
def _sign(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x = xs[0]
    if "float" not in _dtype(x):
        return c.ops.sign(x)
    return c.ops.where(c.ops.not_equal(x, x), x, c.ops.sign(x))  # nan stays nan (torch.sign gives 0)


@emits("floor_divide", "mod")
def _integer_division(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, y = xs
    fn = c.ops.floor_divide if c.layer.type == "op.floor_divide" else c.ops.mod
    if "int" not in _dtype(x):
        return fn(x, y)  # floats: floor rounding (torch.floor_divide, torch.remainder: the sign of y)
    zero = c.ops.equal(y, 0)  # NumPy gives 0 for an integer division by zero; Keras-torch raises
    return c.ops.where(zero, 0, fn(x, c.ops.where(zero, 1, y)))


@emits("where")
def _where(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    cond, x, y = xs
    return c.ops.where(cond if _dtype(cond) == "bool" else c.ops.not_equal(cond, 0), x, y)


@emits("cast")
def _cast(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.cast(xs[0], a["dtype"])  # floats to integers truncate, anything to bool is x != 0, as KIF


@emits("clip")
def _clip(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, low, high = xs[0], a["min"], a["max"]
    dtype = _dtype(x)
    if "int" not in dtype:
        return c.ops.clip(x, low, high)
    info = np.iinfo(dtype)
    if low > info.max or high < info.min:
        raise c.refuse(f"clip bounds [{low}, {high}] outside the range of {dtype} (KIF wraps them)")
    low, high = (min(max(int(np.trunc(v)), int(info.min)), int(info.max)) for v in (low, high))
    return c.ops.clip(x, low, high)


@emits("constant")
def _constant(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.dtypes import by_name

    value = np.asarray(c.weights["value"]).astype(np.dtype(by_name(a["dtype"]).numpy))
    from kif.keras.to_keras_objects import constant_class

    layer = constant_class()(list(value.shape), a["dtype"], name=c.name)
    out = layer(c.anchor)
    layer.set_weights([value.astype(np.uint8) if a["dtype"] == "bool" else value])
    return out


# --- reductions ------------------------------------------------------------------------------------


@emits("sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "any", "all")
def _reduce(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.ops.reductions import axes_of

    name = c.layer.type.removeprefix("op.")
    x = xs[0]
    axes = axes_of(a["axis"], len(x.shape))
    if name in ("any", "all"):
        x = x if _dtype(x) == "bool" else c.ops.not_equal(x, 0)
    if not axes:  # nothing reduced (NumPy): the values, zeros for var and std
        return c.ops.zeros_like(x) if name in ("var", "std") else x
    return getattr(c.ops, name)(_in_f32(c, x), axis=axes, keepdims=a["keepdims"])


@emits("argmax", "argmin")
def _arg(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x = xs[0]
    fn = c.ops.argmax if c.layer.type == "op.argmax" else c.ops.argmin  # the first index on ties, as KIF
    if a["axis"] is not None:
        return fn(x, axis=a["axis"], keepdims=a["keepdims"])
    flat = fn(c.ops.reshape(x, (-1,)), axis=0)
    return c.ops.reshape(flat, (1,) * len(x.shape)) if a["keepdims"] else flat


# --- shape -----------------------------------------------------------------------------------------


@emits("reshape")
def _reshape(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.reshape(xs[0], tuple(a["shape"]))


@emits("transpose")
def _transpose(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.ops.shape import Transpose

    return c.ops.transpose(xs[0], Transpose.perm(a, len(xs[0].shape)))


@emits("expand_dims")
def _expand_dims(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.ops.shape import ExpandDims

    x = xs[0]
    for position in ExpandDims.positions(a, len(x.shape)):  # ascending output positions, one at a time
        x = c.ops.expand_dims(x, position)
    return x


@emits("squeeze")
def _squeeze(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.ops.shape import Squeeze

    axes = Squeeze.axes(a, tuple(xs[0].shape))
    return c.ops.squeeze(xs[0], axis=axes) if axes else xs[0]


@emits("concatenate")
def _concatenate(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.concatenate(xs, axis=a["axis"])


@emits("stack")
def _stack(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.stack(xs, axis=a["axis"])


@emits("strided_slice")
def _strided_slice(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    from kif.ops._index import plan

    x = xs[0]
    shape = tuple(x.shape)
    steps, _ = plan(a["index"], shape)
    key: list[Any] = []
    axis = 0
    for kind, value in steps:
        if kind == "new":
            key.append(None)
            continue
        size = shape[axis]
        if kind == "pick":
            key.append(value % size if size is not None else value)
        elif value[2] is None or value[2] > 0:
            key.append(slice(*value) if size is None else slice(*slice(*value).indices(size)))
        elif size is not None:  # a negative step (torch has none): gather the positions it walks
            x = c.ops.take(x, list(range(*slice(*value).indices(size))), axis=axis)
            key.append(slice(None))
        elif value[0] is None and value[1] is None:  # [::-k] on an axis of unknown size: flip, then step forwards
            x = c.ops.flip(x, axis=axis)
            key.append(slice(None, None, -value[2]))
        else:
            raise c.refuse(f"a negative-step slice {value} with bounds on an axis of unknown size")
        axis += 1
    if all(k == slice(None) for k in key):
        return x
    return x[tuple(key)]


@emits("take")
def _take(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, indices = xs
    if a["axis"] is None:  # Keras-torch resolves negative indices against axis 0 here: flatten first
        return c.ops.take(c.ops.reshape(x, (-1,)), indices, axis=0)
    return c.ops.take(x, indices, axis=a["axis"])


@emits("pad")
def _pad(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, pads = xs[0], [tuple(p) for p in a["pads"]]
    if a["mode"] == "constant":
        dtype = _dtype(x)
        value = a["value"]
        fill = bool(value) if dtype == "bool" else int(np.trunc(value)) if "int" in dtype else value  # cast as KIF does
        return c.ops.pad(x, pads, mode="constant", constant_values=fill)
    for axis, (before, after) in enumerate(pads):  # gather the positions np.pad reads (reflect: no edge; symmetric: with it)
        if not (before or after):
            continue
        size = x.shape[axis]
        if size is None:
            raise c.refuse(f"{a['mode']} padding of axis {axis}, whose size is unknown")
        positions = np.pad(np.arange(size), (before, after), mode=a["mode"])
        x = c.ops.take(x, [int(p) for p in positions], axis=axis)
    return x


@emits("tile")
def _tile(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.tile(xs[0], list(a["repeats"])) if a["repeats"] else xs[0]


@emits("broadcast_to")
def _broadcast_to(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.broadcast_to(xs[0], tuple(a["shape"]))


@emits("matmul")
def _matmul(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.matmul(*(_in_f32(c, x) for x in xs))


@emits("einsum")
def _einsum(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.einsum(a["equation"], *(_in_f32(c, x) for x in xs))


# --- ops along an axis (spec/ops/axis.md) ------------------------------------------------------------------------------


def _static(c: OpContext, x: Any, axis: int) -> int:
    size = x.shape[axis]
    if size is None:
        raise c.refuse(f"{c.layer.type} along axis {axis}, whose size is unknown")
    return int(size)


@emits("split")
def _split(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    splits, axis = a["splits"], a["axis"]
    if isinstance(splits, int):
        return list(c.ops.split(xs[0], splits, axis=axis))
    points = [int(p) for p in np.cumsum(splits)[:-1]]  # keras.ops.split takes split points, KIF part sizes
    return list(c.ops.split(xs[0], points, axis=axis))


@emits("cumsum")
def _cumsum(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, axis = _in_f32(c, xs[0]), a["axis"]
    if axis is None:
        x, axis = c.ops.reshape(x, (-1,)), 0
    if a["reverse"]:
        x = c.ops.flip(x, axis=axis)
    y = c.ops.cumsum(x, axis=axis)
    if a["exclusive"]:  # the sum of the elements before: shift the inclusive sums by one along the axis
        size = _static(c, x, axis)
        zero = c.ops.zeros_like(c.ops.take(y, [0], axis=axis))
        y = c.ops.concatenate([zero, c.ops.take(y, list(range(size - 1)), axis=axis)], axis=axis) if size else y
    return c.ops.flip(y, axis=axis) if a["reverse"] else y


@emits("one_hot")
def _one_hot(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    # A comparison with every class: an index outside [0, depth) matches none (Keras-torch raises on those).
    x, depth = xs[0], a["depth"]
    rank = len(x.shape)
    axis = a["axis"] % (rank + 1)
    classes = c.ops.reshape(c.ops.arange(depth, dtype="int64"), (depth,) + (1,) * (rank - axis))
    hit = c.ops.equal(c.ops.expand_dims(c.ops.cast(x, "int64"), axis), classes)
    dtype = a["dtype"]
    on, off = (bool(a["on_value"]), bool(a["off_value"])) if dtype == "bool" else (a["on_value"], a["off_value"])
    return c.ops.cast(c.ops.where(hit, on, off), dtype)


@emits("softmax")
def _softmax(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.softmax(_in_f32(c, xs[0]), axis=a["axis"])


@emits("log_softmax")
def _log_softmax(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    return c.ops.log_softmax(_in_f32(c, xs[0]), axis=a["axis"])


@emits("sort")
def _sort(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    # Values only, so stability cannot show; NaN sorts last ascending (as KIF) and first once flipped (as KIF).
    y = c.ops.sort(xs[0], axis=a["axis"])
    return c.ops.flip(y, axis=a["axis"]) if a["descending"] else y


@emits("top_k")
def _top_k(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    """Ranks by comparison, so ties go to the lower index and NaN ranks above +inf exactly as KIF says (torch.topk
    and so Keras-torch break ties either way): rank_i = #{j: x_j > x_i, or x_j == x_i and j < i}."""
    x, k = xs[0], a["k"]
    n = _static(c, x, -1)
    xi, xj = c.ops.expand_dims(x, -1), c.ops.expand_dims(x, -2)
    greater, equal = c.ops.greater(xj, xi), c.ops.equal(xj, xi)
    if "float" in _dtype(x):
        nan_i, nan_j = c.ops.isnan(xi), c.ops.isnan(xj)
        greater = c.ops.logical_or(greater, c.ops.logical_and(nan_j, c.ops.logical_not(nan_i)))
        equal = c.ops.logical_or(equal, c.ops.logical_and(nan_j, nan_i))
    earlier = np.arange(n)[None, :] < np.arange(n)[:, None]  # [i, j]: j comes before i
    before = c.ops.logical_or(greater, c.ops.logical_and(equal, earlier))
    rank = c.ops.sum(c.ops.cast(before, "int32"), axis=-1)
    wanted = np.arange(k, dtype="int32").reshape(k, 1)
    indices = c.ops.argmax(c.ops.cast(c.ops.equal(c.ops.expand_dims(rank, -2), wanted), "int32"), axis=-1)
    return [c.ops.take_along_axis(x, indices, axis=-1), c.ops.cast(indices, a["dtype"])]


@emits("repeat")
def _repeat(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, axis, repeats = xs[0], a["axis"], a["repeats"]
    if axis is None:
        x, axis = c.ops.reshape(x, (-1,)), 0
    if isinstance(repeats, list):  # Keras-torch cannot take a count list: gather the positions numpy.repeat reads
        if len(repeats) != _static(c, x, axis):
            raise c.refuse(f"{len(repeats)} repeat counts for an axis of size {x.shape[axis]}")
        return c.ops.take(x, [int(i) for i in np.repeat(np.arange(len(repeats)), repeats)], axis=axis)
    return c.ops.repeat(x, repeats, axis=axis)


@emits("take_along_axis")
def _take_along_axis(c: OpContext, a: dict[str, Any], xs: list[Any]) -> Any:
    x, indices, axis = xs[0], xs[1], a["axis"]
    size = _static(c, x, axis)
    indices = c.ops.where(c.ops.less(indices, 0), c.ops.add(indices, size), indices)  # negative counts from the end
    return c.ops.take_along_axis(x, indices, axis=axis)


# Rows composed of keras.ops calls the converter does not read back (comparisons with constant tensors, isnan,
# zeros_like) run inside one ``kif>Op`` layer instead, which records the op and its attributes: a rebuilt model then
# exports back to the same op (kif/keras/op_nodes.py), and Keras reloads it after ``register_keras_objects()``.
WRAPPED = {"op.one_hot", "op.top_k", "op.cumsum", "op.take_along_axis"}


def emit(keras: Any, layer: Layer, inputs: list[Any], weights: dict[str, np.ndarray], anchor: Any, name: str) -> list[Any]:
    """The Keras tensors of one op layer, cast to the dtypes KIF's shape rule gives."""
    from kif.layers import TensorType, kernels

    row = TABLE.get(layer.type)
    if row is None:
        raise KifError(f"Layer {layer.name!r}: to_keras has no rebuild for op {layer.type!r}", code="layer-unsupported", pointer=layer.name)
    c = OpContext(keras, layer, weights, anchor, name)
    try:
        types = [TensorType(_dtype(x), tuple(x.shape)) for x in inputs]
        wanted = kernels()[layer.type].infer(layer.attributes, types, {r: tuple(np.shape(v)) for r, v in weights.items()})
        if layer.type in WRAPPED:
            import json

            from kif.keras.to_keras_objects import op_class

            wrapper = op_class()(layer.type, json.dumps(layer.attributes, sort_keys=True), len(layer.outputs), name=name)
            result = wrapper(*inputs)
        else:
            result = row(c, layer.attributes, list(inputs))
    except (KeyError, TypeError, ValueError) as exc:  # ShapeError is a ValueError: a graph that was not validated
        raise KifError(f"Layer {layer.name!r} ({layer.type}): cannot rebuild it in Keras: {exc}", code="layer-unsupported",
                       pointer=layer.name) from None  # fmt: skip
    outs = (list(result) if isinstance(result, list) else [result])[: len(layer.outputs)]  # undeclared trailing outputs
    return [o if _dtype(o) == t.dtype else keras.ops.cast(o, t.dtype) for o, t in zip(outs, wanted, strict=True)]


__all__ = ["TABLE", "WRAPPED", "OpContext", "emit", "emits"]
