"""``kif diff``, graph part: match the layers of two models, then list what changed in each matched pair.

Layers are matched by name first. The layers left over on both sides are then matched by structure: a layer's
structural key hashes its type, attributes, weight shapes and dtypes by role, and the keys of the layers (or graph
input positions) that feed it, recursively, so a renamed layer (and the tensors it writes) is found again wherever it
sits, as long as nothing upstream of it changed too. Equal keys pair up in graph order; what is still left over is
added or removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kif.graph import Layer, Model


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _weight_types(model: Model, layer: Layer, shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str]) -> dict[str, Any]:
    return {role: [list(shapes.get(t, ())), dtypes.get(t)] for role, t in layer.weights.items()}


def structural_keys(model: Model, shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str]) -> dict[str, str]:
    """Layer name → a digest of what the layer is and what feeds it, with no name in it."""
    producer: dict[str, str] = {}  # tensor name -> structural key of what writes it (with the output index)
    for index, spec in enumerate(model.inputs):
        producer[spec.name] = f"input:{index}:{spec.dtype}:{_canonical(list(spec.shape))}"
    keys: dict[str, str] = {}
    for layer in model.layers:
        feeds = [producer.get(t, "?") if t is not None else None for t in layer.inputs]
        text = _canonical([layer.type, layer.attributes, _weight_types(model, layer, shapes, dtypes), feeds, len(layer.outputs)])
        key = hashlib.sha256(text.encode()).hexdigest()
        keys[layer.name] = key
        for position, tensor in enumerate(layer.outputs):
            producer[tensor] = f"{key}:{position}"
    return keys


def match_layers(
    a: Model,
    b: Model,
    keys_a: Mapping[str, str],
    keys_b: Mapping[str, str],
) -> tuple[list[tuple[Layer, Layer, str]], list[Layer], list[Layer]]:
    """(matched pairs with how they were matched: "name" or "structure", removed from a, added in b)."""
    by_name_b = {layer.name: layer for layer in b.layers}
    pairs: list[tuple[Layer, Layer, str]] = []
    left_a: list[Layer] = []
    for layer in a.layers:
        other = by_name_b.pop(layer.name, None)
        if other is not None:
            pairs.append((layer, other, "name"))
        else:
            left_a.append(layer)
    left_b = [layer for layer in b.layers if layer.name in by_name_b]
    waiting: dict[str, list[Layer]] = {}
    for layer in left_b:
        waiting.setdefault(keys_b[layer.name], []).append(layer)
    removed: list[Layer] = []
    for layer in left_a:
        candidates = waiting.get(keys_a[layer.name])
        if candidates:
            pairs.append((layer, candidates.pop(0), "structure"))
        else:
            removed.append(layer)
    used = {id(other) for _, other, _ in pairs}
    added = [layer for layer in left_b if id(layer) not in used]
    return pairs, removed, added


def tensor_renames(a: Model, b: Model, pairs: list[tuple[Layer, Layer, str]]) -> dict[str, str]:
    """Tensor name in a → tensor name in b, for graph inputs (by position) and the outputs of matched layers."""
    mapping = {sa.name: sb.name for sa, sb in zip(a.inputs, b.inputs, strict=False)}
    for la, lb, _ in pairs:
        mapping.update(zip(la.outputs, lb.outputs, strict=False))
    return mapping


def _attribute_changes(la: Layer, lb: Layer) -> list[dict[str, Any]]:
    changes = []
    for name in sorted(set(la.attributes) | set(lb.attributes)):
        va, vb = la.attributes.get(name), lb.attributes.get(name)
        if name not in la.attributes or name not in lb.attributes or _canonical(va) != _canonical(vb):
            changes.append({"what": "attribute", "attribute": name, "a": va, "b": vb})
    return changes


def layer_changes(
    la: Layer,
    lb: Layer,
    renames: Mapping[str, str],
    types_a: Mapping[str, Any],
    types_b: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """What differs between two matched layers: type, attributes, wiring, weight roles, inferred output types."""
    changes: list[dict[str, Any]] = []
    if la.type != lb.type:
        changes.append({"what": "type", "a": la.type, "b": lb.type})
    changes += _attribute_changes(la, lb)
    wired = [renames.get(t, t) if t is not None else None for t in la.inputs]
    if wired != list(lb.inputs):
        changes.append({"what": "inputs", "a": list(la.inputs), "b": list(lb.inputs)})
    if set(la.weights) != set(lb.weights):
        changes.append({"what": "weight_roles", "a": sorted(la.weights), "b": sorted(lb.weights)})
    if len(la.outputs) != len(lb.outputs):
        changes.append({"what": "outputs", "a": list(la.outputs), "b": list(lb.outputs)})
    for ta, tb in zip(la.outputs, lb.outputs, strict=False):
        found_a, found_b = types_a.get(ta), types_b.get(tb)
        typed_a = None if found_a is None else [found_a.dtype, list(found_a.shape)]
        typed_b = None if found_b is None else [found_b.dtype, list(found_b.shape)]
        if typed_a != typed_b:
            changes.append({"what": "output_type", "a_tensor": ta, "b_tensor": tb, "a": typed_a, "b": typed_b})
    return changes


def io_changes(a: Model, b: Model, kind: str) -> list[dict[str, Any]]:
    """Graph inputs or outputs compared by position: name, dtype, shape and typed metadata."""
    specs_a, specs_b = getattr(a, kind), getattr(b, kind)
    out = []
    for index in range(max(len(specs_a), len(specs_b))):
        sa = specs_a[index].to_json() if index < len(specs_a) else None
        sb = specs_b[index].to_json() if index < len(specs_b) else None
        if _canonical(sa) != _canonical(sb):
            fields = sorted(k for k in set(sa or {}) | set(sb or {}) if (sa or {}).get(k) != (sb or {}).get(k))
            out.append({"index": index, "fields": fields, "a": sa, "b": sb})
    return out
