"""Stage 2a: each layer against its type's definition (type, attributes, arity, weight roles)."""

from __future__ import annotations

import functools
from typing import Any

from kif import catalog
from kif.validate.compiled_schema import certainly_valid
from kif.validate.document import parse_version
from kif.validate.report import Report


def check_layers(doc: dict[str, Any], report: Report, file: str) -> None:
    doc_version = parse_version(doc["kif_version"])
    defined: dict[str, Any] = {}
    if "composites" in doc:  # only a document that defines composites imports their rules
        from kif import composites

        defined = composites.definitions(doc)
        if defined:
            composites.check(doc, report, file)
    for index, layer in enumerate(doc["layers"]):
        where = f"/layers/{index}"  # an index needs no escaping (pointer() per layer was a visible cost)
        layer_type = layer["type"]
        if layer_type in defined:
            continue  # composites.check checked the call and each layer of its body, parameters filled in
        if catalog.is_custom(layer_type):
            report.add(
                "layer-custom",
                f"Layer {layer['name']!r} has custom type {layer_type!r}; a runtime needs a registered implementation",
                file,
                where + "/type",
            )
            continue
        definition = catalog.catalog().get(layer_type)
        if definition is None:
            report.add(
                "layer-type-unknown",
                f"Layer {layer['name']!r}: unknown type {layer_type!r}. Known types: {', '.join(catalog.catalog())}",
                file,
                where + "/type",
            )
            continue
        if doc_version is not None:
            _check_versions(layer, doc_version, doc["kif_version"], report, file, where)
        _check_attributes(layer, definition, report, file, where)
        _check_nested(layer, definition, report, file, where)
        _check_arity(layer, definition, report, file, where)
        _check_weight_roles(layer, definition, report, file, where)


def check_catalog_layer(
    layer: dict[str, Any], doc_version: tuple[int, int, int] | None, version: str, report: Report, file: str, where: str
) -> None:
    """One layer of a catalog type (a composite's body layer, its parameters filled in): every rule of check_layers."""
    definition = catalog.catalog()[layer["type"]]
    if doc_version is not None:
        _check_versions(layer, doc_version, version, report, file, where)
    _check_attributes(layer, definition, report, file, where)
    _check_nested(layer, definition, report, file, where)
    _check_arity(layer, definition, report, file, where)
    _check_weight_roles(layer, definition, report, file, where)


def _check_versions(layer: dict[str, Any], doc_version: tuple[int, int, int], version: str, report: Report, file: str, where: str) -> None:
    """Its type and each enumerated attribute value (an activation name), nested layers included, must exist in the
    document's version; the catalog says which version introduced each (catalog.versioned_features)."""
    for pointer, what, since in catalog.versioned_features(layer["type"], layer["attributes"]):
        appeared = _since(since)
        if appeared is not None and appeared > doc_version:
            report.add(
                "layer-type-too-new",
                f"Layer {layer['name']!r}: {what} appeared in KIF {since}; the document is {version}. "
                f"Expected kif_version {since} or later",
                file,
                where + pointer,
            )


@functools.cache
def _since(text: str) -> tuple[int, int, int] | None:
    return parse_version(text)


def _check_attributes(layer: dict[str, Any], definition: catalog.LayerDef, report: Report, file: str, where: str) -> None:
    attributes = layer["attributes"]
    known = set(definition.attributes)
    for name in sorted(set(attributes) - known):
        report.add(
            "layer-attribute-unknown",
            f"Layer {layer['name']!r} ({definition.type}): unknown attribute {name!r}. "
            f"Expected one of: {', '.join(sorted(known)) or '(none)'}",
            file,
            f"{where}/attributes/{name}",
        )
    for name in definition.schema.get("required", []):
        if name not in attributes:
            report.add(
                "layer-attribute-missing",
                f"Layer {layer['name']!r} ({definition.type}): attribute {name!r} is missing; writers emit every attribute",
                file,
                f"{where}/attributes/{name}",
            )
    for path, message in _attribute_errors(definition, attributes):
        report.add(
            "layer-attribute-invalid",
            f"Layer {layer['name']!r} ({definition.type}): {message}",
            file,
            f"{where}/attributes" + (f"/{path}" if path else ""),
        )


