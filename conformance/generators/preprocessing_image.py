"""Cases for the image preprocessing layers that compute at inference: AutoContrast.

``python conformance/generators/preprocessing_image.py [OUT_ROOT]`` rewrites ``cases/preprocessing_image/``.
Oracle: Keras 3 (its ``AutoContrast`` runs the same operations on every backend).
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers


def _images(case_id: str, shape: tuple[int, ...], low: float, high: float, dtype: str = "float32") -> np.ndarray:
    """Batch-2 images inside [low, high] whose channels do not reach the bounds (so the stretch shows)."""
    rng = s.rng_for(case_id, "inputs")
    span = high - low
    return rng.uniform(low + 0.2 * span, low + 0.7 * span, size=(2, *shape)).astype(dtype)


def _constant_channel(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[0, :, :, 1] = x[0, 0, 0, 1]  # high == low: Keras returns the channel unchanged
    x[1, :, :, 0] = x[1, 0, 0, 0]
    return x


def cases() -> Iterator[Case]:
    def case(case_id: str, description: str, vr: tuple[float, float], x: np.ndarray, level: str = "core", **kw: object) -> Case:
        layer_dtype = str(x.dtype) if x.dtype.kind == "f" else None
        factory = (lambda: L.AutoContrast(value_range=vr, dtype=layer_dtype)) if layer_dtype else (lambda: L.AutoContrast(value_range=vr))
        return layer_case(case_id, description, factory, tuple(x.shape[1:]), dtype=str(x.dtype), inputs=[x], level=level, **kw)

    yield case("autocontrast-0-255", "AutoContrast value_range (0, 255)", (0, 255), _images("autocontrast-0-255", (6, 5, 3), 0, 255))
    yield case("autocontrast-0-1", "AutoContrast value_range (0, 1)", (0, 1), _images("autocontrast-0-1", (6, 5, 3), 0, 1))
    x = _constant_channel(_images("autocontrast-constant-channel", (4, 5, 3), 0, 1))
    yield case("autocontrast-constant-channel", "AutoContrast: constant channels keep their values", (0, 1), x)
    x = _constant_channel(_images("autocontrast-constant-channel-0-255", (4, 5, 3), 0, 255))
    x[0, :, :, 2] = 0.0  # a constant zero channel: 0 * inf is NaN too
    yield case("autocontrast-constant-channel-0-255", "AutoContrast (0, 255): constant and zero channels kept", (0, 255), x, "extended")
    x = _images("autocontrast-out-of-range", (5, 4, 2), -2, 3)
    yield case("autocontrast-out-of-range", "AutoContrast (-1, 1) of values outside the range", (-1, 1), x, "extended")
    x = _constant_channel(_images("autocontrast-float16", (6, 5, 3), 0, 1, "float16"))
    yield case("autocontrast-float16", "AutoContrast of float16 images (compute in float16)", (0, 1), x, "extended")
    x = np.round(_images("autocontrast-uint8", (6, 5, 3), 0, 255)).astype("uint8")
    yield case("autocontrast-uint8", "AutoContrast of uint8 images: float32 out", (0, 255), x, "extended")


if __name__ == "__main__":
    s.main("preprocessing_image", cases)
