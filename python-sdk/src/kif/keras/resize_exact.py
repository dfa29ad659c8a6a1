"""Resizing as to_keras builds it for bicubic, lanczos3, lanczos5, area, gaussian and mitchellcubic: TF's rule on every backend.

Keras on PyTorch has no lanczos3, lanczos5 or area and computes bicubic with a = -0.75; KIF's definition is
tf.image.resize's (spec/layers/Resizing.md). This subclass of ``keras.layers.Resizing`` keeps the layer's class
name and config, so exporting or saving the rebuilt model gives the same KIF layer back, and resizes with the
reference's per-axis matrices (``kif.layers._resize.axis_weights``), which depend only on the sizes. Nearest and
bilinear, which every backend computes by the definition, go to Keras's own code. Registered as
``kif>Resizing``; loading a saved ``.keras`` file that uses it needs ``kif.keras.to_keras.register_keras_objects()``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from kif.layers._resize import aspect_crop_box, axis_weights

_OWN = ("nearest", "bilinear")  # computed by Keras itself, identically on every backend


@functools.cache
def resizing_exact() -> type:
    import keras

    base = keras.layers.Resizing

    def transform_images(self: Any, images: Any, transformation: Any = None, training: bool = True) -> Any:
        if self.interpolation in _OWN or len(images.shape) != 4:
            return base.transform_images(self, images, transformation, training)
        ops = keras.ops
        first = self.data_format == "channels_first"
        x = ops.transpose(images, (0, 2, 3, 1)) if first else images
        name = keras.backend.standardize_dtype(images.dtype)
        compute = name if name in ("float32", "float64") else "float32"
        x = ops.cast(x, compute)
        h, w = int(x.shape[1]), int(x.shape[2])
        if self.crop_to_aspect_ratio:
            top, left, h, w = aspect_crop_box(h, w, self.height, self.width)
            x = x[:, top : top + h, left : left + w, :]
        elif self.pad_to_aspect_ratio:
            ph = (max(h, (w * self.height) // self.width) - h) // 2
            pw = (max(w, (h * self.width) // self.height) - w) // 2
            x = ops.pad(x, [(0, 0), (ph, ph), (pw, pw), (0, 0)], constant_values=float(self.fill_value))
            h, w = h + 2 * ph, w + 2 * pw
        rows = ops.convert_to_tensor(axis_weights(h, self.height, self.interpolation, self.antialias).astype(compute))
        cols = ops.convert_to_tensor(axis_weights(w, self.width, self.interpolation, self.antialias).astype(compute))
        y = ops.einsum("pw,nowc->nopc", cols, ops.einsum("oh,nhwc->nowc", rows, x))
        if "int" in name or name == "bool":
            info = np.iinfo(np.dtype(name)) if name != "bool" else None
            y = ops.round(y) if info is not None else ops.not_equal(y, 0)
            if info is not None:
                y = ops.clip(y, float(info.min), float(info.max))
        y = ops.cast(y, name)
        return ops.transpose(y, (0, 3, 1, 2)) if first else y

    doc = "Resizing by tf.image.resize's rule on every Keras backend (bicubic, lanczos3, lanczos5, area)."
    cls = type("Resizing", (base,), {"transform_images": transform_images, "__module__": __name__, "__doc__": doc})
    return keras.saving.register_keras_serializable(package="kif", name="Resizing")(cls)
