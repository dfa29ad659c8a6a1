"""Access to the JSON Schemas in the repository's ``schemas/`` folder.

``schemas/`` is the single source of truth. A wheel carries a copy as
``kif/_schemas``; a source checkout (editable install) reads the folder itself.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any

from kif.errors import KifError

if TYPE_CHECKING:  # jsonschema and referencing cost ~0.1 s to import: only validation pays for them
    from pathlib import Path

    from jsonschema import Draft202012Validator
    from referencing import Registry

# Plain strings, not pathlib: an open reads schema files in a process that has not imported pathlib (with what it
# imports, ~6 ms in a plain virtual environment; benchmarks/results/open.md).
_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGED = os.path.join(_HERE, "_schemas")


def _source() -> str:
    """The repository's schemas/ (a source checkout); resolved only when no packaged copy exists (a wheel has one)."""
    repository = os.path.realpath(__file__)
    for _ in range(4):  # kif/schemas.py -> kif -> src -> python-sdk -> the repository
        repository = os.path.dirname(repository)
    return os.path.join(repository, "schemas")


@functools.cache
def schema_root() -> str:
    """The folder holding the schema files, as a string (what the open path uses)."""
    if os.path.isfile(os.path.join(_PACKAGED, "graph.schema.json")):
        return _PACKAGED
    source = _source()
    if os.path.isfile(os.path.join(source, "graph.schema.json")):
        return source
    raise KifError(
        f"KIF schemas not found in {_PACKAGED} or {source}: reinstall with pip install --force-reinstall kif-format",
        code="installation",
    )


def schema_dir() -> Path:
    """The folder holding the schema files."""
    from pathlib import Path

    return Path(schema_root())


def schema_file(relative_path: str) -> str:
    """The path of one schema file given relative to ``schemas/`` (``layers/Dense.schema.json``)."""
    return os.path.join(schema_root(), *relative_path.split("/"))


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    from kif.strict_json import loads_plain  # json.load's result, without importing the json package

    with open(path, encoding="utf-8") as stream:
        data: dict[str, Any] = loads_plain(stream.read())
    return data


@functools.cache
def one(relative_path: str) -> dict[str, Any]:
    """One schema file by its path relative to ``schemas/`` (read once; the fast path reads only the files it uses)."""
    return _read(schema_file(relative_path))


@functools.cache
def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file, keyed by its path relative to ``schemas/`` (e.g. ``layers/Dense.schema.json``)."""
    root = schema_dir()
    return {p.relative_to(root).as_posix(): _read(p) for p in sorted(root.rglob("*.schema.json"))}


@functools.cache
def registry() -> Registry:
    from referencing import Registry, Resource

    resources = [(s["$id"], Resource.from_contents(s)) for s in all_schemas().values()]
    return Registry().with_resources(resources)


def _is_integer(checker: object, instance: object) -> bool:
    # JSON Schema counts 3.0 as an integer; KIF's canonical form writes integers without a fraction, so a reader
    # that sees 3.0 where an integer belongs (units, kernel sizes, shapes) has been handed a non-canonical file.
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262: `$` matches only at the end. Python's `$` also matches before a trailing
    # newline, which let "dense\n" pass the name pattern; \Z is the ECMA meaning (our patterns use `$` only last).
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern)


def _pattern(validator: Any, pattern: str, instance: object, schema: object) -> Any:
    from jsonschema import ValidationError

    if isinstance(instance, str) and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _strict_validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators

    return validators.extend(
        Draft202012Validator,
        validators={"pattern": _pattern},
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )


@functools.cache
def validator(relative_path: str) -> Draft202012Validator:
    """A validator for one schema file, resolving $refs to the other schema files."""
    return _strict_validator_class()(all_schemas()[relative_path], registry=registry())  # type: ignore[no-any-return]


def graph_validator() -> Draft202012Validator:
    return validator("graph.schema.json")
