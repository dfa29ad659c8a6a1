"""Tensors whose bytes are produced only when the writer streams them.

Converters hand the writer ``DeferredTensor`` objects (dtype and shape known up
front, data loaded on demand), so writing a bundle holds one tensor in memory at a
time instead of the whole model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


class DeferredTensor:
    """``mapped``: ``load`` returns a view of a file mapping (no memory of its own, e.g. kif.keras.h5direct), so the
    writer may make it ahead of its turn and hash it on another core while earlier tensors are written."""

    def __init__(self, dtype: np.dtype | str, shape: tuple[int, ...], load: Callable[[], np.ndarray], *, mapped: bool = False) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self._load = load
        self.mapped = mapped

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.asarray(self._load())
        if array.shape != self.shape or array.dtype != self.dtype:
            raise ValueError(f"deferred tensor produced {array.dtype}{list(array.shape)}, declared {self.dtype}{list(self.shape)}")
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"DeferredTensor({self.dtype}, {list(self.shape)})"
