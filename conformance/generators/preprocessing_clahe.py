"""Cases for ContrastLimitedAdaptiveHistogramEqualization (CLAHE), which computes at inference.

``python conformance/generators/preprocessing_clahe.py [OUT_ROOT]`` rewrites ``cases/preprocessing_clahe/``.
Oracle: Keras 3. Every Keras-run case keeps to where Keras's backends agree with TensorFlow's reading (an integral
clip limit in counts, or none; padding of at most one row and column) and uses integer pixels in the [0, 255] scale,
so each pixel's histogram bin is exact. The ``clahe-tf-*`` cases, where Keras-torch departs (fractional clip limits,
symmetric padding of several rows), take TensorFlow's outputs that Keras 3 on TensorFlow wrote into
``python-sdk/tests/fixtures/tf_clahe/`` (its ``generate.py``, run by hand).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
TYPE = "ContrastLimitedAdaptiveHistogramEqualization"
FIXTURES = Path(__file__).resolve().parents[2] / "python-sdk" / "tests" / "fixtures" / "tf_clahe"
TF_CASES = {  # fixture case -> (case id, description)
    "default_high_contrast": ("clahe-tf-default-fractional-limit", "CLAHE defaults on 40x40 (limit 0.39 count), TensorFlow golden"),
    "low_contrast_grid3x4_clip4": ("clahe-tf-low-contrast-padded", "CLAHE 3x4 tiles on 13x10 (2 padded rows, columns), TensorFlow golden"),
    "channels_first_odd": ("clahe-tf-channels-first-clip3", "CLAHE channels_first 3x2 tiles, clip_limit 3, TensorFlow golden"),
}


def _images(case_id: str, shape: tuple[int, ...], value_range: tuple[float, float]) -> np.ndarray:
    u = s.rng_for(case_id, "inputs").integers(30, 220, size=(2, *shape)).astype("float32")
    lo, hi = value_range
    return u if value_range == (0, 255) else (u / np.float32(255) * np.float32(hi - lo) + np.float32(lo)).astype("float32")


def cases() -> Iterator[Case]:
    def case(case_id: str, description: str, shape: tuple[int, ...], level: str = "core", **kw: object) -> Case:
        vr = kw.get("value_range", (0, 255))
        x = _images(case_id, shape, vr)  # type: ignore[arg-type]
        factory = lambda: L.ContrastLimitedAdaptiveHistogramEqualization(**kw)  # noqa: E731
        return layer_case(case_id, description, factory, shape, dtype="float32", inputs=[x], level=level)

    yield case("clahe-2x2-clip4", "CLAHE 2x2 tiles of 64 pixels, clip_limit 4 (limit 1 count)", (16, 16, 3), tile_grid_size=(2, 2))
    yield case(
        "clahe-0-1-clip16",
        "CLAHE value_range (0, 1), 2x4 tiles, clip_limit 16 (limit 1 count)",
        (8, 16, 2),
        value_range=(0, 1),
        tile_grid_size=(2, 4),
        clip_limit=16.0,
    )
    yield case(
        "clahe-no-clip-padded", "CLAHE without clipping, one padded row, channels_first", (2, 11, 9), "extended",
        value_range=(-1, 1), tile_grid_size=(2, 3), clip_limit=0.0, data_format="channels_first",
    )  # fmt: skip
    yield from _tensorflow_goldens()


def _tensorflow_goldens() -> Iterator[Case]:
    configs = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))
    arrays = np.load(FIXTURES / "cases.npz")
    for name, (case_id, description) in TF_CASES.items():
        x, y = arrays[f"{name}/x"], arrays[f"{name}/y"]
        yield layer_case(
            case_id, description, lambda: L.Identity(), tuple(x.shape[1:]), inputs=[x], level="extended",
            formula=lambda model, xs, y=y: [y], bundle=s.one_layer_bundle(TYPE, **configs[name]),
        )  # fmt: skip


if __name__ == "__main__":
    s.main("preprocessing_clahe", cases)
