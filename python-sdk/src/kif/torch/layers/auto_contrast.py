"""AutoContrast (spec/layers/AutoContrast.md) as torch operations, step for step."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


@converter("AutoContrast")
def _auto_contrast(layer: Layer, w: W) -> nn.Module:
    lo, hi = (float(v) for v in layer.attributes["value_range"])
    mapped = not (lo == 0 and hi == 255)

    def auto_contrast(m: Fn, x: Tensor) -> Tensor:
        original = x if x.is_floating_point() else x.to(torch.float32)
        u = (original - lo) / (hi - lo) * 255.0 if mapped else original
        low = torch.amin(u, dim=(1, 2), keepdim=True)
        high = torch.amax(u, dim=(1, 2), keepdim=True)
        scale = 255.0 / (high - low)
        r = torch.clamp(u * scale + (-low) * scale, 0.0, 255.0)
        v = r / 255.0 * (hi - lo) + lo if mapped else r
        return torch.where(torch.isnan(v), original, v)

    return Fn(auto_contrast)
