"""Training-only layers: the identity at inference, as Keras 3 computes them with training=False."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kif.layers.noop import Dropout, SpatialDropout2D
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import keras_output, run_layer

# (KIF type, KIF attributes, input shape); the Keras layer takes the same attributes.
CASES: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("Dropout", {"rate": 0.5}, (3, 4)),
    ("Dropout", {"rate": 0.3, "noise_shape": [None, 1, 5], "seed": 7}, (3, 4, 5)),
    ("SpatialDropout1D", {"rate": 0.4}, (2, 5, 3)),
    ("SpatialDropout2D", {"rate": 0.4, "data_format": "channels_first"}, (2, 3, 4, 5)),
    ("SpatialDropout3D", {"rate": 0.4, "seed": 1}, (2, 3, 4, 5, 2)),
    ("GaussianNoise", {"stddev": 0.5}, (3, 4)),
    ("GaussianDropout", {"rate": 0.2}, (3, 4)),
    ("AlphaDropout", {"rate": 0.2, "noise_shape": [3, 1]}, (3, 4)),
    ("ActivityRegularization", {"l1": 0.01, "l2": 0.1}, (3, 4)),
]


@pytest.mark.parametrize(("layer_type", "attrs", "shape"), CASES)
def test_identity_at_inference_matches_keras(layer_type: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    import keras

    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = keras_output(getattr(keras.layers, layer_type)(**attrs), x, training=False)
    got = run_layer(layer_type, x, **attrs)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, x)


def test_identity_keeps_integer_dtype() -> None:
    x = np.arange(12, dtype="int32").reshape(3, 4)
    got = run_layer("Dropout", x, rate=0.5)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, x)


def test_spatial_dropout_requires_rank() -> None:
    with pytest.raises(ShapeError, match="rank 4"):
        SpatialDropout2D.infer({"rate": 0.1, "data_format": "channels_last", "seed": None}, [TensorType("float32", (None, 3, 4))], {})


def test_noise_shape_must_match_rank() -> None:
    with pytest.raises(ShapeError, match="noise_shape"):
        Dropout.infer({"rate": 0.1, "noise_shape": [None, 1], "seed": None}, [TensorType("float32", (None, 3, 4))], {})
