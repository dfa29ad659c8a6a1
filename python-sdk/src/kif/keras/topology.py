"""Keras model configs (Sequential, Functional, nested, Keras 2 and 3 formats) → one flat node list.

Each Keras layer *call* becomes a Node. A layer called twice (a shared layer)
becomes two nodes with the same ``layer_name``, and so the same weights. Nested
models are inlined; ``scope`` remembers where their weights live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kif.errors import KifError
from kif.keras.errors import ConversionError
from kif.keras.op_args import named
from kif.keras.save_keys import PYTHON_CLASS, save_keys, snake_case  # noqa: F401  (re-exported)

MODEL_CLASSES = {"Sequential", "Functional", "Model"}


@dataclass
class Node:
    name: str  # unique KIF layer name
    layer_name: str  # the Keras layer name (weights are looked up by it)
    class_name: str
    config: dict[str, Any]
    scope: tuple[str, ...]
    inputs: list[str]  # positional tensor inputs, flattened
    kw_inputs: dict[str, list[str]] = field(default_factory=dict)  # tensors passed by keyword (value=, mask=, initial_state=…)
    kwargs: dict[str, Any] = field(default_factory=dict)  # non-tensor call arguments
    outputs: list[str] = field(default_factory=list)
    module: str | None = None
    registered_name: str | None = None
    save_path: tuple[str, ...] = ()  # saving_lib group keys (.keras / .weights.h5), outermost first
    constants: list[Any] = field(default_factory=list)  # non-tensor positional arguments (op nodes: NotEqual(x, 0))
    save_fallback: tuple[str, ...] = ()  # where saving_lib stored this layer if it first met the same object elsewhere
    owners: tuple[str, ...] = ()  # names of the nested models holding the layer (legacy files group weights by them)
    tensor_slots: list[int] = field(default_factory=list)  # where the tensors sit among the flattened positional arguments
    args: list[Any] = field(default_factory=list)  # the positional arguments as called, tensors as TensorArg(name)
    keras3: bool = False  # the call is stored in Keras 3's {"args", "kwargs"} form


def is_op(node: Node) -> bool:
    """Keras 3 functional configs record calls of ``keras.ops`` functions as nodes: module ``keras.src.ops.*``
    in saving_lib configs. Legacy ``.h5`` configs have no module keys, but an op's config holds only its
    name and arguments: no ``trainable`` and no ``dtype`` policy, which layer configs have (SpatialDropout
    lacks ``trainable`` but has ``dtype``; ConvertToTensor and Cast have a ``dtype`` argument)."""
    if not node.keras3:
        return False  # keras.ops (and so op nodes) exist only in Keras 3
    if node.module is not None:
        return str(node.module).startswith("keras.src.ops")
    from kif import catalog

    return "trainable" not in node.config and ("dtype" not in node.config or node.class_name not in catalog.catalog())


@dataclass
class GraphInput:
    name: str
    dtype: str
    shape: list[int | None]


@dataclass
class Topology:
    inputs: list[GraphInput]
    outputs: list[str]
    nodes: list[Node]


class _Tensor:
    """Marker for a tensor reference found in a Keras 3 call-args structure."""

    def __init__(self, history: list[Any]) -> None:
        self.layer, self.node, self.index = history[0], int(history[1]), int(history[2])


def _fail(message: str, layer: str | None = None) -> KifError:
    return ConversionError(message, code="convert-config", pointer=layer)


def _tensor_name(scope: tuple[str, ...], layer: str, node: int, index: int) -> str:
    base = "/".join([*scope, layer]) + (f"_call{node}" if node else "")
    return base if index == 0 else f"{base}:{index}"


def _input_shape(cfg: dict[str, Any], layer: str) -> list[int | None]:
    for key in ("batch_shape", "batch_input_shape"):
        if cfg.get(key) is not None:
            return list(cfg[key])
    if cfg.get("input_shape") is not None:
        return [None, *cfg["input_shape"]]
    if cfg.get("shape") is not None:
        return [None, *cfg["shape"]]
    raise _fail("Expected the input layer to declare its shape (batch_shape or batch_input_shape)", layer)


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, dict):  # Keras 3 DTypePolicy object
        dtype = dtype.get("config", {}).get("name", "float32")
    return str(dtype or "float32")


def _layers_of(config: dict[str, Any]) -> tuple[str, Any]:
    class_name = config["class_name"]
    inner = config["config"]
    if class_name == "Sequential" and isinstance(inner, list):  # Keras ≤ 2.2 stored the layer list directly
        inner = {"name": "sequential", "layers": inner}
    return class_name, inner


def build_topology(model_config: dict[str, Any]) -> Topology:
    nodes: list[Node] = []
    inputs: list[GraphInput] = []
    outputs = _expand(model_config, (), None, nodes, inputs)
    first: dict[str, tuple[str, ...]] = {}
    cache: dict[int, str] = {}
    _first_save_paths(model_config, (), first, cache)
    for node in nodes:
        found = first.get(_identity(node.class_name, node.config, cache))
        node.save_fallback = found if found is not None and found != node.save_path else ()
    return Topology(inputs, outputs, nodes)  # depth-first expansion put every node after its inputs


def _identity(class_name: str, config: Any, cache: dict[int, str]) -> str:
    """A layer object's identity across nested models, serialized once per config object (the configs stay
    alive while ``cache`` does): a layer called 10,000 times is serialized once, not 10,000 times."""
    text = cache.get(id(config))
    if text is None:
        text = cache[id(config)] = json.dumps(_without_ids(config), sort_keys=True, default=str)
    return class_name + text


def _without_ids(value: Any) -> Any:
    """Keras 3 marks repeated objects with ``shared_object_id`` (absent from the first copy)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _first_save_paths(config: dict[str, Any], path: tuple[str, ...], first: dict[str, tuple[str, ...]], cache: dict[int, str]) -> None:
    """saving_lib walks ``model.layers`` depth-first and stores an object shared by two (nested) models only
    where it meets it first; the copy met later has an empty group. Record each layer's first path."""
    class_name, inner = _layers_of(config)
    layers = list(inner["layers"])
    if class_name == "Sequential":
        layers = [layer for layer in layers if layer["class_name"] != "InputLayer"]
    keys = save_keys(layers)
    for layer in layers:
        layer_path = (*path, keys[layer["config"]["name"]])
        first.setdefault(_identity(layer["class_name"], layer["config"], cache), layer_path)
        if layer["class_name"] in MODEL_CLASSES or layer["class_name"] == "Pipeline":
            _first_save_paths(layer, layer_path, first, cache)


