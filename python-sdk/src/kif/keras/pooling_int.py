"""MaxPooling on integer tensors for to_keras: torch's max_pool has no integer kernel, so Keras-torch cannot run it.

``kif>MaxPooling{1,2,3}D`` subclasses the Keras layer: floating inputs go to Keras's own pooling; integer inputs take
the elementwise maximum of the window's strided slices (exact in every integer dtype, int64 included, on every
backend), with "same" padding by the dtype's lowest value so padding never wins (spec/layers/MaxPooling1D.md).
The class name and config are the Keras layer's, so exporting the rebuilt model gives the KIF layer back.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from kif.keras.pooling_same import same_padding


@functools.cache
def max_pooling_integer(kif_type: str) -> type:
    """The Keras layer class for ``kif_type`` (MaxPooling1D/2D/3D) that also pools integer tensors."""
    import keras
    import numpy as np

    base = getattr(keras.layers, kif_type)

    def call(self: Any, inputs: Any) -> Any:
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "int" not in dtype:
            return base.call(self, inputs)
        ops = keras.ops
        rank = len(self.pool_size)
        first = self.data_format == "channels_first"
        axes = list(range(2, 2 + rank)) if first else list(range(1, 1 + rank))
        strides = self.strides or self.pool_size
        x = inputs
        if self.padding == "same":
            pads = [same_padding(int(x.shape[a]), k, s) for a, k, s in zip(axes, self.pool_size, strides, strict=True)]
            full = [(0, 0)] * len(x.shape)
            for a, p in zip(axes, pads, strict=True):
                full[a] = p
            x = ops.pad(x, full, constant_values=int(np.iinfo(dtype).min))
        outs = [(int(x.shape[a]) - k) // s + 1 for a, k, s in zip(axes, self.pool_size, strides, strict=True)]
        result = None
        for offsets in itertools.product(*(range(k) for k in self.pool_size)):
            key: list[Any] = [slice(None)] * len(x.shape)
            for a, o, n, s in zip(axes, offsets, outs, strides, strict=True):
                key[a] = slice(o, o + (n - 1) * s + 1, s)
            part = x[tuple(key)]
            result = part if result is None else ops.maximum(result, part)
        return result

    doc = f"{kif_type} that also pools integer tensors (exactly)."
    cls = type(kif_type, (base,), {"call": call, "__module__": __name__, "__doc__": doc})
    return keras.saving.register_keras_serializable(package="kif", name=kif_type)(cls)


__all__ = ["max_pooling_integer"]
