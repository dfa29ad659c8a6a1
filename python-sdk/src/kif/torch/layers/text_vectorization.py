"""TextVectorization has no torch form: torch tensors hold numbers only, never the strings this layer reads."""

from __future__ import annotations

import numpy as np
from torch import nn

from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.torch.layers import converter


@converter("TextVectorization")
def _text_vectorization(layer: Layer, w: dict[str, np.ndarray]) -> nn.Module:
    raise UnsupportedLayerError(
        f"kif.torch cannot convert layer {layer.name!r} (TextVectorization): torch tensors cannot hold strings; "
        "run the text steps with kif.run and feed the ids to the torch module",
        code="layer-unsupported",
        pointer=layer.name,
    )
