"""Access to the JSON Schemas in the repository's ``schemas/`` folder.

``schemas/`` is the single source of truth. A wheel carries a copy as
``kif/_schemas``; a source checkout (editable install) reads the folder itself.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from kif.errors import KifError

_PACKAGED = Path(__file__).parent / "_schemas"
_SOURCE = Path(__file__).resolve().parents[3] / "schemas"


@functools.cache
def schema_dir() -> Path:
    for candidate in (_PACKAGED, _SOURCE):
        if (candidate / "graph.schema.json").is_file():
            return candidate
    raise KifError(f"KIF schemas not found in {_PACKAGED} or {_SOURCE}", code="installation")


def _read(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        data: dict[str, Any] = json.load(stream)
    return data


@functools.cache
def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file, keyed by its path relative to ``schemas/`` (e.g. ``layers/Dense.schema.json``)."""
    root = schema_dir()
    return {p.relative_to(root).as_posix(): _read(p) for p in sorted(root.rglob("*.schema.json"))}


@functools.cache
def registry() -> Registry:
    resources = [(s["$id"], Resource.from_contents(s)) for s in all_schemas().values()]
    return Registry().with_resources(resources)


@functools.cache
def validator(relative_path: str) -> Draft202012Validator:
    """A validator for one schema file, resolving $refs to the other schema files."""
    return Draft202012Validator(all_schemas()[relative_path], registry=registry())


def graph_validator() -> Draft202012Validator:
    return validator("graph.schema.json")
