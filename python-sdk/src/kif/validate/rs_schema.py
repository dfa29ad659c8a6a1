"""A compiled fast path for the schemas: jsonschema-rs vouches for documents that are valid.

Importing jsonschema and building its validators costs ~0.1-0.2 s in a fresh process, more than
everything else a lazy open does. jsonschema-rs (a maintained Rust implementation of Draft 2020-12)
imports in a few milliseconds and validates in microseconds, but its error reports differ from the
ones KIF's findings are built from. So it is used only to say "valid": when it accepts an instance,
the instance is valid; when it does not, jsonschema runs as before and produces the findings, with
unchanged messages and pointers. A missing or broken jsonschema-rs only turns the fast path off.

One reading differs and is closed here: KIF's strict ``integer`` refuses ``3.0`` (kif.schemas),
while Draft 2020-12 (and jsonschema-rs) accepts it; the schemas handed to jsonschema-rs carry a
keyword ``kifInteger`` beside each integer-only ``type`` that refuses floats. tests/test_rs_schema.py
checks on every conformance document and on fuzzed ones that the two validators agree.
"""

from __future__ import annotations

import functools
from typing import Any

from kif import schemas

_STRICT = "kifInteger"


@functools.cache
def _module() -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - jsonschema-rs is a dependency; a platform without its wheel still validates
        return None
    return jsonschema_rs


class _StrictInteger:
    """``kifInteger``: a JSON number written with a fraction or exponent (parsed as a float) is not an integer."""

    def __init__(self, parent_schema: object, value: object, schema_path: object) -> None:
        pass

    def validate(self, instance: object) -> None:
        if isinstance(instance, float):
            raise ValueError(f"{instance!r} is not of type 'integer'")


def _strict(schema: object) -> object:
    """``schema`` with ``kifInteger`` beside every ``type`` that allows integers but not other numbers."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    if "integer" in kinds and "number" not in kinds:
        out[_STRICT] = True
    return out


@functools.cache
def _strict_schema(relative_path: str) -> Any:
    return _strict(schemas.one(relative_path))


def _retrieve(uri: str) -> Any:
    """The referenced schema file, read when first referenced; nothing outside the schemas folder is fetched."""
    root = schemas.one("graph.schema.json")["$id"].rsplit("/", 1)[0] + "/"
    if not uri.startswith(root) or ".." in uri[len(root) :]:
        raise ValueError(f"not a KIF schema: {uri}")
    return _strict_schema(uri[len(root) :])


@functools.cache
def _validator(relative_path: str) -> Any:
    rs = _module()
    if rs is None:
        return None
    try:
        return rs.validator_for(_strict_schema(relative_path), retriever=_retrieve, keywords={_STRICT: _StrictInteger})
    except Exception:  # pragma: no cover - a schema jsonschema-rs cannot compile: jsonschema alone decides
        return None


def vouches(relative_path: str, instance: object) -> bool:
    """True only if ``instance`` certainly passes the schema file ``relative_path`` (as kif.schemas reads it)."""
    from kif.validate import compiled_schema

    verdict = compiled_schema.vouches(relative_path, instance)  # generated checks first: no jsonschema-rs import
    if verdict is not None:
        return verdict
    validator = _validator(relative_path)
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(instance))
    except Exception:  # e.g. an integer beyond 64 bits: let jsonschema decide
        return False
