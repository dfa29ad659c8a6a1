"""CategoryEncoding: one-hot, multi-hot or count encoding of category ids (spec/layers/CategoryEncoding.md).

Floating ids are truncated toward zero first (TensorFlow's cast); every id MUST then lie in [0, num_tokens).
An optional second input (Keras's ``count_weights``, count mode only) holds a float32 weight per id.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


def _numeric(dtype: str) -> bool:
    return dtype != "bool" and not dtype.startswith("complex") and not dtype.startswith("string")


def _check_count_weights(attrs: dict[str, Any], x: TensorType, w: TensorType) -> None:
    if attrs["output_mode"] != "count":
        raise ShapeError(f"expected output_mode 'count' with count_weights (a second input). Received: {attrs['output_mode']!r}")
    if not _numeric(w.dtype):
        raise ShapeError(f"expected integer or floating count_weights. Received: {w.dtype}")
    same = len(w.shape) == len(x.shape) and all(a is None or b is None or a == b for a, b in zip(w.shape, x.shape, strict=True))
    if not same:
        raise ShapeError(f"expected count_weights of the ids' shape {list(x.shape)}. Received: {list(w.shape)}")


def weighted_count(ids: np.ndarray, w: np.ndarray, depth: int) -> np.ndarray:
    """y[b, j] = sum of float32(w[b, l]) over the l with ids[b, l] == j, added in order of l (as TF's bincount)."""
    out = np.zeros((ids.shape[0], depth), np.float32)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    np.add.at(out, (rows, ids.reshape(-1)), w.astype(np.float32).reshape(-1))
    return out


@register_layer("CategoryEncoding")
class CategoryEncoding:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        if not 1 <= len(inputs) <= 2 or any(t is None for t in inputs):
            raise ShapeError(f"expected the ids and optionally count_weights. Received: {len(inputs)} input(s)")
        x = inputs[0]
        assert x is not None
        if not _numeric(x.dtype):
            raise ShapeError(f"expected integer or floating category ids. Received: {x.dtype}")
        out = output(x, attrs["output_mode"], attrs["num_tokens"], "CategoryEncoding")
        if len(inputs) == 2:
            assert inputs[1] is not None
            _check_count_weights(attrs, x, inputs[1])
        return out

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        ids = to_ids(np.asarray(x))
        check_ids(ids, attrs["num_tokens"])
        if len(inputs) == 2 and inputs[1] is not None:
            w = np.asarray(inputs[1])
            if w.shape != ids.shape:
                raise ValueError(f"expected count_weights of the ids' shape {list(ids.shape)}. Received: {list(w.shape)}")
            return [weighted_count(ids, w, attrs["num_tokens"])]
        return [encode(ids, attrs["output_mode"], attrs["num_tokens"])]
