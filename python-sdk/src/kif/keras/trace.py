"""Composites derived from a live custom layer's ``call`` (``kif.keras.export``), so user layers need no definitions.

The layer's ``call`` runs on Keras symbolic tensors (any backend), with each of its own variables replaced by a
symbolic input of the variable's shape: every ``keras.ops`` call and sub-layer call is recorded as a functional
graph, which the ordinary converter maps to catalog layers and ops. The composite's body is that graph, a variable
becomes an ``op.constant`` of a weight role, and the roles are the variables' paths relative to the layer (the keys
the layer's stored weights have), so the calls bind them by name. Python that is not ``keras.ops`` (NumPy, a
backend's own functions, control flow on tensor values) cannot be traced; the error says what to do instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kif.errors import KifError
from kif.keras.custom_defs import CustomEntry, Definitions, lookup
from kif.keras.live import LiveWeights, _plain_json, _relative_path

_WHAT_TO_DO = (
    "give it a composite definition (kif.keras.export(model, path, custom=DEFS) or kif convert --custom DEFS.json, "
    "spec/composites.md), rewrite its call with keras.ops and Keras layers only, or pass allow_custom=True to keep it "
    "as an opaque custom type"
)


def derive(model: Any, defs: Definitions, depth: int = 0, *, strict: bool = True) -> Definitions:
    """``defs`` plus an entry for each custom layer class of ``model`` that neither ``defs`` nor the library covers;
    a layer that cannot be traced is an error (``strict``) or left to the converter (opaque with allow_custom)."""
    from kif.composites import MAX_DEPTH

    out = Definitions({k: list(v) for k, v in defs.classes.items()}, dict(defs.helpers))
    for layer in _layers(model):
        if _builtin(layer):
            continue
        registered = _registered(layer)
        known = lookup(out, type(layer).__name__, registered)
        config = _config(layer)
        if known and any(all(config.get(k) == v for k, v in e.when.items()) for e in known):
            continue
        if depth >= MAX_DEPTH:
            raise _fail(layer, f"custom layers nest deeper than {MAX_DEPTH}")
        try:
            entry = _trace(layer, out, depth, config, len(known or []))
        except KifError:
            if strict:
                raise
            continue
        out.classes.setdefault(registered, []).append(entry)
    return out


def _layers(model: Any) -> list[Any]:
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        if _builtin(layer) and hasattr(layer, "layers"):  # a nested Functional/Sequential model: its layers too
            found.extend(_layers(layer))
    return found


def _builtin(layer: Any) -> bool:
    """Keras's own classes, and those kif.keras.to_keras defines (the converter maps both by name)."""
    return type(layer).__module__.startswith(("keras.", "kif."))


def _registered(layer: Any) -> str:
    import keras

    return str(keras.saving.get_registered_name(type(layer)))


def _config(layer: Any) -> dict[str, Any]:
    import keras

    config = _plain_json(keras.saving.serialize_keras_object(layer)).get("config", {})
    return {k: v for k, v in config.items() if k != "name"} if isinstance(config, dict) else {}


def _fail(layer: Any, why: str) -> KifError:
    return KifError(f"Layer {layer.name!r} ({type(layer).__name__}): {why}; {_WHAT_TO_DO}", code="convert-unsupported", pointer=layer.name)


class _Recording(LiveWeights):
    """LiveWeights of the traced graph that remember which variable of the custom layer each array copies."""

    def __init__(self, model: Any, keras_version: str, owner: Any) -> None:
        super().__init__(model, keras_version)
        self.owner = owner
        self.role_of: dict[int, str] = {}

    def layer(self, name: str, scope: tuple[str, ...] = (), save_path: tuple[str, ...] = (), fallback: tuple[str, ...] = ()) -> Any:
        from kif.keras.live import _sub_layer, _to_numpy
        from kif.keras.weights import LayerWeights

        owner = self.model
        for part in scope:
            owner = _sub_layer(owner, part, name)
        found = _sub_layer(owner, name, name)
        items = []
        for variable in found.weights:
            array = _to_numpy(variable)
            self.role_of[id(array)] = _relative_path(self.owner, variable)
            items.append((_relative_path(found, variable), array))
        return LayerWeights(name, items)


