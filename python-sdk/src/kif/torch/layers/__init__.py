"""The converter table: one small function per KIF layer type, ``@converter("Dense")``.

A converter takes the layer (type, attributes, input/output names) and its weights by role
(NumPy arrays in the canonical Keras layouts) and returns an ``nn.Module`` whose ``forward``
takes the layer's inputs positionally (None for an absent optional input) and returns a
list of tensors, one per output. Converter modules are imported once, on first use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from kif.graph import Layer

Converter = Callable[[Layer, dict[str, np.ndarray]], nn.Module]
CONVERTERS: dict[str, Converter] = {}


def converter(*layer_types: str) -> Callable[[Converter], Converter]:
    def decorate(fn: Converter) -> Converter:
        for layer_type in layer_types:
            if layer_type in CONVERTERS:
                raise RuntimeError(f"Layer type {layer_type!r} has two torch converters")
            CONVERTERS[layer_type] = fn
        return fn

    return decorate


def converters() -> dict[str, Converter]:
    from kif.torch.layers import (  # noqa: F401  (registration)
        adaptive_pooling,
        attention,
        auto_contrast,
        basic,
        clahe,
        conv,
        conv_lstm,
        encoding,
        locally_connected,
        normalization,
        ops,
        recurrent,
        shape,
        signal,
        text,
        text_vectorization,
    )

    return CONVERTERS
