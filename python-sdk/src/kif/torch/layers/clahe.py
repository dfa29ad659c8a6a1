"""ContrastLimitedAdaptiveHistogramEqualization: refused with the reason; the support matrix shows it as not supported."""

from __future__ import annotations

import numpy as np
from torch import nn

from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.torch.layers import converter

REASON = "per-tile 256-bin histograms with a per-pixel gather of four tile mappings are not implemented in kif.torch"


@converter("ContrastLimitedAdaptiveHistogramEqualization")
def _refuse(layer: Layer, weights: dict[str, np.ndarray]) -> nn.Module:
    raise UnsupportedLayerError(
        f"kif.torch cannot convert layer {layer.name!r} ({layer.type}): {REASON}", code="layer-unsupported", pointer=layer.name
    )
