"""JSON pointers (RFC 6901) for finding locations."""

from __future__ import annotations

from collections.abc import Iterable


def pointer(*parts: object) -> str:
    text = "/".join(map(str, parts))
    if "~" in text or text.count("/") != len(parts) - 1:  # a part holds "~" or "/": escape part by part
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + text if parts else ""


def join(parts: Iterable[object]) -> str:
    return pointer(*parts)
