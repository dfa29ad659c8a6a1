"""Helpers the generated schema checks (``kif/validate/_schema_code``) call: JSON Schema equality.

They follow jsonschema's own ``equal``/``uniq`` (``jsonschema._utils``), so that ``enum``, ``const`` and
``uniqueItems`` tell values apart exactly as the jsonschema fallback does (``True`` is not ``1``, ``1`` is ``1.0``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from numbers import Number

NUMBER = Number  # jsonschema's "number": any numbers.Number but bool
_TRUE, _FALSE = object(), object()


def _unbool(value: object) -> object:
    return _TRUE if value is True else _FALSE if value is False else value


def equal(one: object, two: object) -> bool:
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(key in two and equal(value, two[key]) for key, value in one.items())
    return bool(_unbool(one) == _unbool(two))


def enum(value: object, allowed: tuple[object, ...]) -> bool:
    return any(equal(each, value) for each in allowed)


def unique(items: list[object]) -> bool:
    try:
        ordered = sorted(_unbool(i) for i in items)  # type: ignore[type-var]
        return not any(equal(i, j) for i, j in zip(ordered, itertools.islice(ordered, 1, None), strict=False))
    except (NotImplementedError, TypeError):
        seen: list[object] = []
        for item in items:
            item = _unbool(item)
            if any(equal(i, item) for i in seen):
                return False
            seen.append(item)
        return True


class Word:
    """A ``pattern`` of the form ``^prefix[first][rest]*suffix\\Z``, ``^[chars]+\\Z`` or ``^[chars]{count}\\Z`` over ASCII
    character classes, matched with string methods: the generated checks build these instead of compiling regexes
    (the graph schema's took a fresh process 0.4 ms). ``search`` answers as the pattern's ``re.search`` would: a true
    value when the whole string matches, None when it does not (kif.schemas_codegen spells the classes out)."""

    __slots__ = ("count", "first", "prefix", "rest", "suffix")

    def __init__(self, first: str, rest: str, suffix: str = "", count: int | None = None, prefix: str = "") -> None:
        self.first, self.rest, self.suffix, self.count, self.prefix = frozenset(first), rest, suffix, count, prefix

    def search(self, text: str) -> bool | None:
        if self.prefix:
            if not text.startswith(self.prefix):
                return None
            text = text[len(self.prefix) :]
        if self.suffix:
            if not text.endswith(self.suffix):
                return None
            text = text[: len(text) - len(self.suffix)]
        if self.count is not None and len(text) != self.count:
            return None
        return True if text[:1] in self.first and not text[1:].strip(self.rest) else None


class AnyOf:
    """``^(a|b|...)\\Z``: one matcher per alternative, tried in order (a Word first spares compiling the others)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Word | Lazy, ...]) -> None:
        self.parts = parts

    def search(self, text: str) -> bool | None:
        return True if any(part.search(text) for part in self.parts) else None


class Numerals:
    """``^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)...\\Z`` with ``count`` parts (a version such as ``0.2.0``): decimal
    numerals without leading zeros joined by dots, matched with string methods (its regex cost every open 0.1 ms)."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count

    def search(self, text: str) -> bool | None:
        parts = text.split(".")
        if len(parts) != self.count:
            return None
        return True if all(p.isascii() and p.isdigit() and (p == "0" or p[0] != "0") for p in parts) else None


class Lazy:
    """A ``pattern`` compiled on its first ``search``: compiling costs 0.1 ms a pattern, and a check that never reaches
    it (a document without composites or custom layer types) should not pay for it."""

    __slots__ = ("compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern, self.compiled = pattern, None

    def search(self, text: str) -> re.Match[str] | None:
        if self.compiled is None:
            self.compiled = re.compile(self.pattern)  # two threads may both compile; either result is the same
        return self.compiled.search(text)
