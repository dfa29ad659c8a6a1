"""UpSampling2D with every interpolation Keras offers, against TensorFlow's outputs (tests/fixtures/tf_upsampling, written
by Keras 3 on TensorFlow and by tf_keras): Keras on PyTorch computes bicubic otherwise and has no lanczos or area;
tf_keras alone offers gaussian and mitchellcubic (for Resizing too)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.layers.harness import run_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_upsampling"
KIF_INTERPOLATIONS = {"nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area", "gaussian", "mitchellcubic"}


def _cases() -> list[tuple[str, str, dict]]:
    out = []
    for writer in ("keras3", "tf_keras"):
        for name, config in json.loads((FIXTURES / f"{writer}.json").read_text()).items():
            if config["interpolation"] in KIF_INTERPOLATIONS:
                out.append((writer, name, config))
    return out


@pytest.mark.parametrize(("writer", "name", "config"), _cases(), ids=[f"{w}-{n}" for w, n, _ in _cases()])
def test_upsampling_matches_tensorflow(writer: str, name: str, config: dict) -> None:
    arrays = np.load(FIXTURES / f"{writer}.npz")
    got = run_layer("UpSampling2D", arrays[f"{name}/x"], **config)
    np.testing.assert_allclose(got, arrays[f"{name}/y"], rtol=1e-5, atol=1e-5)


EXTRA = np.load(FIXTURES / "tf_resize_extra.npz")
EXTRA_CASES = sorted({k.split("/")[0] for k in EXTRA.files})


@pytest.mark.parametrize("name", EXTRA_CASES)
def test_resizing_gaussian_and_mitchellcubic_match_tensorflow(name: str) -> None:
    """tf.keras 2's Resizing also offers gaussian and mitchellcubic (tf.image.resize's ScaleAndTranslate kernels)."""
    interp, _, aa = name.split("_")
    x, y = EXTRA[f"{name}/x"], EXTRA[f"{name}/y"]
    attrs = {"height": y.shape[1], "width": y.shape[2], "interpolation": interp, "antialias": aa == "aa1"}
    np.testing.assert_allclose(run_layer("Resizing", x, **attrs), y, rtol=1e-5, atol=1e-5)
