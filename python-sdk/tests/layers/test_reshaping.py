"""Identity and Flatten against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import assert_close, keras_output, run_layer


def test_identity_returns_input() -> None:
    x = np.arange(12, dtype="float32").reshape(2, 6)
    np.testing.assert_array_equal(run_layer("Identity", x), x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape", [(2, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_flatten_matches_keras(data_format: str, shape: tuple[int, ...]) -> None:
    import keras

    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    expected = keras_output(keras.layers.Flatten(data_format=data_format), x)
    assert_close(run_layer("Flatten", x, data_format=data_format), expected, "Flatten")
