"""Hashing, HashedCrossing, StringLookup: refused with the reason (PyTorch has no string tensors and no FarmHash or
SipHash); the support matrix shows them as not supported."""

from __future__ import annotations

import numpy as np
from torch import nn

from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.torch.layers import converter

_REASONS = {
    "Hashing": "PyTorch has no string tensors, and FarmHash Fingerprint64 / SipHash-2-4 of the decimal text have no torch op",
    "HashedCrossing": "PyTorch has no string tensors, and TF's FarmHash Fingerprint64 / FingerprintCat64 have no torch op",
    "StringLookup": "PyTorch has no string tensors",
}


@converter(*_REASONS)
def _refuse(layer: Layer, weights: dict[str, np.ndarray]) -> nn.Module:
    raise UnsupportedLayerError(
        f"kif.torch cannot convert layer {layer.name!r} ({layer.type}): {_REASONS[layer.type]}",
        code="layer-unsupported",
        pointer=layer.name,
    )