_SEEN: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (type, attributes as JSON) -> errors; a graph repeats configs


def _attribute_errors(definition: catalog.LayerDef, attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) of each schema error, memoised: 60,000 identical ReLU configs are validated once."""
    # repr of parsed JSON (dict, list, str, int, float, bool, None) tells apart exactly what validation tells apart
    key = (definition.type, repr(attributes))
    if key in _SEEN:
        return _SEEN[key]
    found: list[tuple[str, str]] = []
    if not certainly_valid(catalog.schema_path(definition.type), attributes):  # valid: no jsonschema
        for error in definition.validator.iter_errors(attributes):
            if error.validator in ("required", "additionalProperties") and not error.absolute_path:
                continue  # reported above with their own codes (nested ones are reported here)
            found.append(("/".join(str(p) for p in error.absolute_path), error.message))
    if len(_SEEN) > 4096:
        _SEEN.clear()  # bounded: a long-running process validating many models
    _SEEN[key] = found
    return found


def _check_nested(layer: dict[str, Any], definition: catalog.LayerDef, report: Report, file: str, where: str) -> None:
    """A wrapper (x-kif ``weights_from``): the wrapped layer must be a known type with valid attributes."""
    if definition.weights_from is None:
        return
    inner = layer["attributes"].get(definition.weights_from)
    if not isinstance(inner, dict) or not isinstance(inner.get("type"), str) or not isinstance(inner.get("attributes"), dict):
        return  # the wrapper's own schema reports the malformed value
    inner_where = f"{where}/attributes/{definition.weights_from}"
    inner_def = catalog.catalog().get(inner["type"])
    if inner_def is None:
        report.add(
            "layer-type-unknown",
            f"Layer {layer['name']!r} ({definition.type}) wraps unknown type {inner['type']!r}. "
            f"Known types: {', '.join(catalog.catalog())}",
            file,
            inner_where + "/type",
        )
        return
    nested = {"name": layer["name"], "attributes": inner["attributes"]}
    _check_attributes(nested, inner_def, report, file, inner_where)
    _check_nested(nested, inner_def, report, file, inner_where)


def _arity_text(bounds: tuple[int, int | None]) -> str:
    low, high = bounds
    if high == low:
        return str(low)
    return f"at least {low}" if high is None else f"{low} to {high}"


def _check_arity(layer: dict[str, Any], definition: catalog.LayerDef, report: Report, file: str, where: str) -> None:
    for key, bounds in (("inputs", definition.inputs), ("outputs", definition.outputs)):
        count = len(layer[key])
        low, high = bounds
        if count < low or (high is not None and count > high):
            report.add(
                "layer-arity",
                f"Layer {layer['name']!r} ({definition.type}): expected {_arity_text(bounds)} {key}. Received: {count}",
                file,
                f"{where}/{key}",
            )


def _check_weight_roles(layer: dict[str, Any], definition: catalog.LayerDef, report: Report, file: str, where: str) -> None:
    roles = set(layer["weights"])
    required = definition.required_weights(layer["attributes"])
    for role in sorted(required - roles):
        report.add(
            "layer-weight-missing",
            f"Layer {layer['name']!r} ({definition.type}): expected weight {role!r}",
            file,
            f"{where}/weights/{role}",
        )
    for role in sorted(roles - required):
        known = ", ".join(sorted(required)) or "(none)"
        report.add(
            "layer-weight-unknown",
            f"Layer {layer['name']!r} ({definition.type}): weight role {role!r} is not used with these attributes. Expected: {known}",
            file,
            f"{where}/weights/{role}",
        )
