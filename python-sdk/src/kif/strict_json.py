"""JSON as KIF reads it everywhere (model.json, safetensors headers): strict RFC 8259.

Python's json module accepts repeated object keys (the last wins), NaN/Infinity, and numbers
like 1e999 that overflow to infinity; each would let two readers see different documents, so
each raises ValueError here. So do two things JSON's grammar allows but KIF does not
(spec/limits.md): nesting deeper than ``max_nesting_depth`` (Python would recurse until
RecursionError) and ``\\uD800``-style escapes of lone UTF-16 surrogates, which are not
Unicode text and crash whatever later encodes the string (printing, saving, ONNX export).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

# Patterns, not compiled ones: re compiles each on its first use (and caches it), so an open whose text has no
# escape or deep nesting compiles none (five compiles cost a fresh process about 0.4 ms).
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F]"
_LONE_SURROGATE = "[\ud800-\udfff]"
_SPACE = " \t\n\r"  # JSON's whitespace (RFC 8259), what json.decoder's WHITESPACE pattern skips


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate object key {key!r}")
        out[key] = value
    return out


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _integer(text: str) -> int:
    """An integer literal; beyond binary64's finite range (as 1e999 is) it means different numbers to different readers."""
    value = int(text)
    if len(text) > 300 and abs(value) >= _BINARY64_OVERFLOW:
        raise ValueError(f"integer {text[:20]}... is out of the binary64 range")
    return value


_BINARY64_OVERFLOW = 2**1024 - 2**970  # the smallest magnitude that rounds to infinity in binary64


def loads(text: str, *, max_depth: int | None = None) -> Any:
    """Parse ``text``; ``max_depth`` defaults to the ``max_nesting_depth`` limit in force."""
    if max_depth is None:
        from kif import limits

        max_depth = limits.current().max_nesting_depth
    # Brackets bound the depth from above: most small documents skip the walk below.
    deep = text.count("[") + text.count("{") > max_depth
    try:
        value = _decode(text, _strict_scanner)
    except RecursionError:
        raise ValueError(f"nesting deeper than {max_depth} levels (the max_nesting_depth limit)") from None
    if deep:
        if len(text) < _WALK_BELOW:
            _walk(value, max_depth, False)
        elif _depth(text) > max_depth:
            raise ValueError(f"nesting deeper than {max_depth} levels (the max_nesting_depth limit)")
    if "\\u" in text and re.search(_SURROGATE_ESCAPE, text) is not None:
        _walk(value, max_depth, True)
    return value


_CONSTANTS = {"-Infinity": -math.inf, "Infinity": math.inf, "NaN": math.nan}  # json's own, for loads_plain


class _Hooks:
    """What json's C scanner (``_json.make_scanner``) reads from a ``json.JSONDecoder``: the same settings here."""

    __slots__ = ("memo", "object_hook", "object_pairs_hook", "parse_constant", "parse_float", "parse_int", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict, self.object_hook, self.memo = True, None, {}
        self.object_pairs_hook = _object if strict else None
        self.parse_constant: Callable[[str], Any] = _constant if strict else _CONSTANTS.__getitem__
        self.parse_float: Callable[[str], Any] = _finite if strict else float
        self.parse_int: Callable[[str], Any] = _integer if strict else int


def _scanner(strict: bool) -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner
    except ImportError:  # an interpreter without json's C accelerator: the json package parses
        return None
    scan: Callable[[str, int], tuple[Any, int]] = make_scanner(_Hooks(strict))
    return scan


# The scanner json.loads would use, called directly: importing the json package (decoder, encoder and scanner
# modules, six regexes) costs a fresh process about 1 ms, as much as the rest of a small open. Values are json's.
_strict_scanner = _scanner(True)
_plain_scanner = _scanner(False)


def _decode(text: str, scan: Callable[[str, int], tuple[Any, int]] | None) -> Any:
    """``json.loads(text)`` with the scanner's settings. Text the scanner does not take whole (no value, extra data,
    a BOM) is handed to json.loads itself, so that its error is json's, word for word."""
    if scan is not None and text[:1] != "\ufeff":
        try:
            value, end = scan(text, len(text) - len(text.lstrip(_SPACE)))
        except StopIteration:
            pass  # no value where one is expected: json.loads below says where
        else:
            if len(text.rstrip(_SPACE)) <= end:
                return value
    import json

    if scan is _strict_scanner:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite, parse_int=_integer)
    return json.loads(text)


def loads_plain(text: str) -> Any:
    """``json.loads(text)`` as is (duplicate keys, NaN and any depth accepted): for KIF's own schema files."""
    return _decode(text, _plain_scanner)


# Below this many characters the parsed value is walked to measure its depth: 35 us for a 6 KB model.json, where
# _depth's regex passes take 100 us and their compile 0.5 ms in a fresh process. Larger texts keep the regex passes.
_WALK_BELOW = 1 << 16
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'  # the unrolled form of "(?:[^"\\]|\\.)*": same strings, 2x faster
_NOT_BRACKET = r"[^\[\]{}]+"
_INNERMOST = r"\[\]|\{\}"


def _depth(text: str) -> int:
    """Nesting depth of valid JSON text: strip strings and all but brackets, then peel innermost pairs.

    Each pass is one C-speed regex substitution; there are as many passes as levels.
    """
    brackets = re.sub(_NOT_BRACKET, "", re.sub(_STRING, "", text))
    depth = 0
    while brackets:
        brackets, count = re.subn(_INNERMOST, "", brackets)
        if count == 0:
            break  # cannot happen for text json.loads accepted; never loop forever
        depth += 1
    return depth


def _walk(value: Any, max_depth: int, surrogates: bool) -> None:
    """Iteratively check depth and, if escapes were seen, every string for a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise ValueError(f"nesting deeper than {max_depth} levels (the max_nesting_depth limit)")
            for key, child in item.items():
                if surrogates:
                    check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise ValueError(f"nesting deeper than {max_depth} levels (the max_nesting_depth limit)")
            stack.extend((child, depth + 1) for child in item)
        elif surrogates and isinstance(item, str):
            check_text(item)


def check_text(text: str) -> None:
    if re.search(_LONE_SURROGATE, text):
        shown = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")  # printable as is
        raise ValueError(f"string {shown!r} holds a lone UTF-16 surrogate (\\uD800-\\uDFFF escape without its pair)")
