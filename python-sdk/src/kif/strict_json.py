"""JSON as KIF reads it everywhere (model.json, safetensors headers): strict RFC 8259.

Python's json module accepts repeated object keys (the last wins), NaN/Infinity, and numbers
like 1e999 that overflow to infinity; each would let two readers see different documents, so
each raises ValueError here.
"""

from __future__ import annotations

import json
import math
from typing import Any


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


def loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite)
