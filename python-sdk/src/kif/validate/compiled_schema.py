"""The generated schema checks (``_schema_code``, built by ``python -m kif.schemas_codegen --write``) say "valid".

A valid document, the path every open takes, is checked in plain Python: neither jsonschema nor jsonschema-rs is
imported and no validator is compiled. When a check says no, the caller runs jsonschema as before, which produces
the findings, so messages and pointers are those of jsonschema. tests/test_schema_code.py keeps the modules equal
to the schemas and checks that they accept exactly what jsonschema accepts.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable


@functools.cache
def _check(relative_path: str) -> Callable[[object], bool] | None:
    from kif.validate._schema_code import MODULES

    name = MODULES.get(relative_path)
    if name is None:
        return None
    check: Callable[[object], bool] = importlib.import_module(f"kif.validate._schema_code.{name}").valid
    return check


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