def _trace(layer: Any, defs: Definitions, depth: int, config: dict[str, Any], index: int) -> CustomEntry:
    import keras

    from kif.keras.convert import keras_to_model
    from kif.keras.source import KerasSource

    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        raise _fail(layer, "it is never called in the model, so its input shapes are unknown")
    try:
        inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=f"x{i}") for i, t in enumerate(nodes[0].input_tensors)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise _fail(layer, f"its inputs cannot be described symbolically ({exc})") from None
    own = {id(v) for v in (*layer._trainable_variables, *layer._non_trainable_variables)}
    swapped = {k: v for k, v in vars(layer).items() if isinstance(v, keras.Variable) and id(v) in own}
    if len(swapped) != len(own):
        raise _fail(layer, "some of its own variables are not attributes of the layer (a list or dict of variables)")
    symbols = {k: keras.Input(batch_shape=v.shape, dtype=v.dtype, name=f"w{i}") for i, (k, v) in enumerate(swapped.items())}
    try:
        for key, symbol in symbols.items():
            object.__setattr__(layer, key, symbol)
        outputs = layer.call(*_swap(nodes[0].arguments.args, nodes[0].input_tensors, inputs),
                             **_swap(nodes[0].arguments.kwargs, nodes[0].input_tensors, inputs))  # fmt: skip
        graph = keras.Model([*inputs, *symbols.values()], outputs)
    except Exception as exc:
        raise _fail(layer, f"its call cannot be traced with keras.ops ({type(exc).__name__}: {str(exc)[:200]})") from None
    finally:
        for key, variable in swapped.items():
            object.__setattr__(layer, key, variable)
    version = str(keras.__version__)
    weights = _Recording(graph, version, layer)
    config_json = _plain_json(keras.saving.serialize_keras_object(graph))
    source = KerasSource(f"<traced {layer.name}>", "keras-live", config_json, version, weights)  # type: ignore[arg-type]
    try:
        traced = keras_to_model(source, custom=derive(graph, defs, depth + 1))
    except KifError as exc:
        raise _fail(layer, f"its traced call does not map to KIF ({exc.message})") from None
    defs.helpers.update(traced.composites)  # custom sub-layers of this one, traced in turn
    return _entry(layer, traced, swapped, symbols, weights, config, index)


def _swap(structure: Any, old: list[Any], new: list[Any]) -> Any:
    """The call's arguments with its recorded input tensors replaced by the tracing inputs (nesting kept)."""
    from keras import tree

    by_id = {id(t): n for t, n in zip(old, new, strict=True)}
    return tree.map_structure(lambda v: by_id.get(id(v), v), structure)


def _entry(layer: Any, traced: Any, swapped: dict[str, Any], symbols: dict[str, Any], weights: _Recording,
           config: dict[str, Any], index: int) -> CustomEntry:  # fmt: skip
    n_inputs = len(traced.inputs) - len(symbols)
    body: list[dict[str, Any]] = []
    roles: list[str] = []
    for variable, spec in zip(swapped.values(), traced.inputs[n_inputs:], strict=True):
        role = _relative_path(layer, variable)
        roles.append(role)
        body.append({"name": f"const/{role}", "type": "op.constant", "attributes": {"dtype": str(variable.dtype)},
                     "inputs": [], "outputs": [spec.name], "weights": {"value": role}})  # fmt: skip
    for kif_layer in traced.layers:
        bound = {}
        for slot, tensor in kif_layer.weights.items():
            role = weights.role_of.get(id(traced.weights[tensor]))
            if role is None:
                raise _fail(layer, f"the weights of its sub-layer {kif_layer.name!r} are rearranged on conversion")
            bound[slot] = role
            if role not in roles:
                roles.append(role)
        entry = kif_layer.to_json()
        entry["weights"] = bound
        body.append(entry)
    outputs = [spec.name for spec in traced.outputs]
    names = {t.name for t in traced.inputs[:n_inputs]}
    for i, name in enumerate(outputs):
        if name in names:  # the call returns an input unchanged
            body.append({"name": f"out{i}", "type": "Identity", "attributes": {}, "inputs": [name], "outputs": [f"out{i}"], "weights": {}})
            outputs[i] = f"out{i}"
    definition: dict[str, Any] = {
        "description": f"Traced from the call of Keras class {type(layer).__module__}.{type(layer).__qualname__}",
        "inputs": [t.name for t in traced.inputs[:n_inputs]],
        "outputs": outputs,
        "layers": body,
    }
    if roles:
        definition["weights"] = roles
    namespace = re.sub(r"[^a-z0-9_]", "_", _registered(layer).split(">")[0].lower()) if ">" in _registered(layer) else "user"
    namespace = namespace if re.match(r"^[a-z]", namespace) else f"p{namespace}"
    name = re.sub(r"\W", "_", type(layer).__name__) + (f"_{index + 1}" if index else "")
    when = json.loads(json.dumps(config))
    return CustomEntry(f"keras.traced.{namespace}:{name}", definition, when, {}, frozenset(config))


__all__ = ["derive"]
