"""``keras.ops`` nodes and tf.keras ``TFOpLambda`` functions → primitive ops (spec/ops/index.md).

``op_nodes`` maps a node onto a layer type where one computes the same thing; what remains comes here. A Python
number among an op's arguments becomes an ``op.constant`` of the tensor's dtype (a 0-d weight) feeding the op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.keras.mapping import Context, MappedLayer
from kif.keras.op_axis import map_axis, map_tf_axis
from kif.keras.op_shapes import map_shape, map_tf_shape
from kif.keras.op_tf_structure import einsum_refusal, map_tf_structure
from kif.ops._types import DTYPES

# keras.ops class name → op name: element-wise ops whose arguments are all tensors or numbers.
KERAS_ELEMENTWISE = {
    "Absolute": "abs", "Abs": "abs", "Negative": "neg", "Exp": "exp", "Log": "log", "Log1p": "log1p", "Sqrt": "sqrt",
    "Rsqrt": "rsqrt", "Square": "square", "Reciprocal": "reciprocal", "Sin": "sin", "Cos": "cos", "Tan": "tan",
    "Tanh": "tanh", "Sigmoid": "sigmoid", "Erf": "erf", "Floor": "floor", "Ceil": "ceil", "Sign": "sign",
    "Add": "add", "Subtract": "subtract", "Multiply": "multiply", "TrueDivide": "divide", "Divide": "divide",
    "FloorDivide": "floor_divide", "Mod": "mod", "Power": "power", "Maximum": "maximum", "Minimum": "minimum",
    "Equal": "equal", "NotEqual": "not_equal", "Less": "less", "LessEqual": "less_equal", "Greater": "greater",
    "GreaterEqual": "greater_equal", "LogicalAnd": "logical_and", "LogicalOr": "logical_or",
    "LogicalXor": "logical_xor", "LogicalNot": "logical_not", "Where": "where",
}  # fmt: skip
_TF_UNARY = ("abs", "exp", "log", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos", "tan", "tanh", "sigmoid", "erf")
_TF_UNARY_MORE = ("floor", "ceil", "round", "sign")
_TF_BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "equal", "not_equal", "less", "less_equal", "greater")
_TF_BINARY_MORE = ("greater_equal", "logical_and", "logical_or", "logical_xor")
# TFOpLambda function → (op name, the argument names in order).
TF_ELEMENTWISE = {
    **{f"math.{f}": (f, ("x",)) for f in _TF_UNARY + _TF_UNARY_MORE},
    "math.negative": ("neg", ("x",)),
    **{f"math.{f}": (f, ("x", "y")) for f in _TF_BINARY + _TF_BINARY_MORE},
    "math.divide": ("divide", ("x", "y")), "math.truediv": ("divide", ("x", "y")), "math.floordiv": ("floor_divide", ("x", "y")),
    "math.floormod": ("mod", ("x", "y")), "math.pow": ("power", ("x", "y")), "math.logical_not": ("logical_not", ("x",)),
    "__operators__.add": ("add", ("x", "y")), "compat.v1.where": ("where", ("condition", "x", "y")),
    "where": ("where", ("condition", "x", "y")), "nn.sigmoid": ("sigmoid", ("x",)),
}  # fmt: skip

KERAS_REDUCTIONS = {
    "Sum": "sum", "Mean": "mean", "Max": "max", "Min": "min", "Prod": "prod", "Var": "var", "Std": "std",
    "Logsumexp": "logsumexp", "Argmax": "argmax", "Argmin": "argmin", "Any": "any", "All": "all",
}  # fmt: skip
_TF_REDUCTIONS = {"variance": "var", "std": "std", "logsumexp": "logsumexp", "any": "any", "all": "all"}
TF_REDUCTIONS = {
    **{f"{ns}reduce_{f}": _TF_REDUCTIONS.get(f, f) for ns in ("", "math.") for f in ("sum", "mean", "max", "min", "prod", *_TF_REDUCTIONS)},
    **{f"{ns}{f}": f for ns in ("", "math.") for f in ("argmax", "argmin")},
}


def fail(ctx: Context, why: str) -> Exception:
    function = ctx.config.get("function")  # TFOpLambda / SlicingOpLambda: the TensorFlow function
    what = ctx.node.class_name + (f" ({function})" if isinstance(function, str) else "")
    return ctx.fail(f"the op node {what} {why}; express it with built-in layers or keras.ops KIF maps (spec/ops/index.md)")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Emitter:
    """Builds the primitive-op layers of one node: constants first, the op last (writing the node's output)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.layers = ctx, []  # type: list[MappedLayer]

    def dtype(self, tensors: list[str | None]) -> str:
        for tensor in tensors:
            found = self.ctx.type_of(tensor) if tensor is not None else None
            if found is not None:
                return str(found.dtype)
        raise fail(self.ctx, "has no tensor argument of known dtype")

    def constant(self, value: Any, dtype: str) -> str:
        from kif.dtypes import by_name

        suffix = f"/c{len(self.layers)}"
        name = f"{self.ctx.node.outputs[0]}{suffix}"
        array = np.asarray(value).astype(np.dtype(by_name(dtype).numpy))
        self.layers.append(MappedLayer("op.constant", {"dtype": dtype}, [], [name], {"value": array}, suffix, None))
        return name

    def op(self, name: str, inputs: list[str | None], count: int = 1, **attrs: Any) -> list[MappedLayer]:
        """``count``: the op's outputs (split, top_k), named as the Keras node's outputs ``name``, ``name:1``, …"""
        outputs = [self.ctx.output(i) for i in range(count)] if count > 1 else list(self.ctx.node.outputs)
        self.layers.append(MappedLayer(f"op.{name}", attrs, inputs, outputs, output_mask=None))
        return self.layers

    def args(self, values: list[Any], op: str = "") -> list[str | None]:
        """Tensor names and numbers (as constants of the data tensors' dtype; where's condition is not one) → op inputs."""
        data = values[1:] if op == "where" else values
        dtype = self.dtype([v for v in data if isinstance(v, str)] or [v for v in values if isinstance(v, str)])
        return [v if isinstance(v, str) else self.constant(v, dtype) for v in values]


def keras_args(ctx: Context) -> list[Any]:
    """The node's positional arguments in call order: tensor names where the tensors sat, constants elsewhere."""
    node = ctx.node
    tensors, constants = iter(node.inputs), iter(node.constants)
    count = len(node.inputs) + len(node.constants)
    slots = set(node.tensor_slots) if node.tensor_slots else set(range(len(node.inputs)))
    return [next(tensors) if i in slots else next(constants) for i in range(count)]


def map_keras(ctx: Context) -> list[MappedLayer] | None:
    """A keras.ops node → primitive ops, or None when no op family knows the class."""
    name, config = ctx.node.class_name, ctx.config
    emit = Emitter(ctx)
    shaped = map_shape(ctx, emit) or map_axis(ctx, emit)
    if shaped is not None or ctx.node.kw_inputs:
        return shaped
    args = keras_args(ctx)
    if any(not isinstance(a, str) and not _number(a) for a in args):
        raise fail(ctx, f"takes arguments KIF cannot represent: {[a for a in args if not isinstance(a, str)]!r}")
    if name in KERAS_ELEMENTWISE:
        return emit.op(KERAS_ELEMENTWISE[name], emit.args(args, KERAS_ELEMENTWISE[name]))
    if name in KERAS_REDUCTIONS and len(args) == 1 and config.get("initial") is None and config.get("dtype") is None:
        op = KERAS_REDUCTIONS[name]
        return emit.op(op, emit.args(args), **reduction(ctx, op, config.get("axis"), config.get("keepdims", False), "int32"))
    if name == "Round" and len(args) == 1 and config.get("decimals", 0) == 0:
        return emit.op("round", emit.args(args))
    if name == "Cast" and len(args) == 1:
        if config.get("dtype") not in DTYPES:
            raise fail(ctx, f"casts to dtype {config.get('dtype')!r}, which KIF lacks")
        return emit.op("cast", emit.args(args), dtype=str(config["dtype"]))
    if name == "Clip" and len(args) == 1 and _number(config.get("x_min")) and _number(config.get("x_max")):
        return emit.op("clip", emit.args(args), min=config["x_min"], max=config["x_max"])
    return None


def map_tf(ctx: Context, function: str) -> list[MappedLayer] | None:
    """A TFOpLambda (a TensorFlow function on Keras tensors) → primitive ops, or None when none matches."""
    node = ctx.node
    emit = Emitter(ctx)
    shaped = map_tf_shape(ctx, emit, function) or map_tf_axis(ctx, emit, function)
    if shaped is None:
        shaped = map_tf_structure(ctx, emit, function)  # concat, stack, gather, pad, tile, slice, strided_slice
    refusal = einsum_refusal(ctx, function)
    if refusal is not None:
        raise refusal
    if shaped is not None:
        return shaped
    kwargs = {k: v for k, v in node.kwargs.items() if k != "name"}
    values: dict[str, Any] = {k: v[0] for k, v in node.kw_inputs.items() if len(v) == 1}
    if function == "cast" and len(node.inputs) == 1 and kwargs.get("dtype") in DTYPES:
        return emit.op("cast", [node.inputs[0]], dtype=kwargs["dtype"])
    if function in ("clip_by_value", "math.clip_by_value") and len(node.inputs) == 1:
        low, high = kwargs.get("clip_value_min"), kwargs.get("clip_value_max")
        if _number(low) and _number(high):
            return emit.op("clip", [node.inputs[0]], min=low, max=high)
    if function in TF_REDUCTIONS and len(node.inputs) == 1 and not values and set(kwargs) <= {"axis", "keepdims", "output_type"}:
        op = TF_REDUCTIONS[function]
        axis = kwargs.get("axis", 0 if op in ("argmax", "argmin") else None)  # tf.math.argmax's axis=None means 0
        index = {"int32": "int32", None: "int64", "int64": "int64"}.get(kwargs.get("output_type"))
        if index is None or (op not in ("argmax", "argmin") and "output_type" in kwargs):
            return None
        return emit.op(op, [node.inputs[0]], **reduction(ctx, op, axis, kwargs.get("keepdims", False), index))
    op, names = TF_ELEMENTWISE.get(function, ("", ()))
    if not op:
        return None
    positional = list(node.inputs) + list(node.constants)
    ordered: list[Any] = []
    for i, arg in enumerate(names):
        value = positional[i] if i < len(positional) else values.get(arg, kwargs.get(arg))
        if not (value in node.inputs or value in values.values() or _number(value)):
            return None  # a string argument is not a tensor name
        ordered.append(value)
    if len(positional) > len(names) or set(kwargs) - set(names) or set(values) - set(names):
        return None
    return emit.op(op, emit.args(ordered, op))


def reduction(ctx: Context, op: str, axis: Any, keepdims: Any, index: str) -> dict[str, Any]:
    """The attributes of a reduction: axis null, an integer or a list of integers; argmax/argmin one axis or null."""
    ints = isinstance(axis, list) and all(isinstance(a, int) and not isinstance(a, bool) for a in axis)
    if not (axis is None or (isinstance(axis, int) and not isinstance(axis, bool)) or (ints and op not in ("argmax", "argmin"))):
        raise fail(ctx, f"reduces over axis={axis!r}, which is not null, an integer or a list of integers")
    if not isinstance(keepdims, bool):
        raise fail(ctx, f"has keepdims={keepdims!r}, not a boolean")
    attrs: dict[str, Any] = {"axis": axis, "keepdims": keepdims}
    if op in ("argmax", "argmin"):
        attrs["dtype"] = index
    return attrs
