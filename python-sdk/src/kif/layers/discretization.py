"""Discretization: TensorFlow's Bucketize, then optionally CategoryEncoding's encoding (spec/layers/Discretization.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers._encoding import encode, output
from kif.layers.registry import ShapeError, TensorType, register_layer


def boundaries(attrs: dict[str, Any]) -> np.ndarray:
    return np.asarray(attrs["bin_boundaries"], np.float64).astype(np.float32).reshape(-1)


def bucketize(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """#{k : not (x < b[k])} as int64: the count of boundaries <= x, and len(b) for NaN."""
    xf = np.asarray(x).astype(np.float32)
    ids = np.searchsorted(b, xf, side="right").astype(np.int64)
    return np.where(np.isnan(xf), len(b), ids)


@register_layer("Discretization")
class Discretization:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if x.dtype == "bool" or x.dtype.startswith("complex"):
            raise ShapeError(f"expected an integer or floating input. Received: {x.dtype}")
        b = boundaries(attrs)
        if np.isnan(b).any():
            raise ShapeError("expected bin_boundaries without NaN")
        if b.size > 1 and bool((np.diff(b) < 0).any()):
            raise ShapeError(f"expected bin_boundaries in non-decreasing order. Received: {attrs['bin_boundaries']}")
        if attrs["output_mode"] == "int":
            return [TensorType(attrs["output_dtype"], tuple(x.shape))]
        return output(x, attrs["output_mode"], b.size + 1, "Discretization")

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        b = boundaries(attrs)
        ids = bucketize(x, b)
        if attrs["output_mode"] == "int":
            return [ids.astype(attrs["output_dtype"])]
        return [encode(ids, attrs["output_mode"], b.size + 1)]
