"""Composite definitions for custom Keras classes: ``kif convert --custom DEFS.json`` and the built-in library.

A definitions file maps a Keras class (its registered name ``Package>Class`` or its class name) to an entry, or a
list of entries tried in order, each::

    {"type": "acme.layers:Scale",          # the composite type the layer's calls get (namespaced)
     "definition": {...},                  # a composite definition (spec/composites.md)
     "when": {"center": true},             # optional: config values this entry applies to
     "weights": {"role": "stored name"},   # optional: stored weight name of each role (default: same name, else order)
     "ignore": ["some_key"]}               # optional: config keys with no effect at inference

A layer of the class becomes one call: its parameters are the config values of the same names (absent ones take
the definition's defaults), its weights are bound to the definition's roles. Every other config key must be known
to mean nothing at inference (initialisers, regularisers, ``ignore``); otherwise the conversion stops naming it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kif.errors import KifError

_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*:[A-Za-z][A-Za-z0-9_]*$"
_TYPES = {"integer": (int,), "number": (int, float), "boolean": (bool,), "string": (str,), "array": (list,)}
MAX_BYTES = 16 * 1024 * 1024  # a definitions file is small; a larger one is refused before it is parsed


@dataclass(frozen=True)
class CustomEntry:
    type: str
    definition: dict[str, Any]
    when: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()


@dataclass
class Definitions:
    classes: dict[str, list[CustomEntry]] = field(default_factory=dict)  # Keras class → its entries, in order
    helpers: dict[str, dict[str, Any]] = field(default_factory=dict)  # "$composites": types the entries' bodies call

    def definition(self, type_name: str) -> dict[str, Any] | None:
        """A composite type's definition: a helper, or the definition of an entry (the user's or the library's)."""
        from kif.keras.builtin_composites import HELPERS, LIBRARY

        if type_name in self.helpers:
            return self.helpers[type_name]
        for entries in [*self.classes.values(), *LIBRARY.values()]:
            for entry in entries:
                if entry.type == type_name:
                    return entry.definition
        return HELPERS.get(type_name)


def _fail(where: str, why: str) -> KifError:
    return KifError(f"Custom definitions, {where}: {why}", code="convert-usage")


def load(source: str | os.PathLike[str] | Mapping[str, Any] | None) -> Definitions:
    """Definitions from a JSON file or an already parsed mapping; every problem is one error naming the class."""
    if source is None:
        return Definitions()
    if isinstance(source, Mapping):
        data: Any = dict(source)
    elif not isinstance(source, (str, os.PathLike)):
        raise _fail("the document", "must be an object: Keras class name -> entry (or list of entries), or a JSON file of one")
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise _fail(str(path), f"the file is larger than {MAX_BYTES} bytes")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _fail(str(path), f"cannot read it as JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise _fail("the document", "must be an object: Keras class name -> entry (or list of entries)")
    helpers = data.pop("$composites", {})
    if not isinstance(helpers, dict):
        raise _fail("'$composites'", "must be an object: composite type -> definition")
    checked = {}
    for type_name, body in helpers.items():
        if not isinstance(type_name, str) or not re.match(_PATTERN, type_name):
            raise _fail("'$composites'", f"{type_name!r} is not a namespaced custom type such as 'acme.layers:Scale'")
        checked[type_name] = _definition(f"composite {type_name!r}", body)
    classes = {str(name): [_entry(str(name), i, e) for i, e in enumerate(value if isinstance(value, list) else [value])]
               for name, value in data.items()}  # fmt: skip
    return Definitions(classes, checked)


def _definition(where: str, body: Any) -> dict[str, Any]:
    from kif.schemas import registry, validator

    schema = {"$ref": validator("graph.schema.json").schema["$id"] + "#/$defs/composite"}
    checker = type(validator("graph.schema.json"))(schema, registry=registry())
    problem = next(iter(checker.iter_errors(body)), None)
    if problem is not None:
        at = "/".join(str(p) for p in problem.absolute_path) or "(top)"
        raise _fail(where, f"the definition is not a composite definition at {at}: {problem.message[:200]}")
    return dict(body)


def _entry(name: str, index: int, raw: Any) -> CustomEntry:
    where = f"class {name!r}" + (f" entry {index}" if index else "")
    if not isinstance(raw, dict):
        raise _fail(where, "an entry must be an object with 'type' and 'definition'")
    unknown = set(raw) - {"type", "definition", "when", "weights", "ignore", "description"}
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}; expected type, definition, when, weights, ignore")
    for key in ("type", "definition"):
        if key not in raw:
            raise _fail(where, f"missing {key!r}")
    if not isinstance(raw["type"], str) or not re.match(_PATTERN, raw["type"]):
        raise _fail(where, f"'type' must be a namespaced custom type such as 'acme.layers:Scale'. Received: {raw['type']!r}")
    _definition(where, raw["definition"])
    when, weights, ignore = raw.get("when", {}), raw.get("weights", {}), raw.get("ignore", [])
    if not isinstance(when, dict):
        raise _fail(where, "'when' must be an object: config key -> value")
    roles = raw["definition"].get("weights", [])
    if not isinstance(weights, dict) or not all(isinstance(v, str) for v in weights.values()) or set(weights) - set(roles):
        raise _fail(where, f"'weights' must map roles of the definition {roles} to stored weight names")
    if not isinstance(ignore, list) or not all(isinstance(k, str) for k in ignore):
        raise _fail(where, "'ignore' must be a list of config keys")
    return CustomEntry(raw["type"], raw["definition"], dict(when), dict(weights), frozenset(ignore))


def lookup(defs: Definitions, class_name: str, registered: str | None) -> list[CustomEntry] | None:
    """The entries for a layer: the user's by registered name, class name or class name without its package
    (first found), else the built-in library's by the registered name (Keras 3) or class name (Keras 2)."""
    from kif.keras.builtin_composites import LIBRARY

    keys = [k for k in (registered, class_name) if k] + [class_name.rsplit(">", 1)[-1]]
    found = next((defs.classes[k] for k in keys if k in defs.classes), None)
    return found if found is not None else LIBRARY.get(registered or class_name)  # the library: the exact name only


def typed(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


__all__ = ["CustomEntry", "Definitions", "load", "lookup", "typed"]
