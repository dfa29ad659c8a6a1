"""Identity and Flatten (spec/layers/Identity.md, Flatten.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import TensorType, register_layer


@register_layer("Identity")
class Identity:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return [only(inputs)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0]]


@register_layer("Flatten")
class Flatten:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        rest = x.shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)  # type: ignore[arg-type]
        return [TensorType(x.dtype, (x.shape[0], size))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        if attrs["data_format"] == "channels_first" and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return [x.reshape(x.shape[0], -1)]
