"""A fast path for the graph schema's most repeated part: the layer entries.

jsonschema costs about 0.3 ms per layer entry, which made a 60,000-layer graph take seconds
to validate. ``layer_conforms`` answers "does this entry certainly pass ``$defs/layer``?"
with plain Python checks built from the schema's own constants; entries it does not vouch
for go through jsonschema as before, so messages and pointers are unchanged. It is used only
while ``$defs/layer`` has exactly the shape it was written for (``_EXPECTED``); any edit to
that part of the schema turns the fast path off instead of letting it drift.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kif import schemas

_NAME = {"$ref": "#/$defs/name"}
_EXPECTED_KEYS = ["name", "type", "attributes", "inputs", "outputs", "weights"]


def _layer_def() -> dict[str, Any]:
    return schemas.one("graph.schema.json")["$defs"]["layer"]  # type: ignore[no-any-return]


def _expected_shape(layer: dict[str, Any]) -> bool:
    props = layer.get("properties", {})
    strip = {k: {kk: vv for kk, vv in v.items() if kk != "description"} for k, v in props.items()}
    return (
        set(layer) == {"type", "required", "additionalProperties", "properties"}
        and layer["type"] == "object"
        and layer["required"] == _EXPECTED_KEYS
        and layer["additionalProperties"] is False
        and list(strip) == _EXPECTED_KEYS
        and strip["name"] == _NAME
        and strip["type"] == {"$ref": "#/$defs/layer_type"}
        and strip["attributes"] == {"type": "object"}
        and strip["inputs"] == {"type": "array", "items": {"oneOf": [_NAME, {"type": "null"}]}}
        and strip["outputs"] == {"type": "array", "minItems": 1, "items": _NAME}
        and strip["weights"] == {"type": "object", "additionalProperties": _NAME}
    )


def _string_rule(definition: dict[str, Any]) -> Callable[[object], bool] | None:
    if set(definition) - {"type", "minLength", "maxLength", "pattern", "description"} or definition.get("type") != "string":
        return None
    low, high = definition.get("minLength", 0), definition.get("maxLength")
    pattern = definition.get("pattern")
    compiled = schemas.ecma_pattern(pattern) if pattern is not None else None

    def ok(value: object) -> bool:
        # len() counts code points, as JSON Schema does
        return (
            isinstance(value, str)
            and low <= len(value)
            and (high is None or len(value) <= high)
            and (compiled is None or compiled.search(value) is not None)
        )

    return ok


@functools.cache
def layer_checker() -> Callable[[object], bool] | None:
    """The fast check, or None when the schema no longer has the shape it was written for."""
    defs = schemas.one("graph.schema.json")["$defs"]
    name, layer_type = _string_rule(defs["name"]), _string_rule(defs["layer_type"])
    if not _expected_shape(_layer_def()) or name is None or layer_type is None:
        return None
    keys = set(_EXPECTED_KEYS)

    def conforms(item: object) -> bool:
        if not isinstance(item, dict) or item.keys() != keys:
            return False
        inputs, outputs, weights = item["inputs"], item["outputs"], item["weights"]
        return (
            name(item["name"])
            and layer_type(item["type"])
            and isinstance(item["attributes"], dict)
            and isinstance(inputs, list)
            and all(t is None or name(t) for t in inputs)
            and isinstance(outputs, list)
            and len(outputs) >= 1
            and all(name(t) for t in outputs)
            and isinstance(weights, dict)
            and all(name(t) for t in weights.values())
        )

    return conforms


def layer_validator() -> Any:
    """jsonschema for one layer entry (``$defs/layer``), resolving refs inside the graph schema."""
    base = schemas.one("graph.schema.json")["$id"]
    return schemas.graph_validator().evolve(schema={"$ref": f"{base}#/$defs/layer"})

