"""CategoryEncoding: one-hot, multi-hot or count encoding of category ids (spec/layers/CategoryEncoding.md).

Floating ids are truncated toward zero first (TensorFlow's cast); every id MUST then lie in [0, num_tokens).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._encoding import check_ids, encode, output
from kif.layers.registry import ShapeError, TensorType, register_layer


def to_ids(x: np.ndarray) -> np.ndarray:
    """Category ids as int64: floats truncated toward zero; NaN and infinities are refused."""
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError("expected finite category ids. Received: NaN or infinity")
        if x.size and np.abs(x).max() >= 2.0**62:
            raise ValueError(f"expected ids in int64 range. Received: {float(np.abs(x).max())}")
        return np.trunc(x).astype(np.int64)
    return x.astype(np.int64)


@register_layer("CategoryEncoding")
class CategoryEncoding:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if x.dtype == "bool" or x.dtype.startswith("complex"):
            raise ShapeError(f"expected integer or floating category ids. Received: {x.dtype}")
        return output(x, attrs["output_mode"], attrs["num_tokens"], "CategoryEncoding")

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        ids = to_ids(np.asarray(x))
        check_ids(ids, attrs["num_tokens"])
        return [encode(ids, attrs["output_mode"], attrs["num_tokens"])]
