"""Activation functions (spec/layers/activations.md) and the Activation layer against Keras 3 (torch backend)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from kif.layers import activations
from tests.layers.harness import assert_close, run_layer


def _keras(name: str) -> Callable[[Any], Any]:
    import keras

    a = keras.activations
    table: dict[str, Callable[[Any], Any]] = {
        "linear": a.linear,
        "relu": a.relu,
        "relu6": a.relu6,
        "leaky_relu": a.leaky_relu,  # Keras 3 default negative_slope=0.2
        "elu": a.elu,
        "selu": a.selu,
        "gelu": lambda x: a.gelu(x, approximate=False),
        "gelu_tanh": lambda x: a.gelu(x, approximate=True),
        "sigmoid": a.sigmoid,
        "hard_sigmoid": a.hard_sigmoid,
        "hard_silu": a.hard_silu,
        "silu": a.silu,
        "tanh": a.tanh,
        "softmax": a.softmax,
        "log_softmax": a.log_softmax,
        "softplus": a.softplus,
        "softsign": a.softsign,
        "exponential": a.exponential,
        "mish": a.mish,
    }
    return table.get(name) or getattr(a, name)  # the names added in KIF 0.2.0 are Keras's own, with its defaults


def _keras_value(name: str, x: np.ndarray) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(_keras(name)(x))


# Keras <= 3.15's sparsemax is wrong when the support has more than one element (keras-team/keras#23425);
# test_activations_extra.py checks it against an independent projection instead.
KERAS_NAMES = [n for n in activations.ACTIVATIONS if n not in ("hard_sigmoid_keras2", "sparsemax")]


def test_every_schema_name_has_a_kernel() -> None:
    from kif import schemas

    names = schemas.all_schemas()["common.schema.json"]["$defs"]["activation"]["enum"]
    assert sorted(names) == sorted(activations.ACTIVATIONS)


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_activation_layer_matches_keras(name: str) -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(4, 3, 9)) * 4).astype("float32")
    x[0, 0, :6] = [-3.0, 3.0, 0.0, -6.0, 6.0, 1e-3]  # the kinks of relu6 / hard_sigmoid / hard_silu
    x[0, 1, :6] = [-1.0, 1.0, -0.5, 0.5, 0.0, -1e-3]  # the kinks of the shrinks, sparse_plus, sparse_sigmoid, hard_tanh
    if name == "glu":
        x = x[..., :8]  # glu halves an even last axis
    got = run_layer("Activation", x, activation=name)
    assert got.dtype == np.float32
    assert_close(got, _keras_value(name, x), "Activation")


def test_hard_sigmoid_keras2_hand_derived() -> None:
    x = np.array([[-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0]], dtype="float32")
    got = run_layer("Activation", x, activation="hard_sigmoid_keras2")
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0]], rtol=1e-6, atol=1e-7)  # clip(0.2 x + 0.5, 0, 1)


def test_hard_sigmoid_is_keras3_relu6_form() -> None:
    x = np.array([[-3.0, -1.5, 0.0, 1.5, 3.0]], dtype="float32")
    np.testing.assert_allclose(activations.apply("hard_sigmoid", x), [[0.0, 0.25, 0.5, 0.75, 1.0]], rtol=1e-6)  # relu6(x + 3) / 6


def test_leaky_relu_default_slope_is_keras3_activation_default() -> None:
    x = np.array([[-10.0, -1.0, 0.0, 2.0]], dtype="float32")
    np.testing.assert_allclose(activations.apply("leaky_relu", x), [[-2.0, -0.2, 0.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(activations.apply("leaky_relu", x), _keras_value("leaky_relu", x), rtol=1e-6)


EXTREME = np.array([[-3e38, -1e30, -1e4, -745.0, -100.0, -30.0, -1e-30, 0.0, 1e-30, 30.0, 100.0, 745.0, 1e4, 1e30, 3e38]], dtype="float32")


@pytest.mark.parametrize(
    "name", ["softplus", "sigmoid", "silu", "mish", "gelu", "gelu_tanh", "elu", "selu", "tanh", "softsign", "hard_silu"]
)
def test_extreme_inputs_are_finite_warning_free_and_match_keras(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = activations.apply(name, EXTREME)
    assert got.dtype == np.float32
    assert not np.isnan(got).any()
    # Keras in float64 (its float32 gelu overflows to inf at 3e38, where the true value is 3e38), rounded to float32.
    expected = _keras_value(name, EXTREME.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_huge_logits_is_stable(name: str) -> None:
    x = np.array([[1e4, 1e4 - 1.0, -1e4], [3e38, 0.0, -3e37], [-1e4, -1e4, -1e4]], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = activations.apply(name, x)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, _keras_value(name, x), rtol=1e-6, atol=1e-30)
    if name == "softmax":
        e = math.exp(-1.0)
        np.testing.assert_allclose(got[0], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-6)
        np.testing.assert_allclose(got[2], [1 / 3] * 3, rtol=1e-6)


def test_sigmoid_tails_keep_relative_accuracy() -> None:
    x = np.array([-80.0, -20.0, 20.0], dtype="float32")
    expected = [1 / (1 + math.exp(80.0)), 1 / (1 + math.exp(20.0)), 1 / (1 + math.exp(-20.0))]
    np.testing.assert_allclose(activations.apply("sigmoid", x), expected, rtol=1e-6)


def test_exponential_overflows_to_inf_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = activations.apply("exponential", np.array([80.0, 1000.0, -1000.0], dtype="float32"))
    assert got[0] == np.float32(math.exp(80.0)) and np.isposinf(got[1]) and got[2] == 0.0


def test_erf_is_accurate_against_math_erf() -> None:
    x = np.concatenate([np.linspace(-9.0, 9.0, 36001), [0.0, 1.0, -1.0, 8.0, -8.0, 1e-300, 40.0, -40.0, 1e300, -1e300]])
    ref = np.array([math.erf(v) for v in x])
    ref_c = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(activations.erf(x), ref, rtol=0, atol=1e-15)
    np.testing.assert_allclose(activations.erfc(x), ref_c, rtol=1e-13, atol=1e-300)


def test_gelu_matches_an_exact_erf_reference_and_is_fast() -> None:
    x = np.random.default_rng(2).normal(scale=4.0, size=200_000).astype("float32")
    ref = np.array([0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x.astype(np.float64)[:20_000]])
    start = time.perf_counter()
    got = activations.apply("gelu", x)
    elapsed = time.perf_counter() - start
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[:20_000], ref, rtol=2e-7, atol=1e-37)  # correctly rounded float32, give or take an ulp
    assert elapsed < 0.5, f"gelu of 200k floats took {elapsed:.3f}s"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
@pytest.mark.parametrize("name", ["gelu", "sigmoid", "softplus", "softmax", "mish", "elu", "leaky_relu", "hard_silu"])
def test_results_keep_the_input_dtype(dtype: str, name: str) -> None:
    np_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    x = np.random.default_rng(3).normal(scale=3.0, size=(2, 7)).astype(np_dtype)
    got = activations.apply(name, x)
    assert got.dtype == np_dtype
    expected = _keras_value(name, x.astype(np.float32))  # exact float32 value, then compared at the dtype's tolerance
    tol = {"float16": 2e-3, "bfloat16": 1e-2, "float64": 1e-6}[dtype]
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol)


def test_float16_through_the_activation_layer() -> None:
    x = np.random.default_rng(4).normal(size=(3, 5)).astype("float16")
    got = run_layer("Activation", x, activation="gelu")
    assert got.dtype == np.float16
    assert_close(got, _keras_value("gelu", x.astype(np.float32)), "Activation", "float16")


def test_activation_layer_rejects_integer_input() -> None:
    import kif

    with pytest.raises(kif.KifError, match="floating input"):
        run_layer("Activation", np.array([[1, 2]], dtype="int32"), activation="relu")
