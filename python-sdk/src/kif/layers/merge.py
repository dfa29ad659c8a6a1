"""Concatenate (spec/layers/Concatenate.md); the element-wise merges live in merge_more.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import norm_axis
from kif.layers.registry import ShapeError, TensorType, register_layer


def _all(inputs: list[TensorType | None]) -> list[TensorType]:
    present = [t for t in inputs if t is not None]
    if len(present) < 2:
        raise ShapeError(f"expected at least two inputs. Received: {len(present)}")
    return present


def _merge_dim(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise ShapeError(f"dimensions {a} and {b} do not match")


@register_layer("Concatenate")
class Concatenate:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        present = _all(inputs)
        rank = len(present[0].shape)
        if any(len(t.shape) != rank for t in present):
            raise ShapeError(f"expected inputs of the same rank. Received: {[list(p.shape) for p in present]}")
        axis = norm_axis(attrs["axis"], rank)
        shape = list(present[0].shape)
        for t in present[1:]:
            for i, d in enumerate(t.shape):
                if i == axis:
                    shape[i] = None if shape[i] is None or d is None else shape[i] + d
                else:
                    try:
                        shape[i] = _merge_dim(shape[i], d)
                    except ShapeError:
                        raise ShapeError(f"inputs differ off the concatenation axis: {[list(p.shape) for p in present]}") from None
        return [TensorType(present[0].dtype, tuple(shape))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.concatenate([x for x in inputs if x is not None], axis=attrs["axis"])]
