"""Cases for the preprocessing layers TensorFlow defines: Resizing's bicubic, lanczos3, lanczos5 and area methods.

``python conformance/generators/preprocessing_signal.py [OUT_ROOT]`` rewrites ``cases/preprocessing_signal/``.

Keras on torch (which the generators run) lacks lanczos and area and computes bicubic otherwise, so each case's
expected output is TensorFlow's: the goldens Keras 3 on TensorFlow wrote into
``python-sdk/tests/fixtures/tf_signal/`` (its ``generate.py``, run by hand), for the same inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "tf_signal"
RESIZE_KEYS = ("height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_value", "antialias", "data_format")

# fixture case -> (case id, description, level)
RESIZE = {
    "bicubic_up_aa0": ("resizing-bicubic-up", "Resizing bicubic 5x7 to 9x11 (Keys a=-0.5, 1/1024 table)", "core"),
    "bicubic_down_aa0": ("resizing-bicubic-down", "Resizing bicubic 9x11 to 4x5 without antialias", "core"),
    "bicubic_down_aa1": ("resizing-bicubic-down-antialias", "Resizing bicubic 9x11 to 4x5 with antialias", "extended"),
    "lanczos3_up_aa0": ("resizing-lanczos3-up", "Resizing lanczos3 5x7 to 9x11", "core"),
    "lanczos3_mixed_aa1": ("resizing-lanczos3-mixed-antialias", "Resizing lanczos3 6x6 to 3x9 with antialias", "extended"),
    "lanczos5_down_aa0": ("resizing-lanczos5-down", "Resizing lanczos5 9x11 to 4x5 without antialias (aliasing)", "core"),
    "lanczos5_down_aa1": ("resizing-lanczos5-down-antialias", "Resizing lanczos5 9x11 to 4x5 with antialias", "extended"),
    "area_down_aa0": ("resizing-area-down", "Resizing area 9x11 to 4x5", "core"),
    "area_up_aa0": ("resizing-area-up", "Resizing area 5x7 to 9x11 (cells repeat, straddles blend)", "extended"),
    "bilinear_mixed_aa1": ("resizing-bilinear-mixed-antialias", "Resizing bilinear 6x6 to 3x9 with antialias", "extended"),
    "bicubic_crop": ("resizing-bicubic-crop-aspect", "Resizing bicubic with crop_to_aspect_ratio", "extended"),
    "lanczos5_pad": ("resizing-lanczos5-pad-aspect", "Resizing lanczos5 with pad_to_aspect_ratio, fill -1", "extended"),
    "area_pad": ("resizing-area-pad-aspect", "Resizing area with pad_to_aspect_ratio, fill 0.5", "extended"),
    "bicubic_uint8": ("resizing-bicubic-uint8", "Resizing bicubic of a uint8 image: rounded and saturated", "extended"),
    "lanczos3_channels_first": ("resizing-lanczos3-channels-first", "Resizing lanczos3 of channels_first images", "extended"),
}


def _golden(y: np.ndarray) -> Any:
    return lambda model, xs: [y]


def _resizing() -> Iterator[Case]:
    configs = json.loads((FIXTURES / "resize.json").read_text(encoding="utf-8"))
    arrays = np.load(FIXTURES / "resize.npz")
    for name, (case_id, description, level) in RESIZE.items():
        attrs = {k: configs[name][k] for k in RESIZE_KEYS}
        x, y = arrays[f"{name}/x"], arrays[f"{name}/y"]
        yield layer_case(
            case_id, description, lambda: L.Identity(), tuple(x.shape[1:]), dtype=str(x.dtype), inputs=[x], level=level,
            formula=_golden(y), bundle=s.one_layer_bundle("Resizing", **attrs),
        )  # fmt: skip


def cases() -> Iterator[Case]:
    yield from _resizing()


if __name__ == "__main__":
    s.main("preprocessing_signal", cases)
