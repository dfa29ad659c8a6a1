"""The layer catalog, read from ``schemas/layers/<Type>.schema.json`` and ``schemas/ops/<name>.schema.json``.

Each layer schema is a JSON Schema for the layer's ``attributes`` object plus an
``x-kif`` block (spec version it appeared in, arity, weights, tolerance class).
Defaults live only in the schema; the builder and the runtime read them here.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kif import schemas
from kif._lean import Frozen
from kif.errors import KifError, UnsupportedLayerError

if TYPE_CHECKING:  # jsonschema is imported when a validator is first built (kif.schemas)
    from jsonschema import Draft202012Validator


class WeightDef(Frozen):
    __match_args__ = ("role", "rank", "layout", "description", "when", "also")
    __slots__ = __match_args__
    role: str
    rank: int | None  # None: the rank follows the attributes; the shape rule checks it
    layout: str
    description: str
    when: str | None  # boolean attribute (or /-path) that must be true for the weight to exist
    also: tuple[str, ...]  # further conditions that must all be true too (``when`` given as a list)

    def __init__(self, role: str, rank: int | None, layout: str, description: str, when: str | None, also: tuple[str, ...] = ()) -> None:
        self._assign(role, rank, layout, description, when, also)

    @property
    def conditions(self) -> tuple[str, ...]:
        return () if self.when is None else (self.when, *self.also)


class LayerDef(Frozen):
    __match_args__ = ("type", "since", "schema", "inputs", "outputs", "weights", "tolerance", "weights_from", "page")
    __slots__ = __match_args__
    type: str
    since: str
    schema: dict[str, Any]
    inputs: tuple[int, int | None]  # (min, max); max None = unbounded
    outputs: tuple[int, int | None]
    weights: dict[str, WeightDef]
    tolerance: dict[str, Any]
    weights_from: str | None  # attribute holding a nested {type, attributes} whose weight roles this type uses
    page: str | None  # the spec page, when not spec/layers/<type>.md (primitive ops share a page per family)

    def __init__(
        self,
        type: str,
        since: str,
        schema: dict[str, Any],
        inputs: tuple[int, int | None],
        outputs: tuple[int, int | None],
        weights: dict[str, WeightDef],
        tolerance: dict[str, Any],
        weights_from: str | None = None,
        page: str | None = None,
    ) -> None:
        self._assign(type, since, schema, inputs, outputs, weights, tolerance, weights_from, page)

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
        return schemas.validator(schema_path(self.type))

    @property
    def spec_page(self) -> str:
        return self.page or f"spec/layers/{self.type}.md"

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
    ``name!=null`` for an attribute that is set (not null, not empty), or ``name!=value`` for any other value."""
    if condition.endswith("!=null"):
        value = _lookup(attributes, condition[: -len("!=null")])
        return value is not None and value != "" and value != []
    if "!=" in condition:
        path, _, expected = condition.partition("!=")
        return bool(_lookup(attributes, path) != expected)
    path, equals, expected = condition.partition("=")
    value = _lookup(attributes, path)
    return value == expected if equals else value is True


def _weight(role: str, w: dict[str, Any]) -> WeightDef:
    when = w.get("when")
    conditions = [when] if isinstance(when, str) else list(when or [])
    first = conditions[0] if conditions else None
    return WeightDef(role, w["rank"], w["layout"], w["description"], first, tuple(conditions[1:]))


OP_PREFIX = "op."  # primitive ops (spec/ops/index.md): ``op.add``, schemas in schemas/ops/<name>.schema.json


def schema_path(layer_type: str) -> str:
    if layer_type.startswith(OP_PREFIX):
        return f"ops/{layer_type[len(OP_PREFIX):]}.schema.json"
    return f"layers/{layer_type}.schema.json"


def is_custom(layer_type: str) -> bool:
    """Namespaced custom types look like ``vendor.name:Layer``."""
    return ":" in layer_type


def _definition(layer_type: str) -> LayerDef:
    try:
        schema = schemas.one(schema_path(layer_type))
    except OSError as exc:  # listed when the checks were generated, since removed
        raise KifError(f"{schema_path(layer_type)}: cannot read the schema of {layer_type!r}: {exc}", code="installation") from None
    if schema.get("title") != layer_type:
        raise KifError(f"{schema_path(layer_type)}: title {schema.get('title')!r} differs from its file name", code="installation")
    ext = schema["x-kif"]
    return LayerDef(
        type=layer_type,
        since=ext["since"],
        schema=schema,
        inputs=(ext["inputs"]["min"], ext["inputs"]["max"]),
        outputs=(ext["outputs"]["min"], ext["outputs"]["max"]),
        weights={role: _weight(role, w) for role, w in ext["weights"].items()},
        tolerance=ext["tolerance"],
        weights_from=ext.get("weights_from"),
        page=ext.get("page"),
    )


