"""Private helpers for layers over spatial axes: data_format handling, dims and dtype rules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kif.graph import Shape
from kif.layers.registry import ShapeError, TensorType

FLOAT_NAMES = ("float64", "float32", "float16", "bfloat16")


def is_float(dtype: str | np.dtype) -> bool:
    """KIF floating dtypes; bfloat16 (ml_dtypes) is not an np.floating subtype, so test by name."""
    return np.dtype(dtype).name in FLOAT_NAMES if not isinstance(dtype, str) else dtype in FLOAT_NAMES


def spatial_input(inputs: Sequence[TensorType | None], n: int) -> TensorType:
    """The single input of an n-D spatial layer: rank n + 2."""
    if len(inputs) < 1 or inputs[0] is None:
        raise ShapeError(f"expected one input. Received: {len(inputs)}")
    x = inputs[0]
    if len(x.shape) != n + 2:
        raise ShapeError(f"expected input of rank {n + 2}. Received: shape {list(x.shape)}")
    return x


def split(shape: Shape, data_format: str) -> tuple[int | None, list[int | None], int | None]:
    """(batch, spatial dims, channels) of a data tensor shape."""
    if data_format == "channels_first":
        return shape[0], list(shape[2:]), shape[1]
    return shape[0], list(shape[1:-1]), shape[-1]


def join(batch: int | None, spatial: Sequence[int | None], channels: int | None, data_format: str) -> Shape:
    if data_format == "channels_first":
        return (batch, channels, *spatial)
    return (batch, *spatial, channels)


def to_last(x: np.ndarray, data_format: str) -> np.ndarray:
    """channels_first → channels_last (a view)."""
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def from_last(y: np.ndarray, data_format: str) -> np.ndarray:
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def spatial_axes(rank: int, data_format: str) -> list[int]:
    return list(range(2, rank)) if data_format == "channels_first" else list(range(1, rank - 1))


def float_dtype(dtype: str) -> str:
    """The compute/output dtype of preprocessing layers: floats keep theirs, anything else becomes float32."""
    return dtype if is_float(dtype) else "float32"
