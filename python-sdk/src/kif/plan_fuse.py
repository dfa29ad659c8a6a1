"""The fusions of the run plan (kif.plan); spec/conformance.md leaves how layers are fused to the implementation.

* **BatchNormalization folded** into the Conv1D/2D/3D or Dense before it (channels_last, linear activation,
  the BN on the last axis, float32/float64): kernel' = kernel s and bias' = (bias - moving_mean) s + beta per
  output channel, s = gamma / sqrt(moving_variance + epsilon), computed in float64 and rounded once. The
  result is the documented math in another rounding order: each output differs by a few ulp of the terms it
  sums, far inside Conv2D's and Dense's tolerances (the conformance suite runs the folded models).
* **An activation layer fused** into the layer before it: ``Activation`` becomes that layer's activation (the
  same function on the same values), a default ``ReLU`` is applied in place (its own formula, x * (x > 0)).
* **Add in place**: two inputs of one dtype, written into an input that nothing else reads and that a kernel
  created in this run (never a graph input, a weight or a view).

A link is fused only when the tensor between the layers has that one reader and is not a graph output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from kif.graph import Layer, Model
from kif.layers import Kernel, TensorType

Fn = Any  # kif.plan.Fn
HEADS = frozenset({"Dense", "Conv1D", "Conv2D", "Conv3D"})
# Kernels whose outputs are arrays of their own (no view of an input or a weight): an Add may write into them.
FRESH = frozenset({*HEADS, "BatchNormalization", "LayerNormalization", "MultiHeadAttention", "Add"})
_FLOATS = ("float32", "float64")


def groups(graph: Model) -> tuple[list[list[Layer]], set[str]]:
    """The layers in order, each chain Conv/Dense [→ BatchNormalization] [→ activation layer] as one group; and
    the tensors a FRESH kernel writes that have one reader and are not graph outputs (an Add may overwrite them)."""
    readers = Counter(t for layer in graph.layers for t in layer.inputs if t is not None)
    outputs = {s.name for s in graph.outputs}
    sole = {t for t, n in readers.items() if n == 1 and t not in outputs}
    out: list[list[Layer]] = []
    for layer in graph.layers:
        prev = out[-1] if out else None
        if prev is not None and prev[0].type in HEADS and _links(prev, layer, sole):
            prev.append(layer)
        else:
            out.append([layer])
    fresh = {t for layer in graph.layers if layer.type in FRESH for t in layer.outputs if t in sole}
    return out, fresh


def _links(chain: list[Layer], layer: Layer, sole: set[str]) -> bool:
    last = chain[-1]
    if len(last.outputs) != 1 or last.outputs[0] not in sole or layer.inputs != [last.outputs[0]] or len(layer.outputs) != 1:
        return False
    kinds = [x.type for x in chain[1:]]
    if layer.type == "BatchNormalization":
        return not kinds
    return _is_activation(layer) and all(k == "BatchNormalization" for k in kinds)


def _is_activation(layer: Layer) -> bool:
    a = layer.attributes
    if layer.type == "ReLU":
        return a.get("max_value") is None and a.get("negative_slope", 0) == 0 and a.get("threshold", 0) == 0
    return layer.type == "Activation"


def generic(kernel: type[Kernel], layer: Layer, weights: Mapping[str, np.ndarray]) -> Fn:
    attrs, w = layer.attributes, dict(weights)

    def fn(args: list[np.ndarray | None]) -> list[np.ndarray]:
        return kernel.run(attrs, args, w)

    return fn


def step_fn(
    group: list[Layer],
    table: Mapping[str, type[Kernel]],
    weights: Mapping[str, Mapping[str, np.ndarray]],
    types: Mapping[str, TensorType | None],
    fresh: set[str],
) -> Fn | None:
    """The function of a group, or None when the group must run layer by layer (a condition does not hold)."""
    head = group[0]
    x = types.get(head.inputs[0]) if head.inputs and head.inputs[0] is not None else None
    if len(group) == 1:
        if head.type == "Add":
            return _add_in_place(head, types, fresh) or generic(table[head.name], head, weights[head.name])
        if head.type == "Dense" and x is not None and x.dtype in _FLOATS and table[head.name] is _dense_kernel():
            return _dense(head.attributes, weights[head.name], x, relu=False)
        return generic(table[head.name], head, weights[head.name])
    if x is None or x.dtype not in _FLOATS or head.attributes.get("activation") != "linear":
        return None
    if head.type != "Dense" and head.attributes.get("data_format") != "channels_last":
        return None
    attrs, w = dict(head.attributes), dict(weights[head.name])
    relu = False
    for layer in group[1:]:
        if layer.type == "BatchNormalization":
            out = types.get(head.outputs[0])
            if out is None or not _last_axis(layer.attributes["axis"], len(out.shape)):
                return None
            w = _fold(attrs, w, layer.attributes, weights[layer.name], np.dtype(x.dtype))
            attrs["use_bias"] = True
        elif layer.type == "Activation":
            attrs["activation"] = layer.attributes["activation"]
        else:
            relu = True
    kernel = table[head.name]
    if head.type == "Dense" and kernel is _dense_kernel():
        return _dense(attrs, w, x, relu)

    def fn(args: list[np.ndarray | None]) -> list[np.ndarray]:
        y = kernel.run(attrs, args, w)[0]
        if relu:
            np.multiply(y, y > 0, out=y)  # the ReLU layer's x * (x > 0): -0.0 below zero, NaN for NaN and -inf
        return [y]

    return fn


def _dense_kernel() -> type[Kernel]:
    from kif.layers.dense import Dense

    return Dense  # type: ignore[return-value]


def _dense(attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray], x: TensorType, relu: bool) -> Fn:
    """Dense.run for a float32/float64 input of type ``x`` with its per-call work done here, once: the kernel and
    bias cast to the input's dtype (Dense.run casts them on every call), the activation looked up. The same
    operations on the same values: matmul, the bias added in place, the activation on matmul's own array.

    For linear, relu and softmax (in place on matmul's result) the output type is fixed here: x's leading axes
    and the kernel's columns, in x's dtype; the function then carries ``one`` (the same on one array, returning
    it) and ``out`` ((shape, dtype)), which the plan uses to skip the per-call check of the output."""
    from kif.layers.activations import apply_fresh, softmax_fresh

    dtype = np.dtype(x.dtype)
    kernel = np.asarray(weights["kernel"]).astype(dtype, copy=False)
    bias = np.asarray(weights["bias"]).astype(dtype, copy=False) if attrs["use_bias"] else None
    activation = attrs["activation"]
    matmul, maximum, multiply = np.matmul, np.maximum, np.multiply
    zero = dtype.type(0)  # the 0 that maximum(y, 0) casts to y's dtype on every call, made once (the same +0.0)

    if bias is not None and not relu and activation == "relu":

        def one(x: np.ndarray) -> np.ndarray:
            y = matmul(x, kernel)
            y += bias
            return maximum(y, zero, out=y)  # type: ignore[no-any-return]  # activations.apply_fresh's relu, in place

    elif bias is not None and not relu and activation == "softmax":

        def one(x: np.ndarray) -> np.ndarray:
            y = matmul(x, kernel)
            y += bias
            return softmax_fresh(y)  # activations.apply_fresh's softmax, in place

    elif bias is not None and not relu and activation == "linear":

        def one(x: np.ndarray) -> np.ndarray:
            y = matmul(x, kernel)
            y += bias
            return y  # type: ignore[no-any-return]

    else:

        def one(x: np.ndarray) -> np.ndarray:
            y = matmul(x, kernel)
            if bias is not None:
                y += bias
            if activation == "relu":
                maximum(y, 0, out=y)  # activations.apply_fresh's relu, in place
            elif activation != "linear":
                y = apply_fresh(activation, y).astype(dtype, copy=False)
            if relu:
                multiply(y, y > 0, out=y)  # the ReLU layer's x * (x > 0): -0.0 below zero, NaN for NaN and -inf
            return y  # type: ignore[no-any-return]

    def fn(args: list[np.ndarray | None]) -> list[np.ndarray]:
        return [one(args[0])]  # type: ignore[arg-type]

    if activation in ("linear", "relu", "softmax") and kernel.ndim == 2 and all(isinstance(d, int) for d in x.shape):
        fn.one = one  # type: ignore[attr-defined]
        fn.out = ((*x.shape[:-1], kernel.shape[1]), dtype)  # type: ignore[attr-defined]
    return fn


def _last_axis(axis: int | list[int], rank: int) -> bool:
    given = axis if isinstance(axis, list) else [axis]
    return len(given) == 1 and given[0] in (-1, rank - 1)


def _fold(
    attrs: dict[str, Any], w: dict[str, np.ndarray], bn: Mapping[str, Any], bw: Mapping[str, np.ndarray], dtype: np.dtype
) -> dict[str, np.ndarray]:
    """kernel s and (bias - mean) s + beta, in float64, rounded once to the compute dtype."""
    var = np.asarray(bw["moving_variance"], np.float64)
    s = 1.0 / np.sqrt(var + float(np.asarray(bn["epsilon"], dtype)))
    if bn["scale"]:
        s = s * np.asarray(bw["gamma"], np.float64)
    bias = np.asarray(w["bias"], np.float64) if attrs["use_bias"] else np.zeros_like(s)
    shift = (bias - np.asarray(bw["moving_mean"], np.float64)) * s
    if bn["center"]:
        shift = shift + np.asarray(bw["beta"], np.float64)
    kernel = np.asarray(w["kernel"], np.float64) * s
    return {**w, "kernel": np.ascontiguousarray(kernel, dtype), "bias": np.ascontiguousarray(shift, dtype)}


def _add_in_place(layer: Layer, types: Mapping[str, TensorType | None], fresh: set[str]) -> Fn | None:
    if len(layer.inputs) != 2 or None in layer.inputs:
        return None
    a_name, b_name = layer.inputs[0], layer.inputs[1]
    a, b, out = types.get(a_name), types.get(b_name), types.get(layer.outputs[0])  # type: ignore[arg-type]
    if a is None or b is None or out is None or a.dtype not in _FLOATS or a.dtype != b.dtype or a_name == b_name:
        return None
    for target, index in ((a, 0), (b, 1)):
        name = layer.inputs[index]
        if name in fresh and target.shape == out.shape and len(a.shape) == len(b.shape):

            def fn(args: list[np.ndarray | None], index: int = index) -> list[np.ndarray]:
                x, y = args[index], args[1 - index]
                return [np.add(x, y, out=x)]  # type: ignore[call-overload]

            return fn
    return None
