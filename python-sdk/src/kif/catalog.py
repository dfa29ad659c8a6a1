"""The layer catalog, read from ``schemas/layers/<Type>.schema.json``.

Each layer schema is a JSON Schema for the layer's ``attributes`` object plus an
``x-kif`` block (spec version it appeared in, arity, weights, tolerance class).
Defaults live only in the schema; the builder and the runtime read them here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from kif import schemas
from kif.errors import UnsupportedLayerError


@dataclass(frozen=True)
class WeightDef:
    role: str
    rank: int
    layout: str
    description: str
    when: str | None  # boolean attribute that must be true for the weight to exist


@dataclass(frozen=True)
class LayerDef:
    type: str
    since: str
    schema: dict[str, Any]
    inputs: tuple[int, int | None]  # (min, max); max None = unbounded
    outputs: tuple[int, int | None]
    weights: dict[str, WeightDef]
    tolerance: dict[str, Any]

    @property
    def attributes(self) -> dict[str, dict[str, Any]]:
        props: dict[str, dict[str, Any]] = self.schema["properties"]
        return props

    @property
    def defaults(self) -> dict[str, Any]:
        return {name: p["default"] for name, p in self.attributes.items() if "default" in p}

    @property
    def validator(self) -> Draft202012Validator:
        return schemas.validator(f"layers/{self.type}.schema.json")

    def required_weights(self, attributes: dict[str, Any]) -> set[str]:
        return {w.role for w in self.weights.values() if w.when is None or _lookup(attributes, w.when) is True}


def _lookup(attributes: dict[str, Any], path: str) -> Any:
    """Resolve ``when``: an attribute name, or a '/'-separated path into nested attributes."""
    value: Any = attributes
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def is_custom(layer_type: str) -> bool:
    """Namespaced custom types look like ``vendor.name:Layer``."""
    return ":" in layer_type


@functools.cache
def catalog() -> dict[str, LayerDef]:
    out: dict[str, LayerDef] = {}
    for rel, schema in schemas.all_schemas().items():
        if not rel.startswith("layers/"):
            continue
        ext = schema["x-kif"]
        out[schema["title"]] = LayerDef(
            type=schema["title"],
            since=ext["since"],
            schema=schema,
            inputs=(ext["inputs"]["min"], ext["inputs"]["max"]),
            outputs=(ext["outputs"]["min"], ext["outputs"]["max"]),
            weights={
                role: WeightDef(role, w["rank"], w["layout"], w["description"], w.get("when"))
                for role, w in ext["weights"].items()
            },
            tolerance=ext["tolerance"],
        )
    return dict(sorted(out.items()))


def get(layer_type: str) -> LayerDef:
    try:
        return catalog()[layer_type]
    except KeyError:
        known = ", ".join(catalog())
        raise UnsupportedLayerError(
            f"Unknown layer type {layer_type!r}. Known types: {known}", code="layer-type-unknown"
        ) from None
