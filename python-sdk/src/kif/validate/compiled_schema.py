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
import os
from collections.abc import Callable


def module_name(relative_path: str) -> str:
    """The module of ``_schema_code`` generated from a schema file (``layers/Dense.schema.json`` -> ``layers_Dense``)."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in relative_path.removesuffix(".schema.json"))


def source_digest(path: str | os.PathLike[str]) -> int:
    """CRC-32 of a schema file's bytes, line endings normalised (a checkout with CRLF reads the same).

    A guard against a schema edited after generation (not against an attacker: one who can edit the installed schema
    files can edit this code). CRC-32 notices every edit of up to 32 bits and any other but for 1 in 2^32; SHA-256 of
    the same three files cost a fresh open 0.05 ms more (benchmarks/results/open.md). The tests regenerate every
    module and compare its text, digests included (tests/test_schema_code.py)."""
    import zlib

    with open(path, "rb") as stream:
        return zlib.crc32(stream.read().replace(b"\r\n", b"\n"))


@functools.cache
def _unchanged(relative_path: str, digest: int) -> bool:
    from kif import schemas

    try:
        return source_digest(schemas.schema_file(relative_path)) == digest
    except OSError:
        return False


@functools.cache
def _check(relative_path: str) -> Callable[[object], bool] | None:
    name = f"{__package__}._schema_code.{module_name(relative_path)}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None  # not generated: the jsonschema path decides
    if not all(_unchanged(p, d) for p, d in module.SOURCES.items()):
        return None  # generated from another version of a schema it reads: the jsonschema path decides
    check: Callable[[object], bool] = module.valid
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
