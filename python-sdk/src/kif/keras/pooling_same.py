"""Pooling layers to_keras builds where Keras computes differently from KIF, each as one Keras layer.

AveragePooling with ``padding="same"``, by KIF's rule on every Keras backend:

KIF (TensorFlow's rule) divides each window's sum by its real cells; Keras on torch pads by
replicating edge values when the padding is uneven and counts the padded cells. The layer here
zero-pads as "same" would, averages over "valid" windows, and divides by the same average of a
zero-padded ones-tensor (real cells / window size), which gives sum / real cells exactly.

It is one layer, not a chain of ``keras.ops`` calls, so that exporting the rebuilt model
(``kif.keras.export``) gives the KIF layer back: its class name and config are those of the Keras
layer it subclasses. It is registered as ``kif>AveragePooling{1,2,3}D``; loading a saved ``.keras``
file that uses it needs ``kif.keras.to_keras.register_keras_objects()`` first, as for the registered activations.

GlobalMaxPooling1D with a mask: Keras's layer takes none, KIF's skips masked steps. The subclass
(``kif>GlobalMaxPooling1D``) takes ``mask=`` and gives masked steps the lowest finite value before
the max; the exporter maps it back to the KIF layer with its mask input.
"""

from __future__ import annotations

import functools
from typing import Any


def same_padding(size: int, pool: int, stride: int) -> tuple[int, int]:
    """Cells added (before, after) along one axis so the output has ceil(size / stride) positions."""
    out = -(-size // stride)
    total = max((out - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


@functools.cache
def average_pooling_same(kif_type: str) -> type:
    """The Keras layer class for ``kif_type`` (AveragePooling1D/2D/3D) with ``padding="same"``."""
    import keras

    base = getattr(keras.layers, kif_type)

    def call(self: Any, inputs: Any) -> Any:
        ops = keras.ops
        first = self.data_format == "channels_first"
        spatial = tuple(inputs.shape[2:] if first else inputs.shape[1:-1])
        dynamic = ops.shape(inputs)[2:] if first else ops.shape(inputs)[1:-1]
        sizes = [int(n if n is not None else d) for n, d in zip(spatial, dynamic, strict=True)]
        strides = self.strides or self.pool_size
        pads = [same_padding(n, k, s) for n, k, s in zip(sizes, self.pool_size, strides, strict=True)]

        def pool(x: Any) -> Any:
            return ops.average_pool(x, self.pool_size, strides, padding="valid", data_format=self.data_format)

        if all(p == (0, 0) for p in pads):
            return pool(inputs)
        full = [(0, 0), (0, 0), *pads] if first else [(0, 0), *pads, (0, 0)]
        one_channel = inputs[:, :1] if first else inputs[..., :1]
        share = pool(ops.pad(ops.ones_like(one_channel), full))  # real cells / window size, per output position
        return ops.divide(pool(ops.pad(inputs, full)), share)

    cls = type(kif_type, (base,), {"call": call, "__module__": __name__, "__doc__": f"{kif_type}, padding='same', by KIF's rule."})
    return keras.saving.register_keras_serializable(package="kif", name=kif_type)(cls)


@functools.cache
def global_max_pooling_masked() -> type:
    """The Keras GlobalMaxPooling1D subclass that skips the steps ``mask`` marks false (output: no mask)."""
    import keras
    import numpy as np

    def call(self: Any, inputs: Any, mask: Any = None) -> Any:
        if mask is not None:
            ops = keras.ops
            name = keras.backend.standardize_dtype(inputs.dtype)
            dtype = np.dtype(name) if name != "bfloat16" else np.dtype(np.float32)
            keep = ops.expand_dims(ops.cast(mask, "bool"), 2 if self.data_format == "channels_last" else 1)
            inputs = ops.where(keep, inputs, ops.cast(float(np.finfo(dtype).min), inputs.dtype))
        return keras.layers.GlobalMaxPooling1D.call(self, inputs)

    def compute_mask(self: Any, inputs: Any, mask: Any = None) -> None:
        return None  # the steps axis is reduced away

    body = {"call": call, "compute_mask": compute_mask, "__module__": __name__, "__doc__": "GlobalMaxPooling1D that skips masked steps."}
    cls = type("GlobalMaxPooling1D", (keras.layers.GlobalMaxPooling1D,), body)
    return keras.saving.register_keras_serializable(package="kif", name="GlobalMaxPooling1D")(cls)


__all__ = ["average_pooling_same", "global_max_pooling_masked", "same_padding"]
