"""The category encoding shared by CategoryEncoding, Discretization and IntegerLookup (spec/layers/CategoryEncoding.md).

``encode(ids, mode, depth)``: one_hot gives a vector per id (on a new last axis, or on the last axis when it has
size 1); multi_hot and count reduce the last axis of a rank-2 input to ``depth`` slots. ids MUST lie in [0, depth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers.registry import ShapeError, TensorType


def encoded_shape(shape: tuple[int | None, ...], mode: str, depth: int, layer: str) -> tuple[int | None, ...]:
    if len(shape) < 1:
        raise ShapeError(f"expected an input of rank >= 1. Received: rank {len(shape)}")
    if mode == "one_hot":
        return (*shape[:-1], depth) if len(shape) >= 2 and shape[-1] == 1 else (*shape, depth)
    if len(shape) != 2:  # rank 1: Keras counts over the batch axis; rank 3+: Keras 3 over axis 1, against its own shape rule
        raise ShapeError(f"expected an input of rank 2 for {layer} output_mode={mode!r} ([batch, ids]). Received: rank {len(shape)}")
    return (*shape[:-1], depth)


def check_ids(ids: np.ndarray, depth: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= depth):
        bad = ids[(ids < 0) | (ids >= depth)]
        raise ValueError(f"expected ids in [0, {depth}). Received: {bad.size} id(s) out of range, e.g. {int(bad.flat[0])}")


def encode(ids: np.ndarray, mode: str, depth: int, dtype: Any = np.float32, drop_negative: bool = False) -> np.ndarray:
    """ids: an int64 array already checked to lie in [0, depth); with ``drop_negative``, ids of -1 (IntegerLookup's
    masked tokens) count nowhere (a zero vector in one_hot)."""
    if mode == "one_hot" and ids.ndim >= 2 and ids.shape[-1] == 1:
        ids = ids[..., 0]
    keep = ids >= 0 if drop_negative else np.ones(ids.shape, bool)
    safe = np.where(keep, ids, 0)
    if mode == "one_hot":
        out = np.zeros((*ids.shape, depth), dtype=dtype)
        np.put_along_axis(out, safe[..., None], keep[..., None].astype(dtype), axis=-1)
        return out
    rows, kept = safe.reshape(-1, ids.shape[-1]), keep.reshape(-1, ids.shape[-1])
    counts = np.zeros((rows.shape[0], depth), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(rows.shape[0]), rows.shape[1]), rows.reshape(-1)), kept.reshape(-1).astype(np.int64))
    if mode == "multi_hot":
        counts = np.minimum(counts, 1)
    return counts.astype(dtype).reshape(*ids.shape[:-1], depth)


def output(x: TensorType, mode: str, depth: int, layer: str, dtype: str = "float32") -> list[TensorType]:
    return [TensorType(dtype, encoded_shape(tuple(x.shape), mode, depth, layer))]
