"""Dense against Keras 3 (torch backend) and against a hand-derived value."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import assert_close, keras_output, run_layer


def test_dense_matches_hand_derived_value() -> None:
    x = np.array([[1.0, 2.0]], dtype="float32")
    kernel = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]], dtype="float32")
    bias = np.array([0.0, 1.0, -1.0], dtype="float32")
    got = run_layer("Dense", x, {"kernel": kernel, "bias": bias}, units=3, activation="relu")
    np.testing.assert_array_equal(got, [[2.0, 3.0, 2.0]])  # [1+1, 0+2+1, -1+4-1] then relu


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "softmax"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("rank", [2, 3])
def test_dense_matches_keras(activation: str, use_bias: bool, rank: int) -> None:
    import keras

    rng = np.random.default_rng(0)
    shape = (3, 5, 7) if rank == 3 else (4, 7)
    x = rng.normal(size=shape).astype("float32")
    layer = keras.layers.Dense(6, activation=activation, use_bias=use_bias)
    layer.build(shape)
    weights = {"kernel": keras.ops.convert_to_numpy(layer.kernel)}
    if use_bias:
        layer.bias.assign(rng.normal(size=6).astype("float32"))
        weights["bias"] = keras.ops.convert_to_numpy(layer.bias)
    expected = keras_output(layer, x)
    got = run_layer("Dense", x, weights, units=6, activation=activation, use_bias=use_bias)
    assert_close(got, expected, "Dense")
