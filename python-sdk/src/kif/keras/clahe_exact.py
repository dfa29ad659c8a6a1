"""ContrastLimitedAdaptiveHistogramEqualization as to_keras builds it: TensorFlow's reading on every Keras backend.

KIF's definition (spec/layers/ContrastLimitedAdaptiveHistogramEqualization.md) is what Keras computes on TensorFlow
and JAX: float32 histograms and symmetric padding. Keras-torch builds int64 histograms (``one_hot`` returns int64
there, so a fractional clip limit is truncated) and pads by edge replication. This subclass keeps the layer's class
name and config, so exporting the rebuilt model gives the same KIF layer back, and replaces ``_clahe`` for batched
images with Keras's own steps made explicit: float32 ``one_hot`` and the symmetric rows and columns gathered by
index (the indices and interpolation weights depend only on the sizes). Registered as
``kif>ContrastLimitedAdaptiveHistogramEqualization``; loading a saved ``.keras`` file that uses it needs
``kif.keras.to_keras.register_keras_objects()``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from kif.layers.clahe import _axis_weights

TYPE = "ContrastLimitedAdaptiveHistogramEqualization"


def _symmetric(size: int, padded: int) -> np.ndarray:
    """Row (or column) indices of NumPy's and TensorFlow's ``symmetric`` padding at the end of an axis."""
    return np.concatenate([np.arange(size), size - 1 - np.arange(padded - size)]).astype("int32")


def _clahe_tf(images: Any, grid: tuple[int, int], clip_limit: float) -> Any:
    import keras

    ops = keras.ops
    h, w, c = (int(d) for d in images.shape[1:])
    gh, gw = grid
    th, tw = -(-h // gh), -(-w // gw)
    hp, wp = th * gh, tw * gw
    p = ops.take(ops.take(images, _symmetric(h, hp), axis=1), _symmetric(w, wp), axis=2)
    bins = ops.clip(ops.cast(p, "int32"), 0, 255)
    tiles = ops.reshape(ops.transpose(ops.reshape(bins, (-1, gh, th, gw, tw, c)), (0, 1, 3, 5, 2, 4)), (-1, gh, gw, c, th * tw))
    hist = ops.sum(ops.one_hot(tiles, 256, dtype="float32"), axis=-2)
    if clip_limit > 0:
        clipped = ops.clip(hist, 0.0, float(np.float32(clip_limit * (th * tw) / 256.0)))
        hist = clipped + ops.sum(hist - clipped, axis=-1, keepdims=True) / 256.0
    cdf = ops.cumsum(hist, axis=-1)
    low = ops.min(cdf, axis=-1, keepdims=True)
    den = float(th * tw) - low
    den = ops.where(ops.equal(den, 0.0), ops.ones_like(den), den)
    lut = ops.clip((cdf - low) * 255.0 / den, 0.0, 255.0)
    edge_rows = np.concatenate([[0], np.arange(gh), [gh - 1]]).astype("int32")
    edge_cols = np.concatenate([[0], np.arange(gw), [gw - 1]]).astype("int32")
    flat = ops.reshape(ops.take(ops.take(lut, edge_rows, axis=1), edge_cols, axis=2), (-1,))
    y0, y1, wy = _axis_weights(hp, th, gh)
    x0, x1, wx = _axis_weights(wp, tw, gw)
    stride_x = 256 * c
    stride_y = stride_x * (gw + 2)
    stride_b = stride_y * (gh + 2)
    batch = ops.arange(ops.shape(images)[0], dtype="int32")[:, None, None, None]
    base = batch * stride_b + ops.convert_to_tensor(np.arange(c, dtype="int32")[None, None, None, :] * 256) + bins

    def corner(rows: np.ndarray, cols: np.ndarray) -> Any:
        offset = (rows.astype("int32") * stride_y)[None, :, None, None] + (cols.astype("int32") * stride_x)[None, None, :, None]
        return ops.take(flat, base + ops.convert_to_tensor(offset))

    wy_e, wx_e = ops.convert_to_tensor(wy[None, :, None, None]), ops.convert_to_tensor(wx[None, None, :, None])
    top = corner(y0, x0) * (1.0 - wx_e) + corner(y0, x1) * wx_e
    bottom = corner(y1, x0) * (1.0 - wx_e) + corner(y1, x1) * wx_e
    return (top * (1.0 - wy_e) + bottom * wy_e)[:, :h, :w, :]


@functools.cache
def clahe_exact() -> type:
    import keras

    base = keras.layers.ContrastLimitedAdaptiveHistogramEqualization

    def _clahe(self: Any, images: Any) -> Any:
        if len(images.shape) != 4 or any(d is None for d in images.shape[1:]):
            return base._clahe(self, images)
        grid = (int(self.tile_grid_size[0]), int(self.tile_grid_size[1]))
        return _clahe_tf(keras.ops.cast(images, "float32"), grid, float(self.clip_limit))

    doc = "CLAHE with TensorFlow's float32 histograms and symmetric padding on every Keras backend."
    cls = type(TYPE, (base,), {"_clahe": _clahe, "__module__": __name__, "__doc__": doc})
    return keras.saving.register_keras_serializable(package="kif", name=TYPE)(cls)


__all__ = ["clahe_exact"]
