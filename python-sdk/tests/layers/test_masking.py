"""Masking against Keras 3 (torch backend), alone and feeding an LSTM's mask input."""

from __future__ import annotations

import numpy as np
import pytest

import kif
from tests.layers.harness import keras_output, run_layer
from tests.layers.test_recurrent import keras_rnn, kif_weights


def masked_sequence(mask_value: float, dtype: str = "float32") -> np.ndarray:
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(dtype)
    x[0, 1] = mask_value
    x[1, 4] = mask_value
    x[2, :2] = mask_value
    x[2, 3, 1:] = mask_value  # one feature differs: not masked
    return x


@pytest.mark.parametrize("mask_value", [0.0, -1.5])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_masking_matches_keras(mask_value: float, dtype: str) -> None:
    import keras

    x = masked_sequence(mask_value, dtype)
    layer = keras.layers.Masking(mask_value=mask_value)
    expected_values = keras_output(layer, x)
    expected_mask = keras.ops.convert_to_numpy(layer.compute_mask(keras.ops.convert_to_tensor(x)))
    values, mask = run_layer("Masking", x, num_outputs=2, mask_value=mask_value)
    assert values.dtype == x.dtype and mask.dtype == np.bool_
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(mask, [[1, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 1, 1, 1]])


def test_masking_hand_derived_value_and_single_output() -> None:
    x = np.array([[[0.0, 0.0], [0.0, 2.0], [np.nan, 0.0]]], dtype="float32")
    values = run_layer("Masking", x)  # the mask output may be left out
    np.testing.assert_array_equal(values, x)  # nothing all-zero except step 0, which is already zero
    _, mask = run_layer("Masking", x, num_outputs=2)
    np.testing.assert_array_equal(mask, [[False, True, True]])  # NaN never equals mask_value
    nan_values, nan_mask = run_layer("Masking", x, num_outputs=2, mask_value=float(np.float32(2.0)))
    np.testing.assert_array_equal(nan_mask, [[True, True, True]])
    np.testing.assert_array_equal(nan_values, x)


def test_masking_feeds_an_lstm_like_keras() -> None:
    """Masking -> LSTM(mask) in one KIF graph against the same Keras model."""
    import keras

    x = masked_sequence(0.0)
    lstm = keras_rnn("LSTM", 3, 4, return_sequences=True)
    model = keras.Sequential([keras.Input((5, 4)), keras.layers.Masking(0.0), lstm])
    expected = keras.ops.convert_to_numpy(model(x))

    b = kif.GraphBuilder("masked_lstm")
    inp = b.input("x", "float32", (None, 5, 4))
    values, mask = b.add("Masking", inp, name="masking", num_outputs=2, mask_value=0.0)
    y = b.add("LSTM", [values, None, None, mask], name="lstm", weights=kif_weights(lstm), units=3, return_sequences=True)
    b.output(y)
    got = kif.run(b.build(), {"x": x})["lstm"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got[2, 0], np.zeros(3, "float32"))  # leading masked steps output zeros
    np.testing.assert_array_equal(got[0, 1], got[0, 0])  # a masked step repeats the previous output
