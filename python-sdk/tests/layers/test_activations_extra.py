"""The activations added in KIF 0.2.0 (spec/layers/activations.md): edge points, sparsemax, glu's shape rule."""

from __future__ import annotations

import decimal
import warnings

import numpy as np
import pytest

from kif.layers import activations, kernels
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import run_layer


def _keras(name: str, x: np.ndarray) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(getattr(keras.activations, name)(x))


def _projection(z: np.ndarray) -> np.ndarray:
    """Sparsemax by bisection on τ (Σ max(z - τ, 0) = 1), in float64: independent of the sorted algorithm."""
    z = z.astype(np.float64)
    lo, hi = z.min(axis=-1, keepdims=True) - 1.0, z.max(axis=-1, keepdims=True)
    for _ in range(200):
        tau = (lo + hi) / 2
        above = np.maximum(z - tau, 0).sum(axis=-1, keepdims=True) > 1
        lo, hi = np.where(above, tau, lo), np.where(above, hi, tau)
    return np.maximum(z - (lo + hi) / 2, 0)


EDGES = np.array([[-2.0, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 2.0]], dtype="float32")
HAND = {
    "hard_shrink": [-2.0, -1.0, -0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.75, 1.0, 2.0],  # |x| > 0.5 strictly: f(±0.5) = 0
    "soft_shrink": [-1.5, -0.5, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 1.5],
    "hard_tanh": [-1.0, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0],
    "sparse_plus": [0.0, 0.0, 0.015625, 0.0625, 0.140625, 0.25, 0.390625, 0.5625, 0.765625, 1.0, 2.0],  # (x+1)²/4 on (-1, 1)
    "sparse_sigmoid": [0.0, 0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.0],
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_piecewise_activations_at_their_kinks(name: str) -> None:
    got = run_layer("Activation", EDGES, activation=name)
    np.testing.assert_allclose(got[0], HAND[name], rtol=0, atol=1e-7)
    np.testing.assert_allclose(got, _keras(name, EDGES), rtol=0, atol=1e-7)


def test_celu_is_elu_and_squareplus_log_sigmoid_tanh_shrink_hand_values() -> None:
    x = np.array([[-2.0, 0.0, 1.0, 3.0]], dtype="float64")
    np.testing.assert_allclose(activations.apply("celu", x), activations.apply("elu", x), rtol=1e-15)  # alpha = 1
    np.testing.assert_allclose(
        activations.apply("squareplus", x), [[np.sqrt(2) - 1, 1.0, (1 + np.sqrt(5)) / 2, (3 + np.sqrt(13)) / 2]], rtol=1e-15
    )
    log_sigmoid = [[-np.log1p(np.exp(2.0)), -np.log(2.0), -np.log1p(np.exp(-1.0)), -np.log1p(np.exp(-3.0))]]
    np.testing.assert_allclose(activations.apply("log_sigmoid", x), log_sigmoid, rtol=1e-15)
    np.testing.assert_allclose(activations.apply("tanh_shrink", x), x - np.tanh(x), rtol=1e-15)


def test_extreme_inputs_are_finite_and_accurate() -> None:
    x = np.array([[-3e38, -1e30, -1e4, -100.0, 0.0, 100.0, 1e4, 1e30, 3e38]], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        squareplus = activations.apply("squareplus", x)
        log_sigmoid = activations.apply("log_sigmoid", x)
    wide = x.astype(np.float64)
    with decimal.localcontext(prec=120):  # (x + sqrt(x² + 4)) / 2 exactly enough, with no cancellation at 120 digits
        exact = np.array([[float((decimal.Decimal(float(v)) + (decimal.Decimal(float(v)) ** 2 + 4).sqrt()) / 2) for v in x[0]]])
    np.testing.assert_allclose(squareplus, exact.astype(np.float32), rtol=1e-6)  # 1e-4 at -1e4, where Keras's formula gives 0
    assert squareplus[0, 2] > 0 and np.isfinite(squareplus).all()
    np.testing.assert_allclose(log_sigmoid, _keras("log_sigmoid", wide).astype(np.float32), rtol=1e-6, atol=1e-30)


def test_sparsemax_hand_derived_and_ties() -> None:
    x = np.array([[0.0, 0.5, 1.0], [1.0, 1.0, -5.0], [0.0, 0.0, 0.0], [3.0, -1.0, 0.0], [1e4, 1e4, 1e4 - 1]], dtype="float32")
    want = [[0.0, 0.25, 0.75], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    np.testing.assert_allclose(run_layer("Activation", x, activation="sparsemax"), want, rtol=1e-6, atol=1e-7)


def test_sparsemax_matches_an_independent_projection_and_keras_where_keras_is_right() -> None:
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(6, 5, 7)) * rng.choice([0.2, 1.0, 5.0], size=(6, 5, 1))).astype("float32")
    x[0, 0, :4] = 0.25  # a tie inside the support
    got = run_layer("Activation", x, activation="sparsemax")
    np.testing.assert_allclose(got, _projection(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-5)
    single = (got > 0).sum(axis=-1) == 1  # Keras 3.15 is right only where the support has one element (keras#23425)
    assert single.any() and (~single).any()
    np.testing.assert_allclose(got[single], _keras("sparsemax", x)[single], rtol=1e-6, atol=1e-7)


def test_glu_matches_keras_and_halves_the_last_axis() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 8)).astype("float32") * 3
    got = run_layer("Activation", x, activation="glu")
    assert got.shape == (2, 3, 4)
    np.testing.assert_allclose(got, _keras("glu", x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, x[..., :4] / (1 + np.exp(-x[..., 4:])), rtol=1e-6)
    infer = kernels()["Activation"].infer
    assert infer({"activation": "glu"}, [TensorType("float32", (None, 8))], {}) == [TensorType("float32", (None, 4))]
    assert infer({"activation": "glu"}, [TensorType("float32", (None, None))], {}) == [TensorType("float32", (None, None))]
    with pytest.raises(ShapeError, match=r"even size\. Received: last axis 7"):
        infer({"activation": "glu"}, [TensorType("float32", (None, 7))], {})


def test_glu_as_a_layer_activation_halves_that_layers_output() -> None:
    dense = kernels()["Dense"].infer
    attrs = {"units": 6, "activation": "glu", "use_bias": True}
    out = dense(attrs, [TensorType("float32", (None, 4))], {"kernel": (4, 6), "bias": (6,)})
    assert out[0].shape == (None, 3)
    with pytest.raises(ShapeError, match="even size"):
        dense({**attrs, "units": 5}, [TensorType("float32", (None, 4))], {"kernel": (4, 5), "bias": (5,)})
    with pytest.raises(ShapeError, match="keeps the state's shape"):
        kernels()["SimpleRNN"].infer({"activation": "glu"}, [TensorType("float32", (None, 3, 4))], {})
