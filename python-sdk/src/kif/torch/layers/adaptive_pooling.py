"""Converters for Adaptive{Average,Max}Pooling{1,2,3}D: PyTorch's adaptive pools have the spec's windows exactly."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, from_first, to_first

_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}


def _adaptive(dims: int, mode: str):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: dict[str, np.ndarray]) -> nn.Module:
        fmt, size = layer.attributes["data_format"], list(layer.attributes["output_size"])

        def pooling(m: Fn, x: Tensor) -> Tensor:
            xf = to_first(x, fmt)
            if mode == "average":
                return from_first(_AVG[dims](xf, size), fmt)
            if not xf.is_floating_point():  # torch max-pools floats only; int32 and smaller are exact in float64
                return from_first(_MAX[dims](xf.to(torch.float64), size).to(xf.dtype), fmt)
            return from_first(_MAX[dims](xf, size), fmt)

        return Fn(pooling)

    return convert


for _n in (1, 2, 3):
    converter(f"AdaptiveAveragePooling{_n}D")(_adaptive(_n, "average"))
    converter(f"AdaptiveMaxPooling{_n}D")(_adaptive(_n, "max"))
