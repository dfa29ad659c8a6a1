"""Dense: y = activation(x @ kernel + bias) on the last axis (spec/layers/Dense.md).

kernel has layout [in, units]; x may have any rank >= 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer


@register_layer("Dense")
class Dense:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if len(x.shape) < 2:
            raise ShapeError(f"expected input of rank >= 2. Received: shape {list(x.shape)}")
        kernel = weights.get("kernel")
        if kernel is not None:
            if kernel[1] != attrs["units"]:
                raise ShapeError(f"expected kernel [in, {attrs['units']}]. Received: kernel shape {list(kernel)}")
            if x.shape[-1] is not None and kernel[0] != x.shape[-1]:
                raise ShapeError(f"kernel expects last input axis {kernel[0]}. Received: input shape {list(x.shape)}")
        bias = weights.get("bias")
        if bias is not None and bias != (attrs["units"],):
            raise ShapeError(f"expected bias [{attrs['units']}]. Received: bias shape {list(bias)}")
        return [TensorType(x.dtype, (*x.shape[:-1], attrs["units"]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        y = np.matmul(x, weights["kernel"].astype(x.dtype, copy=False))
        if attrs["use_bias"]:
            y += weights["bias"].astype(x.dtype, copy=False)  # in place: y is matmul's fresh result
        from kif.layers import activations  # imported by the first run, not by an open (shape inference needs none)

        # ml_dtypes' matmul of bfloat16 gives float32: round once, after the activation, to the input's dtype
        return [activations.apply_fresh(attrs["activation"], y).astype(x.dtype, copy=False)]  # y is matmul's own
