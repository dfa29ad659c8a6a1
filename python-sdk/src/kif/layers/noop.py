"""Training-only layers that are the identity at inference (spec/layers/<Type>.md).

Dropout, SpatialDropout{1,2,3}D, GaussianNoise, GaussianDropout, AlphaDropout and
ActivityRegularization keep their attributes so that a converted graph stays whole
and can be converted back; a runtime returns the input unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer


class _Identity:
    rank: int | None = None  # the required input rank, if any

    @classmethod
    def infer(cls, attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        if cls.rank is not None and len(x.shape) != cls.rank:
            raise ShapeError(f"expected input of rank {cls.rank}. Received: shape {list(x.shape)}")
        noise_shape = attrs.get("noise_shape")
        if noise_shape is not None and len(noise_shape) != len(x.shape):
            raise ShapeError(f"expected noise_shape of the input's rank. Received: noise_shape={noise_shape}, input shape {list(x.shape)}")
        return [x]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0]]


@register_layer("Dropout")
class Dropout(_Identity):
    pass


@register_layer("SpatialDropout1D")
class SpatialDropout1D(_Identity):
    rank = 3


@register_layer("SpatialDropout2D")
class SpatialDropout2D(_Identity):
    rank = 4


@register_layer("SpatialDropout3D")
class SpatialDropout3D(_Identity):
    rank = 5


@register_layer("GaussianNoise")
class GaussianNoise(_Identity):
    pass


@register_layer("GaussianDropout")
class GaussianDropout(_Identity):
    pass


@register_layer("AlphaDropout")
class AlphaDropout(_Identity):
    pass


@register_layer("ActivityRegularization")
class ActivityRegularization(_Identity):
    pass
