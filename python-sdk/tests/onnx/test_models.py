"""Whole Keras 3 models (tests/keras/keras_models.py) → .keras → KIF (kif.keras.convert) → ONNX → ONNX Runtime, against Keras.

Covers the MLP, CNN, LSTM text model with masking, transformer block and the rest of the shared zoo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kif.keras import convert
from tests.keras import keras_models
from tests.onnx.helpers import run_onnx

MODELS = sorted(keras_models.MODELS)
RTOL, ATOL = 1e-4, 1e-4  # the loosest float32 tolerance class of the layers involved (RNNs, attention, normalisation)


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_keras(name: str, tmp_path: Path) -> None:
    model, feeds = keras_models.build(name)
    model.save(tmp_path / f"{name}.keras")
    bundle = convert(tmp_path / f"{name}.keras", tmp_path / f"{name}.kif")
    expected = keras_models.predict(model, feeds)
    got = run_onnx(bundle, feeds, tmp_path)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)
