"""Composite layer types (spec/composites.md, since 0.2.0): a namespaced type defined in the document as a subgraph.

A definition names its typed parameters (with defaults), inputs, outputs and weight roles, and a body of layers whose
attributes may be ``{"$param": NAME}`` and whose weights name the composite's roles. Validators check definitions here
(``check``); shape inference, the reference runtime and the importers see the graph with every composite call
replaced by its body (``inline``), so nothing downstream needs to know composites exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kif.errors import GraphError
from kif.graph import Layer
from kif.validate.pointer import pointer
from kif.validate.report import Report

SINCE = "0.2.0"
MAX_DEPTH = 16  # composites inside composites, inlined; deeper nesting is refused rather than recursed
PARAM = "$param"
_TYPES = {"integer": (int,), "number": (int, float), "boolean": (bool,), "string": (str,), "array": (list,)}


def definitions(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    composites = doc.get("composites")
    return dict(composites) if isinstance(composites, dict) else {}


def check(doc: dict[str, Any], report: Report, file: str) -> None:
    """The rules of spec/composites.md a schema cannot express: scopes, references, parameters, no recursion."""
    from kif.catalog import version_key

    defs = definitions(doc)
    try:
        too_old = version_key(doc["kif_version"]) < version_key(SINCE)
    except (AttributeError, TypeError, ValueError):
        too_old = False  # not a version: the version check has reported it
    if defs and too_old:
        message = f"composites are a spec {SINCE} feature; this document declares kif_version {doc['kif_version']!r}"
        report.add("schema-violation", message, file, "/composites")
        return
    for type_name, body in defs.items():
        where = pointer("composites", type_name)
        _check_body(type_name, body, defs, report, file, where)
    for type_name in sorted(defs):
        cycle = _cycle(type_name, defs, [])
        if cycle:
            report.add(
                "composite-recursive", f"Composite {type_name!r} uses itself: {' -> '.join(cycle)}", file, pointer("composites", type_name)
            )
    if not report.ok:
        return  # a broken definition cannot be inlined
    for index, layer in enumerate(doc.get("layers", [])):
        definition = defs.get(layer.get("type"))
        if definition is None:
            continue
        where = pointer("layers", index)
        errors = len(report.errors)
        _check_call(layer, definition, report, file, where)
        if len(report.errors) == errors:
            _check_inlined(Layer.from_json(layer), defs, doc, report, file, where)


def _check_inlined(call: Layer, defs: dict[str, Any], doc: dict[str, Any], report: Report, file: str, where: str) -> None:
    """Each catalog layer the call inlines to, with its parameters filled in, against its type (found at the call)."""
    from kif.validate.document import parse_version
    from kif.validate.layers import check_catalog_layer

    for inner in _expand(call, defs, 0):
        check_catalog_layer(inner.to_json(), parse_version(doc["kif_version"]), doc["kif_version"], report, file, where)


def _check_body(name: str, body: dict[str, Any], defs: dict[str, Any], report: Report, file: str, where: str) -> None:
    from kif import catalog

    params = body.get("parameters", {})
    for pname, spec in params.items():
        if "default" in spec and not _typed(spec["default"], spec["type"]):
            report.add(
                "schema-violation",
                f"Composite {name!r}: default of parameter {pname!r} is not a {spec['type']}",
                file,
                f"{where}/parameters/{_esc(pname)}/default",
            )
    known: set[str] = set(body["inputs"])
    seen: set[str] = set()
    roles = set(body.get("weights", []))
    for index, layer in enumerate(body["layers"]):
        at = f"{where}/layers/{index}"
        if layer["name"] in seen:
            report.add("graph-duplicate-name", f"Composite {name!r}: layer name {layer['name']!r} is used twice", file, f"{at}/name")
        seen.add(layer["name"])
        layer_type = layer["type"]
        if not catalog.is_custom(layer_type) and layer_type not in catalog.catalog():
            report.add(
                "layer-type-unknown", f"Composite {name!r}, layer {layer['name']!r}: unknown type {layer_type!r}", file, f"{at}/type"
            )
        elif catalog.is_custom(layer_type) and layer_type not in defs:
            report.add(
                "layer-type-unknown",
                f"Composite {name!r}, layer {layer['name']!r}: {layer_type!r} is not defined in this document",
                file,
                f"{at}/type",
            )
        for slot, tensor in enumerate(layer["inputs"]):
            if tensor is not None and tensor not in known:
                message = (
                    f"Composite {name!r}, layer {layer['name']!r}: input {tensor!r} is neither a composite input nor an earlier output"
                )
                report.add("graph-dangling-reference", message, file, f"{at}/inputs/{slot}")
        for output in layer["outputs"]:
            if output in known:
                report.add("graph-duplicate-name", f"Composite {name!r}: tensor {output!r} is written twice", file, f"{at}/outputs")
            known.add(output)
        for role, target in layer["weights"].items():
            if target not in roles:
                report.add(
                    "layer-weight-unknown",
                    f"Composite {name!r}, layer {layer['name']!r}: weight {role!r} names {target!r}, not one of its roles {sorted(roles)}",
                    file,
                    f"{at}/weights/{_esc(role)}",
                )
        for key, value in layer["attributes"].items():
            if isinstance(value, dict) and set(value) == {PARAM} and value[PARAM] not in params:
                report.add(
                    "layer-attribute-invalid",
                    f"Composite {name!r}, layer {layer['name']!r}: attribute {key!r} uses undeclared parameter {value[PARAM]!r}",
                    file,
                    f"{at}/attributes/{_esc(key)}",
                )
    for slot, output in enumerate(body["outputs"]):
        if output not in known:
            report.add(
                "graph-output-unproduced",
                f"Composite {name!r}: output {output!r} is produced by no layer of its body",
                file,
                f"{where}/outputs/{slot}",
            )


def _check_call(layer: dict[str, Any], definition: dict[str, Any], report: Report, file: str, where: str) -> None:
    params = definition.get("parameters", {})
    for key, value in layer["attributes"].items():
        if key not in params:
            report.add(
                "layer-attribute-unknown",
                f"Layer {layer['name']!r} ({layer['type']}): unknown parameter {key!r}. "
                f"Expected one of: {', '.join(sorted(params)) or '(none)'}",
                file,
                f"{where}/attributes/{_esc(key)}",
            )
        elif not _typed(value, params[key]["type"]):
            report.add(
                "layer-attribute-invalid",
                f"Layer {layer['name']!r} ({layer['type']}): parameter {key!r} must be a {params[key]['type']}",
                file,
                f"{where}/attributes/{_esc(key)}",
            )
    for key, spec in params.items():
        if key not in layer["attributes"] and "default" not in spec:
            report.add(
                "layer-attribute-missing",
                f"Layer {layer['name']!r} ({layer['type']}): parameter {key!r} has no default and is not given",
                file,
                f"{where}/attributes",
            )
    if len(layer["inputs"]) != len(definition["inputs"]) or len(layer["outputs"]) != len(definition["outputs"]):
        report.add(
            "layer-arity",
            f"Layer {layer['name']!r} ({layer['type']}): expected {len(definition['inputs'])} inputs "
            f"and {len(definition['outputs'])} outputs",
            file,
            where,
        )
    if set(layer["weights"]) != set(definition.get("weights", [])):
        report.add(
            "layer-weight-missing",
            f"Layer {layer['name']!r} ({layer['type']}): expected weight roles {sorted(definition.get('weights', []))}",
            file,
            f"{where}/weights",
        )


def _cycle(name: str, defs: dict[str, Any], path: list[str]) -> list[str]:
    if name in path:
        return [*path[path.index(name) :], name]
    if len(path) >= MAX_DEPTH or name not in defs:
        return []
    for layer in defs[name]["layers"]:
        found = _cycle(layer["type"], defs, [*path, name]) if layer["type"] in defs else []
        if found:
            return found
    return []


def inline(layers: list[Layer], defs: Mapping[str, Mapping[str, Any]]) -> tuple[list[Layer], list[int]]:
    """``layers`` with every composite call replaced by its body, and for each layer the index of the call it came from.

    Inner layers are named ``CALL/INNER``, inner tensors ``CALL/TENSOR``; the body's inputs are the call's input
    tensors and its outputs the call's output tensors; ``{"$param": p}`` becomes the call's value (or the default);
    a weight role names the tensor the call gives that role.
    """
    out: list[Layer] = []
    origin: list[int] = []
    for index, layer in enumerate(layers):
        for expanded in _expand(layer, defs, 0):
            out.append(expanded)
            origin.append(index)
    return out, origin


def _expand(layer: Layer, defs: Mapping[str, Mapping[str, Any]], depth: int) -> list[Layer]:
    definition = defs.get(layer.type)
    if definition is None:
        return [layer]
    if depth >= MAX_DEPTH:
        raise GraphError(f"Layer {layer.name!r}: composites nest deeper than {MAX_DEPTH}", code="composite-recursive")
    params = {k: layer.attributes.get(k, spec.get("default")) for k, spec in definition.get("parameters", {}).items()}
    rename = dict(zip(definition["inputs"], layer.inputs, strict=True))
    rename.update(zip(definition["outputs"], layer.outputs, strict=True))
    result: list[Layer] = []
    for inner in definition["layers"]:
        body = Layer(
            f"{layer.name}/{inner['name']}",
            inner["type"],
            {k: params[v[PARAM]] if isinstance(v, dict) and set(v) == {PARAM} else v for k, v in inner["attributes"].items()},
            [None if t is None else rename.get(t, f"{layer.name}/{t}") for t in inner["inputs"]],
            [rename.get(t, f"{layer.name}/{t}") for t in inner["outputs"]],
            {role: layer.weights[target] for role, target in inner["weights"].items()},
        )
        result.extend(_expand(body, defs, depth + 1))
    return result


def remap_pointer(found: str | None, origin: list[int]) -> str | None:
    """A pointer into the inlined layer list, as a pointer to the call in the document's own layers."""
    if found is None:
        return None
    match = re.match(r"^/layers/(\d+)", found)
    if match is None or int(match[1]) >= len(origin):
        return found
    return f"/layers/{origin[int(match[1])]}"


def _typed(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def _esc(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")
