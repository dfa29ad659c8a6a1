"""What ``kif view`` shows, as plain JSON data: the graph (nodes, edges, groups), inferred types and weight statistics.

The page's script only draws this data; every number on the page is computed here, in Python, at build time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from kif import catalog
from kif.graph import Layer, Model, TensorSpec
from kif.view.stats import MAX_SAMPLE, tensor_stats

FORMAT = "kif-view/1"
# Where the per-layer spec pages live (the repository's spec/layers/, as pyproject's project URLs name it).
SPEC_BASE = "https://github.com/kif-format/kif/blob/main/spec/layers/"
# Names of repeated blocks as Keras applications and common code write them: conv2_block1_*, block_3_*, block1a_*,
# layer_0_*, stage2_*, encoder_1_* ...; a nested model's layers are named <model>/<layer> by the converter. Blocks
# nest: stage1_block3_conv is in stage1_block3, which is in stage1; inner/sub/dense is in inner/sub, in inner.
_BLOCK = re.compile(r"(?:block|layer|stage|encoder|decoder|cell|unit)_?\d+[a-z]?(?=_.)", re.IGNORECASE)


def group_keys(name: str) -> list[str]:
    """The blocks a layer belongs to, outermost first, from its name alone: nested-model paths, then numbered blocks."""
    keys: list[str] = []
    parts = name.split("/")
    for depth in range(1, len(parts)):
        keys.append("/".join(parts[:depth]))
    base = keys[-1] + "/" if keys else ""
    leaf = parts[-1]
    keys += [base + leaf[: match.end()] for match in _BLOCK.finditer(leaf)]
    return keys


def group_key(name: str) -> str | None:
    """The innermost block a layer belongs to, or None."""
    keys = group_keys(name)
    return keys[-1] if keys else None


def groups(layers: list[Layer]) -> list[dict[str, Any]]:
    """Collapsible blocks: at each nesting depth, runs of at least two consecutive layers with the same key (a key
    seen again later starts a new group). ``members`` are every layer inside, ``parent`` the enclosing group's id;
    a group with exactly its parent's members is left out (it would collapse to the same box)."""
    keys = [group_keys(layer.name) for layer in layers]
    out: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    owner: list[dict[int, str]] = [{} for _ in layers]  # layer index -> depth -> group id
    for depth in range(max((len(k) for k in keys), default=0)):
        run: list[int] = []
        key: str | None = None
        for index, this in enumerate([*(k[depth] if len(k) > depth else None for k in keys), None]):
            if this == key and this is not None:
                run.append(index)
                continue
            if key is not None and len(run) >= 2:
                parent = next((owner[run[0]][d] for d in range(depth - 1, -1, -1) if d in owner[run[0]]), None)
                if parent is None or by_id[parent]["members"] != run:
                    seen[key] = seen.get(key, 0) + 1
                    gid = key if seen[key] == 1 else f"{key}#{seen[key]}"
                    by_id[gid] = {"id": gid, "label": key, "parent": parent, "members": run}
                    out.append(by_id[gid])
                    for member in run:
                        owner[member][depth] = gid
            key, run = this, [index]
    return sorted(out, key=lambda g: (g["members"][0], -len(g["members"])))


def spec_link(layer_type: str, spec_base: str) -> str:
    """The spec page of a catalog type; a custom type links to the extensions page that says how it is kept."""
    if layer_type in catalog.catalog():
        return f"{spec_base}{layer_type}.md"
    return f"{spec_base}../extensions.md"


def _spec(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "dtype": spec.dtype, "shape": list(spec.shape), "meta": dict(spec.meta)}


def _tensors(model: Model, stats: bool, max_sample: int) -> dict[str, dict[str, Any]]:
    weights = model.weights
    shapes_of = getattr(weights, "shapes", None)
    shapes = shapes_of() if callable(shapes_of) else {n: tuple(a.shape) for n, a in weights.items()}
    used = {t for layer in model.layers for t in layer.weights.values()}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(used & set(shapes)):
        array = weights[name] if stats else None
        entry: dict[str, Any] = {"shape": list(shapes[name]), "size": int(np.prod(shapes[name], dtype=np.int64))}
        if array is not None:
            entry["dtype"] = _dtype_name(array.dtype)
            entry["bytes"] = int(array.nbytes)
            entry["stats"] = tensor_stats(array, max_sample)
        out[name] = entry
    return out


def _dtype_name(dtype: np.dtype[Any]) -> str:
    from kif.dtypes import from_numpy
    from kif.errors import KifError

    try:
        return from_numpy(dtype).name
    except KifError:  # a dtype KIF has no name for cannot come from a valid bundle; show NumPy's
        return str(dtype)


def _roles(layer_type: str) -> dict[str, dict[str, str]]:
    definition = catalog.catalog().get(layer_type)
    if definition is None:
        return {}
    return {role: {"layout": w.layout, "description": w.description} for role, w in definition.weights.items()}


def build(model: Model, *, stats: bool = True, max_sample: int = MAX_SAMPLE, spec_base: str = SPEC_BASE) -> dict[str, Any]:
    """The page data for ``model``; ``stats=False`` reads no tensor (shapes come from the headers)."""
    from kif.shapes import infer

    tensors = _tensors(model, stats, max_sample)
    weight_shapes = {n: tuple(t["shape"]) for n, t in tensors.items()}
    types = infer(model.inputs, model.layers, weight_shapes, strict=False)
    producer: dict[str, str] = {s.name: f"i:{s.name}" for s in model.inputs}
    nodes: list[dict[str, Any]] = [{"id": f"i:{s.name}", "kind": "input", "name": s.name, "spec": _spec(s)} for s in model.inputs]
    edges: list[list[str]] = []
    for index, layer in enumerate(model.layers):
        node_id = f"l:{index}"
        for tensor in layer.inputs:
            if tensor is not None and tensor in producer:
                edges.append([producer[tensor], node_id, tensor])
        outputs = []
        for tensor in layer.outputs:
            found = types.get(tensor)
            outputs.append({"name": tensor, "dtype": found.dtype if found else None, "shape": list(found.shape) if found else None})
            producer[tensor] = node_id
        nodes.append(
            {
                "id": node_id,
                "kind": "layer",
                "name": layer.name,
                "type": layer.type,
                "attributes": layer.attributes,
                "inputs": list(layer.inputs),
                "outputs": outputs,
                "weights": dict(layer.weights),
                "roles": _roles(layer.type),
                "specLink": spec_link(layer.type, spec_base),
            }
        )
    for spec in model.outputs:
        nodes.append({"id": f"o:{spec.name}", "kind": "output", "name": spec.name, "spec": _spec(spec)})
        if spec.name in producer:
            edges.append([producer[spec.name], f"o:{spec.name}", spec.name])
    return {
        "format": FORMAT,
        "model": _header(model, tensors),
        "nodes": nodes,
        "edges": edges,
        "groups": [{**g, "members": [f"l:{i}" for i in g["members"]]} for g in groups(model.layers)],
        "tensors": tensors,
        "statsSample": max_sample if stats else None,
    }


def _header(model: Model, tensors: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": model.name,
        "kif_version": model.document_version(),
        "producer": dict(model.producer),
        "description": model.description,
        "license": model.license,
        "preprocessing": model.preprocessing,
        "metadata": dict(model.metadata),
        "layers": len(model.layers),
        "parameters": model.parameter_count(),
        "inputs": [_spec(s) for s in model.inputs],
        "outputs": [_spec(s) for s in model.outputs],
    }
