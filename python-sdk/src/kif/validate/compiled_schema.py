"""The generated schema checks (``_schema_code``, built by ``python -m kif.schemas_codegen --write``) say "valid".

A valid document, the path every open takes, is checked in plain Python: neither jsonschema nor jsonschema-rs is
imported and no validator is compiled. When a check says no, the caller runs jsonschema as before, which produces
the findings, so messages and pointers are those of jsonschema. A check generated from other bytes of its schema
files than the ones installed is not used (a schema edited without regenerating stays correct, only slower).
tests/test_schema_code.py keeps the modules equal to the schemas and checks that they accept exactly what
jsonschema accepts.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path


def source_digest(path: Path) -> str:
    """SHA-256 of a schema file's bytes, line endings normalised (a checkout with CRLF reads the same)."""
    from kif._lean import sha256_small

    return sha256_small(path.read_bytes().replace(b"\r\n", b"\n"))


@functools.cache
def _unchanged(relative_path: str) -> bool:
    from kif import schemas
    from kif.validate._schema_code import SOURCES

    try:
        return source_digest(schemas.schema_dir() / relative_path) == SOURCES[relative_path]
    except (OSError, KeyError):
        return False


@functools.cache
def _check(relative_path: str) -> Callable[[object], bool] | None:
    from kif.validate._schema_code import DEPENDS, MODULES

    name = MODULES.get(relative_path)
    if name is None or not all(_unchanged(p) for p in DEPENDS[relative_path]):
        return None  # not generated, or generated from another version of a schema: the jsonschema path decides
    check: Callable[[object], bool] = importlib.import_module(f"kif.validate._schema_code.{name}").valid
    return check


def certainly_valid(relative_path: str, instance: object) -> bool:
    """True only if ``instance`` certainly passes the schema file: the generated check's word, or jsonschema-rs's
    (kif.validate.rs_schema, imported only for a file with no generated check)."""
    verdict = vouches(relative_path, instance)
    if verdict is not None:
        return verdict
    from kif.validate import rs_schema

    return rs_schema.vouches(relative_path, instance)


def vouches(relative_path: str, instance: object) -> bool | None:
    """True if ``instance`` passes the schema file ``relative_path`` (as kif.schemas reads it), False if it does not
    or cannot be told here; None when no check was generated for that file."""
    check = _check(relative_path)
    if check is None:
        return None
    try:
        return check(instance)
    except Exception:  # a hostile nesting depth, a Python value JSON cannot hold: jsonschema decides, as before
        return False
