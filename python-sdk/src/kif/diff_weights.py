"""``kif diff``, weights part: compare two tensors by bytes, then by value.

Identical bytes are found without converting anything. Otherwise, for tensors of the same shape and dtype, the values
are compared in float64 a piece at a time (never two whole float64 copies of a large tensor):

- ``max_abs_diff`` = max |a - b|;
- ``max_rel_diff`` = max |a - b| / max(|a|, |b|) over the elements where that is not 0/0 (so it lies in [0, 2]);
- ``elements_differing``: how many elements are not equal (NaN equals NaN at the same place).

A NaN against a number, or infinities of different sign, make the differences infinite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_PIECE = 1 << 20  # elements per comparison step


def _flat(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).reshape(-1)


def _as_float(piece: np.ndarray) -> np.ndarray:
    return piece.astype(np.float64)


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """``{status: identical|changed|reshaped, ...}`` for two tensors (see the module docstring for the numbers)."""
    dtype_a, dtype_b = _dtype_name(a), _dtype_name(b)
    if tuple(a.shape) != tuple(b.shape) or dtype_a != dtype_b:
        return {"status": "reshaped", "a_shape": list(a.shape), "b_shape": list(b.shape), "a_dtype": dtype_a, "b_dtype": dtype_b}
    flat_a, flat_b = _flat(a), _flat(b)
    if _same_bytes(flat_a, flat_b):
        return {"status": "identical", "shape": list(a.shape), "dtype": dtype_a}
    max_abs = max_rel = 0.0
    differing = 0
    for start in range(0, flat_a.size, _PIECE):
        pa, pb = _as_float(flat_a[start : start + _PIECE]), _as_float(flat_b[start : start + _PIECE])
        both_nan = np.isnan(pa) & np.isnan(pb)
        equal = (pa == pb) | both_nan
        differing += int(np.count_nonzero(~equal))
        if equal.all():
            continue  # e.g. -0.0 against 0.0: different bytes, equal values
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            delta = np.where(equal, 0.0, np.abs(pa - pb))
            delta = np.where(np.isnan(delta), np.inf, delta)  # NaN against a number, or inf - inf
            scale = np.maximum(np.abs(pa), np.abs(pb))
            rel = np.where(equal, 0.0, np.where(scale > 0, delta / np.where(scale > 0, scale, 1.0), np.inf))
            rel = np.where(np.isnan(rel), np.inf, rel)
        max_abs = max(max_abs, float(delta.max()))
        max_rel = max(max_rel, float(rel.max()))
    return {
        "status": "changed",
        "shape": list(a.shape),
        "dtype": dtype_a,
        "max_abs_diff": max_abs,
        "max_rel_diff": max_rel,
        "elements_differing": differing,
        "elements": int(flat_a.size),
    }


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    bytes_a, bytes_b = a.view(np.uint8), b.view(np.uint8)
    step = _PIECE * 8
    return all(np.array_equal(bytes_a[i : i + step], bytes_b[i : i + step]) for i in range(0, bytes_a.size, step))


def _dtype_name(array: np.ndarray) -> str:
    from kif import dtypes

    try:
        return dtypes.from_numpy(array.dtype).name
    except Exception:  # a dtype KIF does not name (cannot come from a valid bundle): NumPy's name
        return str(array.dtype)
