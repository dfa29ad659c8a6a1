"""How ``kif.schemas_codegen`` writes a schema ``pattern``: the constant a generated check matches strings with.

A regex costs a fresh process about 0.1 ms to compile, and the graph check is imported by every open. So a pattern
that is a word over ASCII classes becomes a ``schema_rt.Word`` (string methods), a version a ``Numerals``, an
alternation an ``AnyOf`` of per-alternative matchers, and anything else a ``schema_rt.Lazy`` regex compiled on its first search.
Each constant's ``repr`` is the source written into the generated module. tests/test_open_imports.py checks every
schema pattern's constant against the regex itself.
"""

from __future__ import annotations

import re


class _Word:
    """A ``schema_rt.Word`` constant: the pattern's classes spelled out, so that no regex is compiled at import."""

    def __init__(self, first: str, rest: str, suffix: str, count: int | None, prefix: str = "") -> None:
        self.args = (first, rest, suffix, count, prefix) if prefix else (first, rest, suffix, count)

    def __repr__(self) -> str:
        return f"_rt.Word{self.args!r}"


class _AnyOf:
    """``^(a|b|...)\\Z`` as a ``schema_rt.AnyOf`` of one matcher per alternative (a Word where one fits)."""

    def __init__(self, parts: list[_Word | _Pattern]) -> None:
        self.parts = parts

    def __repr__(self) -> str:
        return f"_rt.AnyOf(({', '.join(map(repr, self.parts))},))"


def _alternatives(pattern: str) -> list[str] | None:
    """The alternatives of ``^(a|b|...)\\Z`` whose group spans the whole pattern, or None."""
    if not (pattern.startswith("^(") and pattern.endswith(")\\Z")) or pattern.startswith("^(?"):
        return None
    body, depth, parts, start, at = pattern[2:-3], 0, [], 0, 0
    while at < len(body):
        char = body[at]
        if char == "\\":
            at += 1
        elif char == "[":
            close = _CLASS.match(body, at)
            if close is None:
                return None
            at = close.end() - 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None  # the first group closes before the end: not one group around everything
        elif char == "|" and depth == 0:
            parts.append(body[start:at])
            start = at + 1
        at += 1
    return [*parts, body[start:]] if depth == 0 and parts else None


_CLASS = re.compile(r"\[((?:[^\\\]\[^]|\\[^A-Za-z0-9])(?:[^\\\]\[]|\\[^A-Za-z0-9])*)\]")  # [...]: no negation, no \d-like escapes
_LITERAL = re.compile(r"(?:[A-Za-z0-9_/:\-]|\\[^A-Za-z0-9])*")  # plain characters, or escaped punctuation


def _chars(body: str) -> str | None:
    """The characters of a class body (``A-Za-z0-9_.\\-``), sorted; None for anything but ASCII ranges and escapes."""
    items = re.findall(r"\\(.)|(.)-(.)|(.)", body)
    found: set[str] = set()
    for escaped, low, high, single in items:
        if low:
            if ord(low) > ord(high) or not (low + high).isascii():
                return None
            found |= {chr(c) for c in range(ord(low), ord(high) + 1)}
        else:
            found.add(escaped or single)
    return "".join(sorted(found)) if found and "".join(found).isascii() else None


def _word(pattern: str) -> _Word | None:
    """``^prefix[first][rest]*suffix\\Z``, ``^[chars]+\\Z`` or ``^[chars]{n}\\Z`` as a Word, or None (a regex then)."""
    lead = re.match(r"\^((?:[A-Za-z0-9_/:\-]|\\[^A-Za-z0-9])*)\[", pattern)
    if lead is None or not pattern.endswith("\\Z"):
        return None
    prefix = re.sub(r"\\(.)", r"\1", lead.group(1))
    head = _CLASS.match(pattern, lead.end() - 1)
    first = _chars(head.group(1)) if head else None
    if head is None or first is None:
        return None
    rest_at = head.end()
    if (count := re.fullmatch(r"\{([1-9][0-9]*)\}\\Z", pattern[rest_at:])) is not None:
        return _Word(first, first, "", int(count.group(1)), prefix)
    if pattern[rest_at:] == "+\\Z":
        return _Word(first, first, "", None, prefix)
    tail = _CLASS.match(pattern, rest_at)
    rest = _chars(tail.group(1)) if tail else None
    if tail is None or rest is None or pattern[tail.end() : tail.end() + 1] != "*":
        return None
    suffix = pattern[tail.end() + 1 : -2]
    if _LITERAL.fullmatch(suffix) is None:
        return None
    return _Word(first, rest, re.sub(r"\\(.)", r"\1", suffix), None, prefix)


class _Numerals:
    """``^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)...\\Z`` (the spec version) as a ``schema_rt.Numerals``."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __repr__(self) -> str:
        return f"_rt.Numerals({self.count})"


_NUMERAL = "(0|[1-9][0-9]*)"


def _numerals(pattern: str) -> _Numerals | None:
    count = pattern.count(_NUMERAL)
    return _Numerals(count) if count and pattern == "^" + "\\.".join([_NUMERAL] * count) + "\\Z" else None


def matcher(pattern: str) -> _Word | _AnyOf | _Numerals | _Pattern:
    """The constant a generated check matches ``pattern`` (already in Python's syntax) with: a Word where it fits,
    Numerals for dotted decimal numbers, an AnyOf of its alternatives where one of them fits, else a Lazy regex."""
    numerals = _numerals(pattern)
    if numerals is not None:
        return numerals
    word = _word(pattern)
    if word is not None:
        return word
    alternatives = _alternatives(pattern)
    if alternatives is not None:
        parts = [_word(f"^{a}\\Z") or _Pattern(f"^(?:{a})\\Z") for a in alternatives]
        if any(isinstance(p, _Word) for p in parts):
            return _AnyOf(parts)
    return _Pattern(pattern)


class _Pattern:
    """Any other pattern: a ``schema_rt.Lazy``, compiled on its first search (a document that never reaches it, as
    one without composites or custom types, compiles nothing)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"_rt.Lazy({self.text!r})"