def _expand(
    config: dict[str, Any],
    scope: tuple[str, ...],
    bound: list[str] | None,
    nodes: list[Node],
    inputs: list[GraphInput],
    path: tuple[str, ...] = (),
    owners: tuple[str, ...] = (),
) -> list[str]:
    """Append a model's nodes; return its output tensor names. ``bound``: outer tensors feeding its inputs."""
    class_name, inner = _layers_of(config)
    if class_name == "Sequential":
        return _expand_sequential(inner, scope, bound, nodes, inputs, path, owners)
    if class_name in ("Functional", "Model"):
        return _expand_functional(inner, scope, bound, nodes, inputs, path, owners)
    raise _fail(
        f"Expected a Sequential or Functional model. Received: class_name={class_name!r} "
        "(subclassed models without a functional config cannot be converted)"
    )


def _expand_sequential(
    inner: dict[str, Any],
    scope: tuple[str, ...],
    bound: list[str] | None,
    nodes: list[Node],
    inputs: list[GraphInput],
    path: tuple[str, ...],
    owners: tuple[str, ...],
) -> list[str]:
    layers = list(inner["layers"])
    keys = save_keys([layer for layer in layers if layer["class_name"] != "InputLayer"])
    if not layers:
        raise _fail("The Sequential model has no layers")
    first = layers[0]
    if first["class_name"] == "InputLayer":
        input_name, input_cfg = first["config"]["name"], first["config"]
        layers = layers[1:]
    else:
        input_cfg = first["config"]
        input_name = f"{first['config']['name']}_input"
        if bound is None and not any(k in input_cfg for k in ("batch_input_shape", "batch_shape", "input_shape")):
            build = inner.get("build_input_shape")
            if build is None:
                raise _fail("The Sequential model declares no input shape", first["config"]["name"])
            input_cfg = {**input_cfg, "batch_input_shape": build}
    if bound is None:
        inputs.append(GraphInput(input_name, _dtype_name(input_cfg.get("dtype")), _input_shape(input_cfg, input_name)))
        current = input_name
    else:
        current = bound[0]
    for layer in layers:
        name = layer["config"]["name"]
        if layer["class_name"] in MODEL_CLASSES:
            current = _expand(layer, (*scope, name), [current], nodes, inputs, (*path, keys[name]), (*owners, name))[0]
            continue
        if layer["class_name"] == "Pipeline":  # its layers, flattened in order (kif.keras.pipeline_expand)
            from kif.keras.pipeline_expand import expand_pipeline

            current = expand_pipeline(layer, scope, 0, [current], {}, nodes, (*path, keys[name]), owners)[0]
            continue
        out = _tensor_name(scope, name, 0, 0)
        nodes.append(_node(layer, scope, 0, [current], {}, {}, [out], (*path, keys[name]), owners))
        current = out
    return [current]


