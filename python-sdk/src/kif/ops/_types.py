"""Shape and dtype rules shared by the primitive ops: NumPy broadcasting over unknown dims, dtype classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kif.graph import Shape
from kif.layers.registry import ShapeError, TensorType

FLOATS = frozenset({"float16", "bfloat16", "float32", "float64"})
INTS = frozenset({"int8", "int16", "int32", "int64", "uint8"})
DTYPES = sorted(FLOATS | INTS | {"bool"})


def present(inputs: Sequence[TensorType | None], low: int, high: int | None) -> list[TensorType]:
    if not low <= len(inputs) <= (high if high is not None else len(inputs)) or any(t is None for t in inputs):
        expected = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        raise ShapeError(f"expected {expected} inputs. Received: {len(inputs)}")
    return list(inputs)  # type: ignore[arg-type]


def accept(t: TensorType, kind: str, what: str = "input") -> None:
    """``kind``: float (floating dtypes), numeric (no bool), bool, any."""
    ok = {"float": t.dtype in FLOATS, "numeric": t.dtype != "bool", "bool": t.dtype == "bool"}.get(kind, True)
    if not ok:
        raise ShapeError(f"expected a {kind} {what}. Received: dtype={t.dtype}")


def same_dtype(types: Sequence[TensorType]) -> str:
    dtypes = sorted({t.dtype for t in types})
    if len(dtypes) != 1:
        raise ShapeError(f"expected inputs of one dtype (cast one with op.cast). Received: dtypes {dtypes}")
    return dtypes[0]


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """NumPy broadcasting: align on the right; a size-1 dim stretches; null (unknown) matches any size."""
    rank = max(len(s) for s in shapes)
    out: list[int | None] = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"expected shapes that broadcast. Received: {[list(s) for s in shapes]}")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def compute(x: np.ndarray) -> np.ndarray:
    """Half-precision floats compute in float32 (the result is rounded back by the caller)."""
    return x.astype(np.float32) if (x.dtype.kind == "f" and x.dtype.itemsize < 4) or x.dtype.name == "bfloat16" else x


__all__ = ["DTYPES", "FLOATS", "INTS", "accept", "broadcast", "compute", "present", "same_dtype"]
