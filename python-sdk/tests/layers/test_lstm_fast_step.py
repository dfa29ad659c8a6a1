"""The sigmoid/tanh LSTM step (gates as 0.5 + 0.5 tanh(z/2)) against torch.nn.LSTM over a long sequence."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import assert_close, run_layer

torch = pytest.importorskip("torch")


def _torch_lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray, units: int) -> np.ndarray:
    lstm = torch.nn.LSTM(x.shape[-1], units, batch_first=True).double()
    with torch.no_grad():  # gate order i, f, c, o in both; Keras concatenates along the last axis
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        lstm.bias_hh_l0.zero_()
        out, _ = lstm(torch.from_numpy(x))
    return out.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_sequence_matches_torch_and_leaves_weights_untouched(dtype: str) -> None:
    rng = np.random.default_rng(3)
    units, features = 16, 5
    x = rng.standard_normal((3, 60, features)).astype(dtype)
    x[0, :4] *= 40.0  # saturated gates (|z| far beyond where exp(-z) would overflow in float32 at 1e3)
    weights = {
        "kernel": (rng.standard_normal((features, 4 * units)) * 0.5).astype(dtype),
        "recurrent_kernel": (rng.standard_normal((units, 4 * units)) * 0.5).astype(dtype),
        "bias": (rng.standard_normal(4 * units) * 0.5).astype(dtype),
    }
    before = {k: v.copy() for k, v in weights.items()}
    got = run_layer("LSTM", x, weights, units=units, return_sequences=True)
    expected = _torch_lstm(x.astype(np.float64), *(weights[k].astype(np.float64) for k in ("kernel", "recurrent_kernel", "bias")), units)
    if dtype == "float32":
        assert_close(got, expected, "LSTM", dtype)
    else:  # the catalog declares float32/16 tolerances; float64 agrees to rounding
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert all(np.array_equal(weights[k], before[k]) for k in weights)
