"""The layer catalog, read from ``schemas/layers/<Type>.schema.json``.

Each layer schema is a JSON Schema for the layer's ``attributes`` object plus an
``x-kif`` block (spec version it appeared in, arity, weights, tolerance class).
Defaults live only in the schema; the builder and the runtime read them here.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kif import schemas
from kif.errors import UnsupportedLayerError

if TYPE_CHECKING:  # jsonschema is imported when a validator is first built (kif.schemas)
    from jsonschema import Draft202012Validator


@dataclass(frozen=True)
class WeightDef:
    role: str
    rank: int | None  # None: the rank follows the attributes; the shape rule checks it
    layout: str
    description: str
    when: str | None  # boolean attribute (or /-path) that must be true for the weight to exist
    also: tuple[str, ...] = ()  # further conditions that must all be true too (``when`` given as a list)

    @property
    def conditions(self) -> tuple[str, ...]:
        return () if self.when is None else (self.when, *self.also)


@dataclass(frozen=True)
class LayerDef:
    type: str
    since: str
    schema: dict[str, Any]
    inputs: tuple[int, int | None]  # (min, max); max None = unbounded
    outputs: tuple[int, int | None]
    weights: dict[str, WeightDef]
    tolerance: dict[str, Any]
    weights_from: str | None = None  # attribute holding a nested {type, attributes} whose weight roles this type uses

    @property
    def attributes(self) -> dict[str, dict[str, Any]]:
        props: dict[str, dict[str, Any]] = self.schema["properties"]
        return props

    @property
    def defaults(self) -> dict[str, Any]:
        # Deep copies: a caller mutating a model's attribute list must not change the catalog.
        return {name: copy.deepcopy(p["default"]) for name, p in self.attributes.items() if "default" in p}

    @property
    def validator(self) -> Draft202012Validator:
        return schemas.validator(f"layers/{self.type}.schema.json")

    def required_weights(self, attributes: dict[str, Any]) -> set[str]:
        roles = {w.role for w in self.weights.values() if all(_holds(attributes, c) for c in w.conditions)}
        inner = self.nested(attributes)
        if inner is not None:
            roles |= inner[0].required_weights(inner[1])
        return roles

    def nested(self, attributes: dict[str, Any]) -> tuple[LayerDef, dict[str, Any]] | None:
        """The wrapped layer's definition and attributes (``weights_from``), when it names a known type."""
        if self.weights_from is None:
            return None
        inner = _lookup(attributes, self.weights_from)
        if not isinstance(inner, dict) or not isinstance(inner.get("type"), str) or not isinstance(inner.get("attributes"), dict):
            return None
        definition = catalog().get(inner["type"])
        return None if definition is None else (definition, inner["attributes"])


def _lookup(attributes: dict[str, Any], path: str) -> Any:
    """Resolve ``when``: an attribute name, or a '/'-separated path into nested attributes."""
    value: Any = attributes
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _holds(attributes: dict[str, Any], condition: str) -> bool:
    """A ``when`` condition: ``name`` (or a /-path) that is true, ``name=value`` naming an enum value,
    or ``name!=null`` for an attribute that is set (not null, not empty)."""
    if condition.endswith("!=null"):
        value = _lookup(attributes, condition[: -len("!=null")])
        return value is not None and value != "" and value != []
    path, equals, expected = condition.partition("=")
    value = _lookup(attributes, path)
    return value == expected if equals else value is True


def _weight(role: str, w: dict[str, Any]) -> WeightDef:
    when = w.get("when")
    conditions = [when] if isinstance(when, str) else list(when or [])
    first = conditions[0] if conditions else None
    return WeightDef(role, w["rank"], w["layout"], w["description"], first, tuple(conditions[1:]))


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
            weights={role: _weight(role, w) for role, w in ext["weights"].items()},
            tolerance=ext["tolerance"],
            weights_from=ext.get("weights_from"),
        )
    return dict(sorted(out.items()))


def get(layer_type: str) -> LayerDef:
    try:
        return catalog()[layer_type]
    except KeyError:
        known = ", ".join(catalog())
        raise UnsupportedLayerError(f"Unknown layer type {layer_type!r}. Known types: {known}", code="layer-type-unknown") from None
