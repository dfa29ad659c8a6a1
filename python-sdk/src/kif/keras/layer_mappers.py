"""Keras classes whose mapping is not the generic same-name rule: renamed options,
weights split or regrouped, call arguments that become attributes, wrapped layers
and the masks Keras passes between layers implicitly.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np

from kif import limits
from kif.bundle.deferred import DeferredTensor
from kif.keras import h5safe
from kif.keras.errors import too_large
from kif.keras.mapping import CLASS_ALIASES, MAPPERS, Context, MappedLayer, assign_weights, generic_attributes, map_generic, mapper
from kif.keras.weights import LayerWeights

_RNN_STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}
_RNN_ORDER = ["kernel", "recurrent_kernel", "bias"]


def _row(dataset: Any, row: int) -> DeferredTensor:
    """One row of a stored [2, n] array (GRU reset_after bias), read when written."""
    shape = tuple(dataset.shape[1:])
    return DeferredTensor(np.dtype(dataset.dtype), shape, lambda: np.asarray(h5safe.read(dataset, row)))


@mapper("LeakyReLU")
def _leaky_relu(ctx: Context) -> list[MappedLayer]:
    # Keras 2 called the slope "alpha"; Keras 3 "negative_slope".
    attrs = generic_attributes(ctx, "LeakyReLU", renames={"alpha": "negative_slope"})
    return [MappedLayer("LeakyReLU", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


def _rnn_parts(
    ctx: Context, config: dict[str, Any], class_name: str, items: list[tuple[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Attributes and weights of one recurrent layer from its config and its stored weights (Keras order)."""
    sub = replace(ctx, node=replace(ctx.node, class_name=class_name, config=config))
    attrs = generic_attributes(sub, class_name, extra_ignored={"cell"})
    if class_name == "GRU" and "reset_after" not in config:
        attrs["reset_after"] = False  # Keras ≤ 2.2 had no reset_after and computed the reset-before form
    if len(items) != (3 if attrs["use_bias"] else 2):
        raise ctx.fail(f"expected {3 if attrs['use_bias'] else 2} weights for {class_name}. Received: {len(items)}")
    weights = {role: ds for role, (_, ds) in zip(_RNN_ORDER, items, strict=False)}
    if class_name == "GRU" and attrs["reset_after"] and attrs["use_bias"]:
        bias = weights["bias"]
        weights["bias"], weights["recurrent_bias"] = _row(bias, 0), _row(bias, 1)
    return attrs, weights


def _rnn_inputs(ctx: Context, states: int) -> tuple[str, list[str | None]]:
    node = ctx.node
    x = node.inputs[0]
    initial = list(node.inputs[1:]) + node.kw_inputs.get("initial_state", [])
    mask = (node.kw_inputs.get("mask") or [None])[0] or ctx.mask_of(x)
    if initial and len(initial) != states:
        raise ctx.fail(f"expected {states} initial state tensors. Received: {len(initial)}")
    inputs: list[str | None] = [x, *initial]
    if mask is not None:
        inputs += [None] * (1 + states - len(inputs)) + [mask]
    return x, inputs


@mapper("SimpleRNN", "LSTM", "GRU")
def _rnn(ctx: Context) -> list[MappedLayer]:
    class_name = ctx.node.class_name
    if ctx.config.get("stateful"):
        raise ctx.fail("stateful recurrent layers carry state between calls, which a KIF graph cannot represent")
    attrs, weights = _rnn_parts(ctx, ctx.config, class_name, ctx.load_weights().items)
    x, inputs = _rnn_inputs(ctx, _RNN_STATES[class_name])
    count = 1 + (_RNN_STATES[class_name] if attrs["return_state"] else 0)
    mask = ctx.mask_of(x) if attrs["return_sequences"] else None
    return [MappedLayer(class_name, attrs, inputs, [ctx.output(i) for i in range(count)], weights, output_mask=mask)]


def _side(items: list[tuple[str, Any]], side: str) -> list[tuple[str, Any]]:
    return [(k, ds) for k, ds in items if any(part.startswith(side) for part in k.split("/"))]


