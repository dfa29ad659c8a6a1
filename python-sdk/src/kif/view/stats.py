"""Weight statistics for ``kif view``: min, max, mean, std and a small histogram, computed once at build time.

Bounded work: a tensor with more than ``max_sample`` elements is summarised from an evenly strided sample (the page
says so), so a 1 GB embedding costs the same as a 1 MB one. Non-finite values are counted, never folded into the
numbers (one NaN would otherwise make every statistic NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_SAMPLE = 1 << 18  # elements read per tensor at most
BINS = 16


def sample(array: np.ndarray, max_sample: int = MAX_SAMPLE) -> tuple[np.ndarray, bool]:
    """The flattened values as float64, or an evenly strided subset of at most ``max_sample`` of them."""
    flat = np.asarray(array).reshape(-1)
    sampled = flat.size > max_sample
    if sampled:
        step = -(-flat.size // max_sample)  # ceil: at most max_sample elements
        flat = flat[::step]
    return np.asarray(flat, dtype=np.float64), sampled


def tensor_stats(array: np.ndarray, max_sample: int = MAX_SAMPLE) -> dict[str, Any]:
    """Statistics of one tensor as plain JSON data (``None`` where a value does not exist, e.g. an empty tensor)."""
    values, sampled = sample(array, max_sample)
    finite = values[np.isfinite(values)]
    out: dict[str, Any] = {
        "count": int(values.size),
        "sampled": sampled,
        "nan": int(np.isnan(values).sum()),
        "inf": int(np.isinf(values).sum()),
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "histogram": None,
    }
    if finite.size == 0:
        return out
    lo, hi = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=BINS, range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
    out.update(
        min=lo,
        max=hi,
        mean=float(finite.mean()),
        std=float(finite.std()),
        histogram={"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]},
    )
    return out