def _node(
    layer: dict[str, Any],
    scope: tuple[str, ...],
    node_index: int,
    args: list[str],
    kw_inputs: dict[str, list[str]],
    kwargs: dict[str, Any],
    outputs: list[str],
    path: tuple[str, ...],
    owners: tuple[str, ...],
) -> Node:
    name = layer["config"]["name"]
    unique = "/".join([*scope, name]) + (f"_call{node_index}" if node_index else "")
    return Node(
        unique,
        name,
        layer["class_name"],
        layer["config"],
        scope,
        args,
        kw_inputs,
        kwargs,
        outputs,
        layer.get("module"),
        layer.get("registered_name"),
        path,
        owners=owners,
    )


def _parse_node(raw: Any) -> tuple[list[Any], dict[str, Any]]:
    """A serialized inbound node → (positional args, keyword args), tensors as _Tensor."""
    if isinstance(raw, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return [_decode(a) for a in raw.get("args", [])], {k: _decode(v) for k, v in raw.get("kwargs", {}).items()}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    # Keras 2: [[layer, node, tensor, {kwargs}], ...]; a layer that keeps its input structure (TFOpLambda)
    # stores a single tensor as the entry itself, and a constant first argument as [_CONSTANT_VALUE, -1, value, ...].
    for entry in [raw] if is_legacy_entry(raw) else raw:
        args.append(entry[2] if entry[0] == CONSTANT_VALUE else _Tensor(entry[:3]))
        if len(entry) > 3 and isinstance(entry[3], dict):
            kwargs.update({k: _decode(v) for k, v in entry[3].items()})
    return ([args] if len(args) > 1 else args), kwargs


CONSTANT_VALUE = "_CONSTANT_VALUE"  # tf.keras node.py: a first call argument that is not a Keras tensor


def is_legacy_entry(value: Any) -> bool:
    """One Keras 2 inbound entry: [layer, node, tensor] or [layer, node, tensor, {kwargs}] (tf.keras's
    ``convert_inner_node_data`` reads any list of 3 or 4 starting with a string as one)."""
    return isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return _Tensor(value["config"]["keras_history"])
    if isinstance(value, list):
        # Keras 2 kwargs store tensors as [layer, node, tensor] triples (e.g. mask=...).
        if len(value) == 3 and isinstance(value[0], str) and all(isinstance(v, int) for v in value[1:]):
            return _Tensor(value)
        return [_decode(v) for v in value]
    return value


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]


def _refs(spec: Any) -> list[list[Any]]:
    """input_layers / output_layers: one [layer, node, tensor] triple or a list of them."""
    if spec and isinstance(spec[0], str):
        return [spec]
    return [ref for item in spec for ref in _refs(item)]  # nested (Keras 3 structured outputs) in depth-first order


