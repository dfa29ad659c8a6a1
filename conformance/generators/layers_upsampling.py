"""Cases for UpSampling2D with the interpolations of spec 0.2.0 (bicubic, lanczos3, lanczos5, area, and tf.keras 2's
gaussian and mitchellcubic), and Resizing with those two.

``python conformance/generators/layers_upsampling.py [OUT_ROOT]`` rewrites ``cases/layers_upsampling/``.

Keras on torch (which the generators run) computes bicubic otherwise and lacks lanczos and area, so each case's
expected output is TensorFlow's: the goldens Keras 3 on TensorFlow wrote into ``python-sdk/tests/fixtures/tf_upsampling/``
(its ``generate.py``, run by hand; gaussian and mitchellcubic by tf_keras and tf.image.resize), for the same inputs.
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

FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "tf_upsampling"
CORE = {"bicubic", "lanczos3", "area"}


def _golden(y: np.ndarray) -> Any:
    return lambda model, xs: [y]


def cases() -> Iterator[Case]:
    configs = json.loads((FIXTURES / "keras3.json").read_text(encoding="utf-8"))
    arrays = np.load(FIXTURES / "keras3.npz")
    for name in sorted(configs):
        config = configs[name]
        interp = config["interpolation"]
        if interp in ("nearest", "bilinear"):
            continue  # spec 0.1 interpolations: layers_reshaping's cases
        first = name.endswith("_first")
        x, y = arrays[f"{name}/x"], arrays[f"{name}/y"]
        sh, sw = config["size"]
        layout = "channels_first, " if first else ""
        yield layer_case(
            f"upsampling2d-{interp}{'-channels-first' if first else ''}",
            f"UpSampling2D {interp} by {sh}x{sw}, {layout}TensorFlow golden",
            lambda: K.layers.Identity(), tuple(x.shape[1:]), inputs=[x], level="core" if interp in CORE and not first else "extended",
            formula=_golden(y), bundle=s.one_layer_bundle("UpSampling2D", **config),
        )  # fmt: skip

    yield from _tf_keras_only()


def _tf_keras_only() -> Iterator[Case]:
    configs = json.loads((FIXTURES / "tf_keras.json").read_text(encoding="utf-8"))
    arrays = np.load(FIXTURES / "tf_keras.npz")
    for interp in ("gaussian", "mitchellcubic"):
        x, y = arrays[f"{interp}/x"], arrays[f"{interp}/y"]
        yield layer_case(
            f"upsampling2d-{interp}", f"UpSampling2D {interp} by 2x3 (tf.keras 2), TensorFlow golden",
            lambda: K.layers.Identity(), tuple(x.shape[1:]), inputs=[x], level="extended",
            formula=_golden(y), bundle=s.one_layer_bundle("UpSampling2D", **configs[interp]),
        )  # fmt: skip
    extra = np.load(FIXTURES / "tf_resize_extra.npz")
    for name in ("gaussian_down_aa1", "gaussian_up_aa0", "mitchellcubic_down_aa0", "mitchellcubic_mixed_aa1"):
        interp, label, aa = name.split("_")
        x, y = extra[f"{name}/x"], extra[f"{name}/y"]
        attrs = {"height": int(y.shape[1]), "width": int(y.shape[2]), "interpolation": interp, "antialias": aa == "aa1"}
        yield layer_case(
            f"resizing-{interp}-{label}{'-antialias' if aa == 'aa1' else ''}",
            f"Resizing {interp} {x.shape[1]}x{x.shape[2]} to {y.shape[1]}x{y.shape[2]}{', antialias' if aa == 'aa1' else ''}",
            lambda: K.layers.Identity(), tuple(x.shape[1:]), inputs=[x], level="extended",
            formula=_golden(y), bundle=s.one_layer_bundle("Resizing", **attrs),
        )  # fmt: skip


if __name__ == "__main__":
    s.main("layers_upsampling", cases)