def _split_sides(items: list[tuple[str, Any]], forward_count: int) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Forward and backward weights: by name where every stored name says its side (saving_lib groups
    ``forward_layer``/``backward_layer`` sort backward first), else by Keras order, forward first (a
    user-given ``backward_layer`` keeps its own name in legacy files)."""
    forward, backward = _side(items, "forward"), _side(items, "backward")
    if len(forward) == forward_count and len(forward) + len(backward) == len(items):
        return forward, backward
    return items[:forward_count], items[forward_count:]


@mapper("Bidirectional")
def _bidirectional(ctx: Context) -> list[MappedLayer]:
    from kif.keras.cudnn_rnn import CUDNN, cudnn_parts
    from kif.layers.wrappers import nested_layer

    inner = ctx.config["layer"]
    class_name = inner["class_name"]
    if class_name not in _RNN_STATES and class_name not in CUDNN:
        raise ctx.fail(f"Bidirectional over {class_name} is not representable (KIF wraps SimpleRNN, LSTM or GRU)")
    if inner["config"].get("stateful"):
        raise ctx.fail("stateful recurrent layers cannot be represented")
    backward_cfg = ctx.config.get("backward_layer") or {
        "class_name": class_name,
        "config": {**inner["config"], "go_backwards": not inner["config"].get("go_backwards", False)},
    }
    split = _split_sides(ctx.load_weights().items, 3 if inner["config"].get("use_bias", True) else 2)
    sides = {}
    for side, cfg, stored in (("forward", inner, split[0]), ("backward", backward_cfg, split[1])):
        if cfg["class_name"] in CUDNN:  # tf.keras 2 CuDNNLSTM / CuDNNGRU: the canonical LSTM / GRU
            side_type, attrs, weights = cudnn_parts(ctx, cfg["class_name"], cfg["config"], stored)
        else:
            side_type = cfg["class_name"]
            attrs, weights = _rnn_parts(ctx, cfg["config"], side_type, stored)
        attrs["zero_output_for_mask"] = attrs["return_sequences"]  # Keras's Bidirectional forces this
        sides[side] = (nested_layer(side_type, **attrs), weights)
    attrs = {"merge_mode": ctx.config.get("merge_mode", "concat"), "forward": sides["forward"][0], "backward": sides["backward"][0]}
    weights = {f"{side}_{role}": ds for side, (_, w) in sides.items() for role, ds in w.items()}
    states = _RNN_STATES[CUDNN[class_name][0] if class_name in CUDNN else class_name]
    x, inputs = _rnn_inputs(ctx, 2 * states)
    fwd = sides["forward"][0]["attributes"]
    count = (1 if attrs["merge_mode"] is not None else 2) + (2 * states if fwd["return_state"] else 0)
    mask = ctx.mask_of(x) if fwd["return_sequences"] else None
    return [MappedLayer("Bidirectional", attrs, inputs, [ctx.output(i) for i in range(count)], weights, output_mask=mask)]


@mapper("TimeDistributed")
def _time_distributed(ctx: Context) -> list[MappedLayer]:
    inner = ctx.config["layer"]
    sub_node = replace(ctx.node, class_name=inner["class_name"], config=inner["config"])
    mapped = _map_inner(replace(ctx, node=sub_node))
    attrs = {"layer": {"type": mapped.type, "attributes": mapped.attributes}}
    x = ctx.node.inputs[0]
    return [MappedLayer("TimeDistributed", attrs, [x], list(ctx.node.outputs), mapped.weights, output_mask=ctx.mask_of(x))]


def _map_inner(ctx: Context) -> MappedLayer:
    from kif.keras.mapping import map_node

    mapped = map_node(ctx)
    if len(mapped) != 1:
        raise ctx.fail("the wrapped layer maps to more than one KIF layer")
    return mapped[0]


@mapper("Embedding")
def _embedding(ctx: Context) -> list[MappedLayer]:
    attrs = generic_attributes(ctx, "Embedding")
    weights = assign_weights(ctx, "Embedding", attrs)
    outputs = [ctx.output(0), ctx.output(1)] if attrs["mask_zero"] else [ctx.output(0)]
    mask = outputs[1] if attrs["mask_zero"] else None
    return [MappedLayer("Embedding", attrs, list(ctx.node.inputs), outputs, weights, output_mask=mask)]


@mapper("Masking")
def _masking(ctx: Context) -> list[MappedLayer]:
    attrs = generic_attributes(ctx, "Masking")
    outputs = [ctx.output(0), ctx.output(1)]
    return [MappedLayer("Masking", attrs, list(ctx.node.inputs), outputs, output_mask=outputs[1])]


def _parts_weights(ctx: Context, stored: LayerWeights, parts: dict[str, str]) -> dict[str, Any]:
    """Weights of layers built from named sub-layers (query/key/value/output…): role = <part>_<kernel|bias>."""
    out: dict[str, Any] = {}
    for key, ds in stored.items:
        components = [c.lstrip("_") for c in key.replace(":0", "").split("/")]
        part = next((parts[c] for c in components if c in parts), None)
        if part is None:
            raise ctx.fail(f"cannot place stored weight {key!r}")
        last = components[-1]
        kind = last if last in ("kernel", "bias") else ("kernel" if last == "0" else "bias")
        out[f"{part}_{kind}"] = ds
    return out


_ATTENTION_PARTS = {
    "query": "query",
    "query_dense": "query",
    "key": "key",
    "key_dense": "key",
    "value": "value",
    "value_dense": "value",
    "attention_output": "output",
    "output_dense": "output",
    "gate": "gate",
    "gate_dense": "gate",
}


def _attention_inputs(ctx: Context, query: str, value: str, key: str | None, explicit_mask: str | None) -> list[str | None]:
    # Keras fills value_mask / key_mask from the tensors' masks when not passed; the query's mask is always its own.
    kw = ctx.node.kw_inputs
    value_mask, key_mask = ((kw.get(f"{arg}_mask") or [None])[0] or ctx.mask_of(t) for arg, t in (("value", value), ("key", key)))
    inputs: list[str | None] = [query, value, key, ctx.mask_of(query), value_mask, key_mask, explicit_mask]
    while inputs and inputs[-1] is None:
        inputs.pop()
    return inputs


@mapper("MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention")
def _multi_head_attention(ctx: Context) -> list[MappedLayer]:
    class_name = CLASS_ALIASES.get(ctx.node.class_name, ctx.node.class_name)  # legacy .h5 names GQA by its Python class
    node = ctx.node
    args = list(node.inputs)
    query = args[0]
    value = args[1] if len(args) > 1 else node.kw_inputs["value"][0]
    key = args[2] if len(args) > 2 else (node.kw_inputs.get("key") or [None])[0]
    explicit = (node.kw_inputs.get("attention_mask") or [None])[0]
    config = dict(ctx.config)
    if class_name == "MultiHeadAttention" and isinstance(config.get("output_shape"), list):
        if len(config["output_shape"]) != 1:
            raise ctx.fail("output_shape with several dimensions is not representable in KIF 0.1 (write a Reshape after it)")
        config["output_shape"] = config["output_shape"][0]
    sub = replace(ctx, node=replace(node, config=config))
    attrs = generic_attributes(sub, class_name)
    for flag in ("use_causal_mask", "return_attention_scores"):
        if node.kwargs.get(flag):
            attrs[flag] = True
    weights = _parts_weights(ctx, ctx.load_weights(), _ATTENTION_PARTS)
    count = 2 if attrs.get("return_attention_scores") else 1
    inputs = _attention_inputs(ctx, query, value, key, explicit)
    return [MappedLayer(class_name, attrs, inputs, [ctx.output(i) for i in range(count)], weights, output_mask=ctx.mask_of(query))]


@mapper("Attention", "AdditiveAttention")
def _dot_attention(ctx: Context) -> list[MappedLayer]:
    class_name = ctx.node.class_name
    attrs = generic_attributes(ctx, class_name, renames={"causal": "use_causal_mask"})
    for flag in ("use_causal_mask", "return_attention_scores"):
        if ctx.node.kwargs.get(flag):
            attrs[flag] = True
    weights = assign_weights(ctx, class_name, attrs, order=["scale", "concat_score_weight"])
    query, value, *rest = ctx.node.inputs
    key = rest[0] if rest else None
    masks = ctx.node.kw_inputs.get("mask") or [ctx.mask_of(query), ctx.mask_of(value)]
    inputs: list[str | None] = [query, value, key, *masks]
    while inputs and inputs[-1] is None:
        inputs.pop()
    count = 2 if attrs.get("return_attention_scores") else 1
    return [MappedLayer(class_name, attrs, inputs, [ctx.output(i) for i in range(count)], weights, output_mask=ctx.mask_of(query))]


@mapper("GlobalAveragePooling1D", "GlobalMaxPooling1D")
def _global_pooling_1d(ctx: Context) -> list[MappedLayer]:
    [mapped] = map_generic(ctx)
    mask = (ctx.node.kw_inputs.get("mask") or [None])[0] or ctx.mask_of(mapped.inputs[0])  # Keras 3 records it
    if ctx.node.class_name == "GlobalMaxPooling1D" and ctx.node.registered_name != "kif>GlobalMaxPooling1D":
        mask = None  # Keras's own ignores masks; to_keras's kif>GlobalMaxPooling1D applies the one passed to it
    if mask is not None:
        mapped.inputs = [mapped.inputs[0], mask]
    mapped.output_mask = None
    return [mapped]


def map_custom(ctx: Context) -> list[MappedLayer]:
    """--allow-custom: keep an unknown class as ``keras.custom:<Class>`` with its config and weights."""
    stored = ctx.load_weights()
    names = stored.short_names()
    weights = {f"w{i}_{n.replace('/', '_').replace(':', '_')}": ds for i, (n, (_, ds)) in enumerate(zip(names, stored.items, strict=False))}
    config = {k: v for k, v in ctx.config.items() if k != "name"}
    attrs: dict[str, Any] = {"keras_class": ctx.node.class_name, "config_json": json.dumps(config, sort_keys=True)}
    if ctx.node.module:
        attrs["module"] = ctx.node.module
    class_name = "".join(ch for ch in ctx.node.class_name if ch.isalnum() or ch == "_") or "Layer"
    return [MappedLayer(f"keras.custom:{class_name}", attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights, output_mask=None)]


__all__ = ["MAPPERS", "map_custom"]


# ---------------------------------------------------------------- Normalization


@mapper("Normalization")
def _normalization(ctx: Context) -> list[MappedLayer]:
    # Statistics are weights in KIF: adapted ones are stored (mean, variance, and a count KIF drops);
    # ones given to the constructor sit in the config and broadcast to the kept axes (Keras's build).
    config = dict(ctx.config)
    axis = config.get("axis", -1)
    config["axis"] = [] if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]
    mean, variance = config.pop("mean", None), config.pop("variance", None)
    sub = replace(ctx, node=replace(ctx.node, config=config))
    attrs = generic_attributes(sub, "Normalization")
    if mean is not None and variance is not None:
        shape = ctx.shape_of(ctx.node.inputs[0])
        kept = [a % len(shape) for a in attrs["axis"]] if shape is not None else []
        if shape is None or any(shape[a] is None for a in kept):
            raise ctx.fail("statistics given in the config need the static sizes of the kept axes")
        broadcast = [shape[a] if a in kept else 1 for a in range(len(shape))]
        _check_broadcast(ctx, broadcast)
        weights: dict[str, Any] = {
            role: np.broadcast_to(np.asarray(value, np.float32), broadcast).reshape(-1).copy()
            for role, value in (("mean", mean), ("variance", variance))
        }
    else:
        stored = {name: ds for name, (_, ds) in zip(ctx.load_weights().short_names(), ctx.load_weights().items, strict=False)}
        items = ctx.load_weights().items
        if {"mean", "variance"} <= set(stored):
            pair = (stored["mean"], stored["variance"])
        elif len(items) == 3:  # saving_lib files: vars/0 mean, vars/1 variance, vars/2 count
            pair = (items[0][1], items[1][1])
        else:
            raise ctx.fail(f"expected the adapted mean, variance and count. Received: {len(items)} weights")
        weights = {role: _flat(ds) for role, ds in zip(("mean", "variance"), pair, strict=True)}
    return [MappedLayer("Normalization", attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]


def _check_broadcast(ctx: Context, shape: list[int]) -> None:
    """Statistics broadcast to the kept axes' sizes (file-controlled): check the bytes before allocating."""
    budget = limits.current().max_tensor_bytes
    size = math.prod(int(d) for d in shape) * 4
    if size > budget:
        raise too_large(
            f"Layer {ctx.node.layer_name!r} (Normalization): mean and variance broadcast to shape {tuple(shape)}",
            size,
            "max_tensor_bytes",
            budget,
            pointer=ctx.node.name,
        )


def _flat(dataset: Any) -> DeferredTensor:
    """A stored array as KIF's rank-1 layout (kept axes flattened in row-major order), read when written."""
    size = math.prod(int(d) for d in dataset.shape)
    return DeferredTensor(np.dtype(dataset.dtype), (size,), lambda: np.asarray(h5safe.read(dataset)).reshape(-1))


@mapper("LayerNormalization")
def _layer_normalization(ctx: Context) -> list[MappedLayer]:
    # Keras's rms_scaling=True always has gamma and never beta, whatever center and scale say.
    if ctx.config.get("rms_scaling"):
        ctx = replace(ctx, node=replace(ctx.node, config={**ctx.config, "center": False, "scale": True}))
    return map_generic(ctx)