def _expand_functional(
    inner: dict[str, Any],
    scope: tuple[str, ...],
    bound: list[str] | None,
    nodes: list[Node],
    inputs: list[GraphInput],
    path: tuple[str, ...],
    owners: tuple[str, ...],
) -> list[str]:
    for layer in inner["layers"]:
        layer["config"].setdefault("name", layer.get("name"))
    layers = {layer["config"]["name"]: layer for layer in inner["layers"]}
    keys = save_keys(inner["layers"])
    resolved: dict[tuple[str, int], list[str]] = {}  # (layer, node) → its output tensor names
    input_refs = _refs(inner["input_layers"])
    for position, (layer_name, node, _) in enumerate(input_refs):
        if bound is None:
            cfg = layers[layer_name]["config"]
            inputs.append(GraphInput(layer_name, _dtype_name(cfg.get("dtype")), _input_shape(cfg, layer_name)))
            resolved[(layer_name, node)] = [layer_name]
        else:
            resolved[(layer_name, node)] = [bound[position]]

    def key_of(ref: _Tensor, io: bool) -> tuple[str, int]:
        layer = layers.get(ref.layer)
        if layer is None:
            raise _fail(f"A node refers to layer {ref.layer!r}, which the config does not define")
        return ref.layer, ref.node - _built_in_nodes(layer, io)

    def tensor(ref: _Tensor, io: bool = False) -> str:
        """``io``: the reference comes from input_layers/output_layers rather than from a call's arguments."""
        key = key_of(ref, io)
        if key not in resolved:
            resolve(key)
        outs = resolved[key]
        return outs[ref.index] if ref.index < len(outs) else _tensor_name(scope, key[0], key[1], ref.index)

    parsed: dict[tuple[str, int], tuple[list[Any], dict[str, Any]]] = {}

    def resolve(start: tuple[str, int]) -> None:
        """Depth-first over the calls ``start`` depends on, with an explicit stack (a chain of 100,000 layers
        must not recurse), emitting each call after its inputs in the order a recursive walk would."""
        stack, visiting = [start], set()
        while stack:
            key = stack[-1]
            if key in resolved:
                stack.pop()
                continue
            if key not in parsed:
                parsed[key] = parse(*key)
            args, kwargs = parsed[key]
            refs = [t for t in _flatten(args) if isinstance(t, _Tensor)] + [
                t for v in kwargs.values() for t in _flatten(v) if isinstance(t, _Tensor)
            ]
            pending = [dep for dep in (key_of(t, False) for t in refs) if dep not in resolved]
            if pending and key in visiting:
                raise _fail(f"Layer {key[0]!r} depends on its own output (a cycle in the config)", key[0])
            if pending:
                visiting.add(key)
                stack.extend(reversed(pending))
                for dep in pending:
                    if dep in visiting:
                        raise _fail(f"Layer {dep[0]!r} depends on its own output (a cycle in the config)", dep[0])
                continue
            stack.pop()
            visiting.discard(key)
            emit(key[0], key[1], args, kwargs)

    def parse(layer_name: str, node_index: int) -> tuple[list[Any], dict[str, Any]]:
        raw_nodes = layers[layer_name].get("inbound_nodes", [])
        if not 0 <= node_index < len(raw_nodes):
            raise _fail(f"Layer {layer_name!r} has no call number {node_index}", layer_name)
        return _parse_node(raw_nodes[node_index])

    def emit(layer_name: str, node_index: int, args: list[Any], kwargs: dict[str, Any]) -> None:
        layer = layers[layer_name]
        raw_nodes = layer.get("inbound_nodes", [])
        reference = node_index
        arg_tensors = [tensor(t) for t in _flatten(args) if isinstance(t, _Tensor)]
        kw_inputs = {k: [tensor(t) for t in _flatten(v)] for k, v in kwargs.items() if any(isinstance(t, _Tensor) for t in _flatten(v))}
        plain = {k: v for k, v in kwargs.items() if k not in kw_inputs}
        if layer["class_name"] in MODEL_CLASSES:
            sub_scope = (*scope, layer_name + (f"_call{node_index}" if node_index else ""))
            resolved[(layer_name, reference)] = _expand(
                layer, sub_scope, arg_tensors, nodes, inputs, (*path, keys[layer_name]), (*owners, layer_name)
            )
            return
        if layer["class_name"] == "Pipeline":  # its layers, flattened in order (kif.keras.pipeline_expand)
            from kif.keras.pipeline_expand import expand_pipeline

            resolved[(layer_name, reference)] = expand_pipeline(
                layer, scope, node_index, arg_tensors, kw_inputs, nodes, (*path, keys[layer_name]), owners
            )
            return
        node = _node(layer, scope, node_index, arg_tensors, kw_inputs, plain, [], (*path, keys[layer_name]), owners)
        node.constants = [a for a in _flatten(args) if not isinstance(a, _Tensor)]
        node.tensor_slots = [i for i, a in enumerate(_flatten(args)) if isinstance(a, _Tensor)]
        node.args = named(args, lambda t: tensor(t) if isinstance(t, _Tensor) else None)
        node.keras3 = isinstance(raw_nodes[node_index], dict)
        node.outputs = [_tensor_name(scope, layer_name, node_index, 0)]
        nodes.append(node)
        resolved[(layer_name, reference)] = node.outputs

    return [tensor(_Tensor(ref), io=True) for ref in _refs(inner["output_layers"])]


def _built_in_nodes(layer: dict[str, Any], io: bool) -> int:
    """How many construction nodes a reference to ``layer`` counts before its stored calls.

    A nested model's own construction node counts in some references but is never stored. Keras 3
    (calls stored as dicts) counts it for every Functional, in input_layers/output_layers only (a
    call's arguments count the outer model's own nodes); Keras 2 everywhere, for models that start
    with an InputLayer.
    """
    raw_nodes = layer.get("inbound_nodes", [])
    if layer["class_name"] not in MODEL_CLASSES or not raw_nodes:
        return 0
    if isinstance(raw_nodes[0], dict):
        return int(io and layer["class_name"] == "Functional")
    return int(_starts_with_input(layer))


def _starts_with_input(model_layer: dict[str, Any]) -> bool:
    """Functional models always own an input node; a Sequential only when it declares an InputLayer."""
    if model_layer["class_name"] != "Sequential":
        return True
    layers = model_layer["config"]["layers"] if isinstance(model_layer["config"], dict) else model_layer["config"]
    return bool(layers) and layers[0]["class_name"] == "InputLayer"
