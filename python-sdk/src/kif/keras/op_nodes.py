"""Keras call-graph nodes that are not layers: Keras 3 ``keras.ops`` nodes in functional configs, tf.keras
``TFOpLambda`` nodes (TensorFlow functions applied to Keras tensors), and Keras ≤ 2.1's ``Merge`` layer.
Each maps onto a catalog layer where one computes the same thing; anything else is refused naming the layer.
"""

from __future__ import annotations

from typing import Any

from kif.errors import KifError
from kif.keras import op_prims
from kif.keras.mapping import Context, MappedLayer, mapper

# ---------------------------------------------------------------- keras.ops nodes (Keras 3 functional configs)

_OP_ACTIVATIONS = {
    "Relu": "relu",
    "Relu6": "relu6",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "Silu": "silu",
    "Swish": "silu",
    "Selu": "selu",
    "Exp": "exponential",
    "HardSigmoid": "hard_sigmoid",  # ops exist only in Keras 3 files: relu6(x + 3) / 6
    "HardSilu": "hard_silu",
    "HardSwish": "hard_silu",
    "HardTanh": "hard_tanh",
    "LogSigmoid": "log_sigmoid",
    "SparsePlus": "sparse_plus",
    "SparseSigmoid": "sparse_sigmoid",
    "TanhShrink": "tanh_shrink",
}
# Ops whose parameter KIF fixes at the Keras default (an activation name carries none): op → (activation, defaults).
_OP_DEFAULT_ACTIVATIONS: dict[str, tuple[str, dict[str, float]]] = {
    "Celu": ("celu", {"alpha": 1.0}),
    "Glu": ("glu", {"axis": -1}),
    "HardShrink": ("hard_shrink", {"threshold": 0.5}),
    "SoftShrink": ("soft_shrink", {"threshold": 0.5}),
    "Sparsemax": ("sparsemax", {"axis": -1}),
    "Squareplus": ("squareplus", {"b": 4}),
}
_OP_MERGES = {"Add", "Subtract", "Multiply", "Maximum", "Minimum"}


def _op_fail(ctx: Context, why: str) -> Exception:
    return ctx.fail(f"the Keras op node {ctx.node.module}.{ctx.node.class_name} {why}; express it with built-in layers")


def map_op(ctx: Context) -> list[MappedLayer]:
    """A ``keras.ops`` call recorded in a Keras 3 functional config → the catalog layer computing the same, else
    the primitive ops (spec/ops/index.md); the layer mapping's refusal stands when no op maps the call either."""
    try:
        return _map_layer(ctx)
    except KifError:
        prims = op_prims.map_keras(ctx)
        if prims is None:
            raise
        return prims


def _same_shape(ctx: Context, inputs: list[str | None]) -> bool:
    """A merge layer needs one shape; a broadcasting op (a weight times a batch) maps to the op instead."""
    shapes = [ctx.shape_of(t) if t is not None else None for t in inputs]
    first, second = shapes
    if first is None or second is None:
        return True
    return len(first) == len(second) and (first[:1] == (None,)) == (second[:1] == (None,))


