"""UpSampling2D as to_keras builds it for bicubic, lanczos3, lanczos5 and area: TensorFlow's rule on every backend.

Keras's UpSampling2D calls ``keras.ops.image.resize`` to (H * sh, W * sw); on PyTorch that is another bicubic and has
no lanczos or area. This subclass keeps the class name and config (so exporting the rebuilt model gives the same KIF
layer back) and resizes with the reference's per-axis matrices (``kif.layers._resize.axis_weights``, sizes only).
Registered as ``kif>UpSampling2D``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from kif.layers._resize import axis_weights


@functools.cache
def upsampling_exact() -> type:
    import keras

    base = keras.layers.UpSampling2D

    def call(self: Any, inputs: Any) -> Any:
        if self.interpolation in ("nearest", "bilinear"):
            return base.call(self, inputs)
        ops = keras.ops
        first = self.data_format == "channels_first"
        x = ops.transpose(inputs, (0, 2, 3, 1)) if first else inputs
        name = keras.backend.standardize_dtype(inputs.dtype)
        compute = name if name in ("float32", "float64") else "float32"
        x = ops.cast(x, compute)
        h, w = int(x.shape[1]), int(x.shape[2])
        sh, sw = self.size
        rows = ops.convert_to_tensor(axis_weights(h, h * sh, self.interpolation).astype(compute))
        cols = ops.convert_to_tensor(axis_weights(w, w * sw, self.interpolation).astype(compute))
        y = ops.einsum("pw,nowc->nopc", cols, ops.einsum("oh,nhwc->nowc", rows, x))
        if "int" in name:
            info = np.iinfo(np.dtype(name))
            y = ops.clip(ops.round(y), float(info.min), float(info.max))
        y = ops.cast(y, name)
        return ops.transpose(y, (0, 3, 1, 2)) if first else y

    doc = "UpSampling2D by tf.image.resize's rule on every Keras backend (bicubic, lanczos3, lanczos5, area)."
    cls = type("UpSampling2D", (base,), {"call": call, "__module__": __name__, "__doc__": doc})
    return keras.saving.register_keras_serializable(package="kif", name="UpSampling2D")(cls)
