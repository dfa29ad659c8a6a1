"""Cases for the preprocessing layers TensorFlow defines: Resizing's bicubic/lanczos/area, STFTSpectrogram, MelSpectrogram.

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


def _fixture_bundle(kind: str, attrs: dict[str, Any], weights: dict[str, np.ndarray]) -> Any:
    def make(model: Any) -> Any:
        b = s.kif.GraphBuilder(model.name)
        x = b.input(model.inputs[0].name, "float32", tuple(model.inputs[0].shape))
        b.output(b.add(kind, x, name=kind.lower(), weights=weights, **attrs))
        return b.build()

    return make


def _spectrograms() -> Iterator[Case]:
    import math

    configs = json.loads((FIXTURES / "spectrogram.json").read_text(encoding="utf-8"))
    arrays = np.load(FIXTURES / "spectrogram.npz")
    for name in sorted(configs):
        kind, cfg = configs[name]["class_name"], configs[name]["config"]
        attrs = {k: cfg.get(k) for k in s.catalog.get(kind).attributes}
        if kind == "STFTSpectrogram":
            attrs["frame_step"] = attrs["frame_step"] or cfg["frame_length"] // 2
            attrs["fft_length"] = attrs["fft_length"] or 2 ** math.ceil(math.log2(cfg["frame_length"]))
        weights = {r: arrays[f"{name}/{r}"] for r in ("real_kernel", "imag_kernel") if f"{name}/{r}" in arrays}
        x, y = arrays[f"{name}/x"], arrays[f"{name}/y"]
        core = name in ("mel_default_db", "stft_log", "stft_magnitude")
        yield layer_case(
            name.replace("_", "-"), f"{kind} {name.split('_', 1)[1].replace('_', ' ')} (TensorFlow golden)",
            lambda: L.Identity(), tuple(x.shape[1:]), inputs=[x], level="core" if core else "extended",
            formula=_golden(y), bundle=_fixture_bundle(kind, attrs, weights),
        )  # fmt: skip


def cases() -> Iterator[Case]:
    yield from _resizing()
    yield from _spectrograms()


if __name__ == "__main__":
    s.main("preprocessing_signal", cases)
