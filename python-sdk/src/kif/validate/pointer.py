"""JSON pointers (RFC 6901) for finding locations."""

from __future__ import annotations

from collections.abc import Iterable


def pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def join(parts: Iterable[object]) -> str:
    return pointer(*parts)
