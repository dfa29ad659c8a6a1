"""Masking: mark the steps whose features all equal mask_value (spec/layers/Masking.md).

keep[..., t] = any(x[..., t, :] != mask_value); y = x where keep, else 0. Outputs [y, keep]:
the mask is an explicit bool tensor that mask-consuming layers take as their trailing input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only, require_rank
from kif.layers.registry import ShapeError, TensorType, register_layer


@register_layer("Masking")
class Masking:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        require_rank(x, 2, 64)
        if x.dtype == "bool":
            raise ShapeError("expected a numeric input. Received: dtype bool")
        return [x, TensorType("bool", x.shape[:-1])]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        # a floating input compares with mask_value rounded to its dtype (as Keras does); NaN never matches
        value = x.dtype.type(attrs["mask_value"]) if np.issubdtype(x.dtype, np.inexact) or x.dtype.kind == "V" else attrs["mask_value"]
        keep = np.any(x != value, axis=-1)
        return [np.where(keep[..., None], x, np.zeros((), x.dtype)), keep]
