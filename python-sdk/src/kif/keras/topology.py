"""Keras model configs (Sequential, Functional, nested, Keras 2 and 3 formats) → one flat node list.

Each Keras layer *call* becomes a Node. A layer called twice (a shared layer)
becomes two nodes with the same ``layer_name``, and so the same weights. Nested
models are inlined; ``scope`` remembers where their weights live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kif.errors import KifError

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


def snake_case(name: str) -> str:
    """Keras's naming.to_snake_case: saving_lib names weight groups by class, not by layer name."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def save_keys(layers: list[dict[str, Any]]) -> dict[str, str]:
    """Layer name → its group key in a saving_lib file: snake-cased class, numbered by order of appearance."""
    used: dict[str, int] = {}
    keys = {}
    for layer in layers:
        key = snake_case(layer["class_name"])
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys[layer["config"]["name"]] = key
    return keys


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
    return KifError(message, code="convert-config", pointer=layer)


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
    return Topology(inputs, outputs, nodes)  # depth-first expansion put every node after its inputs


def _expand(
    config: dict[str, Any],
    scope: tuple[str, ...],
    bound: list[str] | None,
    nodes: list[Node],
    inputs: list[GraphInput],
    path: tuple[str, ...] = (),
) -> list[str]:
    """Append a model's nodes; return its output tensor names. ``bound``: outer tensors feeding its inputs."""
    class_name, inner = _layers_of(config)
    if class_name == "Sequential":
        return _expand_sequential(inner, scope, bound, nodes, inputs, path)
    if class_name in ("Functional", "Model"):
        return _expand_functional(inner, scope, bound, nodes, inputs, path)
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
            current = _expand(layer, (*scope, name), [current], nodes, inputs, (*path, keys[name]))[0]
            continue
        out = _tensor_name(scope, name, 0, 0)
        nodes.append(_node(layer, scope, 0, [current], {}, {}, [out], (*path, keys[name])))
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
    )


def _parse_node(raw: Any) -> tuple[list[Any], dict[str, Any]]:
    """A serialized inbound node → (positional args, keyword args), tensors as _Tensor."""
    if isinstance(raw, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return [_decode(a) for a in raw.get("args", [])], {k: _decode(v) for k, v in raw.get("kwargs", {}).items()}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for entry in raw:  # Keras 2: [[layer, node, tensor, {kwargs}], ...]
        args.append(_Tensor(entry[:3]))
        if len(entry) > 3 and isinstance(entry[3], dict):
            kwargs.update({k: _decode(v) for k, v in entry[3].items()})
    return ([args] if len(args) > 1 else args), kwargs


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
    return list(spec)


def _expand_functional(
    inner: dict[str, Any],
    scope: tuple[str, ...],
    bound: list[str] | None,
    nodes: list[Node],
    inputs: list[GraphInput],
    path: tuple[str, ...],
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

    def tensor(ref: _Tensor) -> str:
        key = (ref.layer, ref.node)
        if key not in resolved:
            visit(ref.layer, ref.node)
        outs = resolved[key]
        return outs[ref.index] if ref.index < len(outs) else _tensor_name(scope, ref.layer, ref.node, ref.index)

    def visit(layer_name: str, node_index: int) -> None:
        reference = node_index
        layer = layers.get(layer_name)
        if layer is None:
            raise _fail(f"A node refers to layer {layer_name!r}, which the config does not define")
        raw_nodes = layer.get("inbound_nodes", [])
        if layer["class_name"] in MODEL_CLASSES and raw_nodes and not isinstance(raw_nodes[0], dict) and _starts_with_input(layer):
            # Keras 2 counts a nested model's own construction node in references but does not store it.
            node_index -= 1
        if node_index >= len(raw_nodes):
            raise _fail(f"Layer {layer_name!r} has no call number {node_index}", layer_name)
        resolved[(layer_name, reference)] = []  # guards against cycles in a corrupt config
        args, kwargs = _parse_node(raw_nodes[node_index])
        arg_tensors = [tensor(t) for t in _flatten(args) if isinstance(t, _Tensor)]
        kw_inputs = {k: [tensor(t) for t in _flatten(v)] for k, v in kwargs.items() if any(isinstance(t, _Tensor) for t in _flatten(v))}
        plain = {k: v for k, v in kwargs.items() if k not in kw_inputs}
        if layer["class_name"] in MODEL_CLASSES:
            sub_scope = (*scope, layer_name + (f"_call{node_index}" if node_index else ""))
            resolved[(layer_name, reference)] = _expand(layer, sub_scope, arg_tensors, nodes, inputs, (*path, keys[layer_name]))
            return
        node = _node(layer, scope, node_index, arg_tensors, kw_inputs, plain, [], (*path, keys[layer_name]))
        node.constants = [a for a in _flatten(args) if not isinstance(a, _Tensor)]
        node.outputs = [_tensor_name(scope, layer_name, node_index, 0)]
        nodes.append(node)
        resolved[(layer_name, reference)] = node.outputs

    return [tensor(_Tensor(ref)) for ref in _refs(inner["output_layers"])]


def _starts_with_input(model_layer: dict[str, Any]) -> bool:
    """Functional models always own an input node; a Sequential only when it declares an InputLayer."""
    if model_layer["class_name"] != "Sequential":
        return True
    layers = model_layer["config"]["layers"] if isinstance(model_layer["config"], dict) else model_layer["config"]
    return bool(layers) and layers[0]["class_name"] == "InputLayer"