def _map_layer(ctx: Context) -> list[MappedLayer]:
    node, config, name = ctx.node, ctx.config, ctx.node.class_name
    inputs: list[str | None] = list(node.inputs)
    numbers = [c for c in node.constants if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if len(numbers) != len(node.constants) or node.kw_inputs or len(inputs) < 1:
        raise _op_fail(ctx, "takes arguments KIF cannot represent")
    kif_type: str
    attrs: dict[str, Any]
    if name in _OP_ACTIVATIONS and len(inputs) == 1 and not numbers:
        kif_type, attrs = "Activation", {"activation": _OP_ACTIVATIONS[name]}
    elif name in _OP_DEFAULT_ACTIVATIONS and len(inputs) == 1 and not numbers:
        activation, defaults = _OP_DEFAULT_ACTIVATIONS[name]
        for key, default in defaults.items():
            if config.get(key, default) != default:
                raise _op_fail(ctx, f"has {key}={config[key]!r}; KIF's {activation} has {key}={default} only")
        kif_type, attrs = "Activation", {"activation": activation}
    elif name == "Gelu" and len(inputs) == 1:
        kif_type, attrs = "Activation", {"activation": "gelu_tanh" if config.get("approximate", True) else "gelu"}
    elif name == "Elu" and len(inputs) == 1:
        kif_type, attrs = "ELU", {"alpha": float(config.get("alpha", 1.0))}
    elif name == "LeakyRelu" and len(inputs) == 1:
        kif_type, attrs = "LeakyReLU", {"negative_slope": float(config.get("negative_slope", 0.2))}
    elif name == "Softmax" and len(inputs) == 1:
        kif_type, attrs = "Softmax", {"axis": config.get("axis", -1)}
    elif name == "LogSoftmax" and len(inputs) == 1 and config.get("axis", -1) == -1:
        kif_type, attrs = "Activation", {"activation": "log_softmax"}
    elif name in _OP_MERGES and len(inputs) == 2 and not numbers and _same_shape(ctx, inputs):
        kif_type, attrs = name, {}
    elif name in ("Add", "Subtract", "Multiply", "TrueDivide", "Divide") and len(inputs) == 1 and _rescalable(name, numbers, node):
        kif_type, attrs = "Rescaling", _scalar_rescaling(ctx, name, float(numbers[0]), tensor_first=node.tensor_slots == [0])
    elif name == "Concatenate" and len(inputs) >= 2 and not numbers:
        kif_type, attrs = "Concatenate", {"axis": config.get("axis", -1)}
    elif name == "Reshape" and len(inputs) == 1:
        kif_type, attrs = "Reshape", {"target_shape": _batch_kept(ctx, config.get("newshape"))}
    elif name == "Transpose" and len(inputs) == 1:
        axes = config.get("axes")
        if not isinstance(axes, list) or not axes or axes[0] != 0:
            raise _op_fail(ctx, f"moves the batch axis (axes={axes!r})")
        kif_type, attrs = "Permute", {"dims": list(axes[1:])}
    elif name == "ConvertToTensor" and len(inputs) == 1 and config.get("dtype") is None and not config.get("sparse"):
        kif_type, attrs = "Identity", {}
    elif name in ("ExpandDims", "Squeeze") and len(inputs) == 1:
        kif_type, attrs = "Reshape", {"target_shape": _expand_or_squeeze(ctx, name, config.get("axis"))}
    else:
        raise _op_fail(ctx, "has no KIF equivalent")
    return [MappedLayer(kif_type, attrs, inputs, list(node.outputs), output_mask=None)]  # ops drop Keras masks


def _rescalable(name: str, numbers: list[Any], node: Any) -> bool:
    """x + c, c + x, x - c, c - x, x * c, c * x and x / c (c != 0) are a Rescaling; c / x and x / 0 are ops."""
    if len(numbers) != 1:
        return False
    return name not in ("TrueDivide", "Divide") or (node.tensor_slots == [0] and numbers[0] != 0)


def _scalar_rescaling(ctx: Context, name: str, number: float, *, tensor_first: bool) -> dict[str, Any]:
    """x + c, c + x, x - c, c - x, x * c, c * x, x / c as Rescaling(scale, offset): y = x * scale + offset."""
    if name in ("Add", "Multiply") or tensor_first:
        if name in ("TrueDivide", "Divide") and number == 0:
            raise _op_fail(ctx, "divides by zero")
        return {
            "Add": {"scale": 1.0, "offset": number},
            "Subtract": {"scale": 1.0, "offset": -number},
            "Multiply": {"scale": number, "offset": 0.0},
        }.get(name, {"scale": 1.0 / number, "offset": 0.0})
    if name == "Subtract":
        return {"scale": -1.0, "offset": number}
    raise _op_fail(ctx, "divides a number by a tensor")


def _batch_kept(ctx: Context, shape: Any) -> list[int]:
    """ops.reshape's new shape includes the batch axis (-1, the one inferred size); KIF's Reshape keeps it."""
    if not isinstance(shape, list) or len(shape) < 2 or shape[0] != -1 or any(not isinstance(d, int) or d < 1 for d in shape[1:]):
        raise _op_fail(ctx, f"reshapes the batch axis (newshape={shape!r})")
    return [int(d) for d in shape[1:]]


def _expand_or_squeeze(ctx: Context, name: str, axis: Any) -> list[int]:
    shape = ctx.shape_of(ctx.node.inputs[0])
    if shape is None or any(d is None for d in shape[1:]) or not isinstance(axis, int):
        raise _op_fail(ctx, "needs a static input shape and one integer axis")
    dims = list(shape)
    if name == "ExpandDims":
        position = axis if axis >= 0 else len(dims) + 1 + axis
        if position == 0:
            raise _op_fail(ctx, "adds an axis before the batch axis")
        dims.insert(position, 1)
    else:
        position = axis if axis >= 0 else len(dims) + axis
        if position == 0 or dims[position] != 1:
            raise _op_fail(ctx, f"squeezes axis {axis}, which is not of size 1 or is the batch axis")
        del dims[position]
    return [int(d) for d in dims[1:]]


@mapper("DropMask")
def _drop_mask(ctx: Context) -> list[MappedLayer]:
    """to_keras's ``kif>DropMask`` (a tensor without its Keras mask) → Identity with no mask; ``kif.keras.export`` folds it away."""
    if ctx.node.registered_name != "kif>DropMask" or len(ctx.node.inputs) != 1:
        raise ctx.fail("unknown layer class (only kif.keras.to_keras's kif>DropMask has this name)")
    return [MappedLayer("Identity", {}, list(ctx.node.inputs), list(ctx.node.outputs), output_mask=None)]


@mapper("Constant")
def _constant(ctx: Context) -> list[MappedLayer]:
    """to_keras's ``kif>Constant`` (an op.constant, called on a graph tensor Keras needs) → op.constant with its weight."""
    if ctx.node.registered_name != "kif>Constant" or len(ctx.node.outputs) != 1:
        raise ctx.fail("unknown layer class (only kif.keras.to_keras's kif>Constant has this name)")
    [(_, value)] = ctx.load_weights().items
    return [
        MappedLayer("op.constant", {"dtype": ctx.config["value_dtype"]}, [], list(ctx.node.outputs), {"value": value}, output_mask=None)
    ]


@mapper("Op")
def _wrapped_op(ctx: Context) -> list[MappedLayer]:
    """to_keras's ``kif>Op`` (a KIF op its row composes inside one Keras layer) → that op with its attributes."""
    import json

    from kif import catalog

    op_type = ctx.config.get("op_type")
    if ctx.node.registered_name != "kif>Op" or not isinstance(op_type, str) or op_type not in catalog.catalog():
        raise ctx.fail("unknown layer class (only kif.keras.to_keras's kif>Op has this name, naming a catalog op)")
    try:
        attributes = json.loads(ctx.config.get("op_attributes", ""))
    except (TypeError, ValueError):
        raise ctx.fail("expected op_attributes to be a JSON object") from None
    if not isinstance(attributes, dict):
        raise ctx.fail("expected op_attributes to be a JSON object")
    count = ctx.config.get("n_outputs", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 16:
        raise ctx.fail(f"expected n_outputs to be an integer in [1, 16]. Received: {count!r}")
    outputs = [ctx.output(i) for i in range(count)]  # a multi-output layer's tensors: name, name:1, ...
    return [MappedLayer(op_type, attributes, list(ctx.node.inputs), outputs, output_mask=None)]


# Keras ≤ 2.1's deprecated Merge layer: one class, the operation in ``mode``.
_MERGE_MODES = {"sum": "Add", "mul": "Multiply", "ave": "Average", "max": "Maximum", "concat": "Concatenate", "dot": "Dot"}


@mapper("Merge")
def _merge(ctx: Context) -> list[MappedLayer]:
    mode = ctx.config.get("mode", "sum")
    if not isinstance(mode, str) or mode not in _MERGE_MODES:
        raise ctx.fail(f"Merge mode {mode!r} has no KIF equivalent (a Python function or 'cos' cannot be represented)")
    kif_type = _MERGE_MODES[mode]
    attrs: dict[str, Any] = {}
    if kif_type == "Concatenate":
        attrs = {"axis": int(ctx.config.get("concat_axis", -1))}
    elif kif_type == "Dot":
        axes = ctx.config.get("dot_axes", -1)
        attrs = {"axes": [int(a) for a in axes] if isinstance(axes, (list, tuple)) else [int(axes)] * 2, "normalize": False}
    return [MappedLayer(kif_type, attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


# ---------------------------------------------------------------- tf.keras TFOpLambda nodes (TensorFlow functions on Keras tensors)

_TF_UNARY = {
    "nn.relu": "relu",
    "nn.relu6": "relu6",
    "math.sigmoid": "sigmoid",
    "nn.sigmoid": "sigmoid",
    "math.tanh": "tanh",
    "nn.tanh": "tanh",
    "nn.elu": "elu",
    "nn.selu": "selu",
    "nn.silu": "silu",
    "nn.swish": "silu",
    "math.exp": "exponential",
    "math.softplus": "softplus",
    "nn.softplus": "softplus",
    "math.softsign": "softsign",
    "nn.softsign": "softsign",
}
_TF_BINARY = {
    "math.add": "Add",
    "__operators__.add": "Add",
    "math.subtract": "Subtract",
    "math.multiply": "Multiply",
    "math.maximum": "Maximum",
    "math.minimum": "Minimum",
    "math.truediv": "TrueDivide",
    "math.divide": "TrueDivide",
}


@mapper("TFOpLambda", "SlicingOpLambda")  # SlicingOpLambda: x[...] on a tf.keras tensor (tf.__operators__.getitem)
def _tf_op_lambda(ctx: Context) -> list[MappedLayer]:
    """The common element-wise TensorFlow functions; anything else is refused naming the function."""
    function = str(ctx.config.get("function", "?"))
    node = ctx.node
    y_tensor = (node.kw_inputs.get("y") or [None])[0]
    y_value = node.kwargs.get("y")
    others = {k for k in node.kwargs if k not in ("name", "y", "axis", "approximate", "alpha")} | (set(node.kw_inputs) - {"y"})
    inputs: list[str | None] = list(node.inputs[:1])
    kif_type: str | None = None
    attrs: dict[str, Any] = {}
    if len(node.inputs) == 1 and not others:
        if function in _TF_UNARY and y_tensor is None and y_value is None:
            kif_type, attrs = "Activation", {"activation": _TF_UNARY[function]}
        elif function == "nn.gelu":
            kif_type, attrs = "Activation", {"activation": "gelu_tanh" if node.kwargs.get("approximate") else "gelu"}
        elif function == "nn.leaky_relu":
            kif_type, attrs = "LeakyReLU", {"negative_slope": float(node.kwargs.get("alpha", 0.2))}
        elif function == "nn.softmax":
            kif_type, attrs = "Softmax", {"axis": node.kwargs.get("axis", -1)}
        elif function in _TF_BINARY and y_tensor is not None and _TF_BINARY[function] != "TrueDivide":
            kif_type, inputs = _TF_BINARY[function], [node.inputs[0], y_tensor]
        elif function in _TF_BINARY and isinstance(y_value, (int, float)) and not isinstance(y_value, bool):
            op = _TF_BINARY[function]
            if op in ("Add", "Subtract", "Multiply", "TrueDivide"):
                kif_type, attrs = "Rescaling", _scalar_rescaling(ctx, op, float(y_value), tensor_first=True)
    if kif_type is None:
        prims = op_prims.map_tf(ctx, function)  # primitive ops (spec/ops/index.md)
        if prims is not None:
            return prims
        raise ctx.fail(f"a TensorFlow op node ({function}) with no KIF mapping; rebuild the model with Keras layers")
    return [MappedLayer(kif_type, attrs, inputs, list(node.outputs), output_mask=None)]