class Catalog(Mapping[str, LayerDef]):
    """Every catalog type, in sorted order. The names come from the schema folders' file names; a type's schema
    file is read the first time its definition is asked for, so opening a bundle reads only the types it uses."""

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._known = frozenset(names)
        self._defs: dict[str, LayerDef] = {}

    def __getitem__(self, layer_type: str) -> LayerDef:
        found = self._defs.get(layer_type)
        if found is None:
            if layer_type not in self:
                raise KeyError(layer_type)
            found = self._defs.setdefault(layer_type, _definition(layer_type))
        return found

    def __contains__(self, layer_type: object) -> bool:
        return layer_type in self._known or _added(layer_type)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@functools.cache
def catalog() -> Catalog:
    """The catalog types, listed by ``python -m kif.schemas_codegen --write`` from the schema folders (one per file of
    schemas/layers and schemas/ops; tests/test_schema_code.py keeps the list current): no directory listing per
    process. A schema file added without regenerating is still found by name (``Catalog.__contains__``)."""
    from kif.validate._schema_code import TYPES

    return Catalog(list(TYPES))


def _added(layer_type: object) -> bool:
    """A catalog-shaped type whose schema file exists though the generated list lacks it: one stat, on a miss only."""
    if not isinstance(layer_type, str) or not layer_type.isascii():
        return False
    if not layer_type.removeprefix(OP_PREFIX).isidentifier():
        return False  # no path outside the two folders is looked at (``..``, ``/``, ``.`` are not in an identifier)
    return os.path.isfile(schemas.schema_file(schema_path(layer_type)))


def get(layer_type: str) -> LayerDef:
    try:
        return catalog()[layer_type]
    except KeyError:
        known = ", ".join(catalog())
        raise UnsupportedLayerError(f"Unknown layer type {layer_type!r}. Known types: {known}", code="layer-type-unknown") from None


# --- Versions: the one place that says which spec version a document needs (spec/versioning.md) ---

FIRST_VERSION = "0.1.0"  # a document that uses only this version's features is stamped with it


def version_key(text: str) -> tuple[int, ...]:
    """``"0.10.0"`` -> ``(0, 10, 0)``; callers pass versions already checked against the schema's pattern."""
    return tuple(int(part) for part in text.split("."))


@functools.cache
def value_since() -> dict[str, dict[str, str]]:
    """``{common $def: {value: since}}``: enumerated values added after the $def itself (``x-kif.since`` in
    ``schemas/common.schema.json``), e.g. the activation names of 0.2.0."""
    defs = schemas.one("common.schema.json")["$defs"]
    return {name: dict(d["x-kif"]["since"]) for name, d in defs.items() if "since" in d.get("x-kif", {})}


@functools.cache
def _gated_attributes(layer_type: str) -> dict[str, dict[str, str]]:
    """Attributes of a type whose value is one of those enumerations: ``{attribute: {value: since}}``."""
    gated = value_since()
    out = {}
    for name, prop in catalog()[layer_type].attributes.items():
        ref = prop.get("$ref", "")
        head, _, definition = ref.rpartition("/")
        if head.endswith("common.schema.json#/$defs") and definition in gated:
            out[name] = gated[definition]
    return out


def versioned_features(layer_type: str, attributes: Any, pointer: str = "") -> list[tuple[str, str, str]]:
    """``(pointer, what, since)`` of each versioned feature one layer uses: its type, each gated attribute value,
    and the same for the layers it nests (``{type, attributes}`` values: TimeDistributed, Bidirectional).
    Pointers are relative to the layer; unknown types and malformed values are left to the validator."""
    definition = catalog().get(layer_type)
    if definition is None:
        return []
    found = [(pointer + "/type", f"layer type {layer_type!r}", definition.since)]
    if not isinstance(attributes, dict):
        return found
    gated = _gated_attributes(layer_type)
    for name, value in attributes.items():
        where = f"{pointer}/attributes/{name}"
        if name in gated and isinstance(value, str) and value in gated[name]:
            found.append((where, f"{name} {value!r}", gated[name][value]))
        elif isinstance(value, dict) and isinstance(value.get("type"), str):
            found += versioned_features(value["type"], value.get("attributes"), where)
    return found


def required_version(layers: Any) -> str:
    """The lowest spec version whose features cover ``layers`` (``Layer`` objects or their JSON dicts):
    what a writer stamps as ``kif_version`` (spec/versioning.md, "Which version a writer stamps")."""
    best = FIRST_VERSION
    for layer in layers:
        layer_type, attributes = (layer["type"], layer["attributes"]) if isinstance(layer, dict) else (layer.type, layer.attributes)
        for _, _, since in versioned_features(layer_type, attributes):
            if version_key(since) > version_key(best):
                best = since
    return best


def stamp_version(pinned: str | None, layers: Any) -> str:
    """``kif_version`` for a written document: the required version, or ``pinned`` (a version the model was read
    with or set to) when that is higher; never lower than what the layers need."""
    needed = required_version(layers)
    if pinned is None:
        return needed
    try:
        return pinned if version_key(pinned) >= version_key(needed) else needed
    except ValueError:
        return pinned  # not a version: written as is, and the validator names it
