"""Sizes computed from file-controlled shapes, and the format's bound on them (spec/limits.md).

A shape dimension, and the product of a shape's non-zero dimensions, is at most 2^53 - 1: the
largest integer every JSON reader represents exactly (RFC 7493), and small enough that an
element count times any item size stays inside a signed 64-bit integer, which NumPy, ONNX
and C readers index with. A zero-size tensor with a dimension of 2^64 is refused by this rule
before NumPy can fail on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_DIMENSION = 2**53 - 1


def shape_problem(shape: Sequence[int | None]) -> str | None:
    """Why ``shape`` breaks the format's bound, or None; unknown (None) dimensions are skipped."""
    product = 1
    for dim in shape:
        if dim is None or dim == 0:
            continue
        if dim > MAX_DIMENSION:
            return f"dimension {dim} exceeds 2^53 - 1"
        product *= dim
        if product > MAX_DIMENSION:
            return f"shape {list(shape)} has more than 2^53 - 1 elements"
    return None


def elements(shape: Sequence[int | None]) -> int:
    """Element count, taking an unknown dimension as 1 (a lower bound for any non-empty tensor)."""
    return math.prod(1 if d is None else d for d in shape)


def human(count: int) -> str:
    """``12884901888`` → ``'12.0 GiB'``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{count} B"
