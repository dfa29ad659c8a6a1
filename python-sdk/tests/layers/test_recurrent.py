"""SimpleRNN, LSTM and GRU against Keras 3 (torch backend) and a hand-derived value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kif.layers.recurrent import infer_rnn
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer

# (KIF type, extra attributes): GRU appears once per reset_after convention
VARIANTS = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {"reset_after": True}), ("GRU", {"reset_after": False})]
VARIANT_IDS = ["SimpleRNN", "LSTM", "GRU-after", "GRU-before"]
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def keras_rnn(layer_type: str, units: int, features: int, seed: int = 0, **config: Any) -> Any:
    """A built Keras layer with random weights (scaled so the gates do not saturate)."""
    import keras

    layer = getattr(keras.layers, layer_type)(units, **config)
    layer.build((None, None, features))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def kif_weights(layer: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Keras weights under KIF roles: a reset_after GRU's [2, 3*units] bias splits into bias and recurrent_bias."""
    import keras

    cell = layer.cell
    out = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel}
    if cell.use_bias:
        bias = keras.ops.convert_to_numpy(cell.bias)
        if getattr(cell, "reset_after", False):
            out["bias"], out["recurrent_bias"] = bias[0], bias[1]
        else:
            out["bias"] = bias
    return {prefix + role: np.asarray(keras.ops.convert_to_numpy(w)) for role, w in out.items()}


def num_outputs(layer_type: str, return_state: bool) -> int:
    return 1 + N_STATES[layer_type] if return_state else 1


def as_list(value: Any) -> list[np.ndarray]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def sequence(shape: tuple[int, ...] = (3, 6, 4), seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_simple_rnn_matches_hand_derived_value() -> None:
    # units=1, linear: h1 = 0.5*1 + 0.1 = 0.6; h2 = 0.5*2 + 0.5*0.6 + 0.1 = 1.4; h3 = 0.5*(-1) + 0.5*1.4 + 0.1 = 0.3
    x = np.array([[[1.0], [2.0], [-1.0]]], dtype="float32")
    w = {"kernel": np.array([[0.5]], "float32"), "recurrent_kernel": np.array([[0.5]], "float32"), "bias": np.array([0.1], "float32")}
    got = run_layer("SimpleRNN", x, w, units=1, activation="linear", return_sequences=True)
    np.testing.assert_allclose(got, [[[0.6], [1.4], [0.3]]], rtol=1e-6)
    backwards = run_layer("SimpleRNN", x, w, units=1, activation="linear", return_sequences=True, go_backwards=True)
    # processing order -1, 2, 1: h = -0.4, 1.1 - 0.2 = 0.9, 0.6 + 0.45 = 1.05; output stays in processing order
    np.testing.assert_allclose(backwards, [[[-0.4], [0.9], [1.05]]], rtol=1e-6)


def test_gru_reset_before_matches_hand_derived_value() -> None:
    # units=1, linear activations, no bias; kernel [z, r, h] = [1, 1, 1], recurrent [z, r, h] = [0, 0, 2]
    x = np.array([[[0.5], [0.5]]], dtype="float32")
    w = {"kernel": np.array([[1.0, 1.0, 1.0]], "float32"), "recurrent_kernel": np.array([[0.0, 0.0, 2.0]], "float32")}
    got = run_layer(
        "GRU", x, w, units=1, activation="linear", recurrent_activation="linear", use_bias=False, reset_after=False, return_sequences=True
    )
    # t1: z = 0.5, r = 0.5, cand = 0.5 + 2*(0.5*0) = 0.5, h = 0.5*0 + 0.5*0.5 = 0.25
    # t2: z = 0.5, r = 0.5, cand = 0.5 + 2*(0.5*0.25) = 0.75, h = 0.5*0.25 + 0.5*0.75 = 0.5
    np.testing.assert_allclose(got, [[[0.25], [0.5]]], rtol=1e-6)
    after = run_layer(
        "GRU", x, w, units=1, activation="linear", recurrent_activation="linear", use_bias=False, reset_after=True, return_sequences=True
    )
    # reset after: cand = x_h + r * (h @ R_h): same values here since r*(2h) = 2*(r*h) for one unit
    np.testing.assert_allclose(after, [[[0.25], [0.5]]], rtol=1e-6)


@pytest.mark.parametrize(("layer_type", "extra"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_matches_keras(layer_type: str, extra: dict[str, Any], return_sequences: bool, return_state: bool, go_backwards: bool) -> None:
    flags = {"return_sequences": return_sequences, "return_state": return_state, "go_backwards": go_backwards, **extra}
    layer = keras_rnn(layer_type, 5, 4, **flags)
    x = sequence()
    expected = as_list(keras_output(layer, x))
    got = as_list(run_layer(layer_type, x, kif_weights(layer), num_outputs=num_outputs(layer_type, return_state), units=5, **flags))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e, layer_type)


@pytest.mark.parametrize(("layer_type", "extra"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_with_mask_matches_keras(
    layer_type: str, extra: dict[str, Any], return_sequences: bool, zero_output_for_mask: bool, go_backwards: bool
) -> None:
    import keras

    flags = {"return_sequences": return_sequences, "go_backwards": go_backwards, "return_state": True, **extra}
    layer = keras_rnn(layer_type, 3, 4, zero_output_for_mask=zero_output_for_mask, **flags)
    x = sequence((4, 6, 4))
    # masked steps at the start, in the middle, at the end, and one fully masked sample
    mask = np.array([[0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 0, 0], [1, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=bool)
    expected = as_list(keras_output(layer, x, mask=keras.ops.convert_to_tensor(mask)))
    got = run_layer(
        layer_type, [x, *[None] * N_STATES[layer_type], mask], kif_weights(layer),
        num_outputs=num_outputs(layer_type, True), units=3, zero_output_for_mask=zero_output_for_mask, **flags,
    )  # fmt: skip
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e, layer_type)


@pytest.mark.parametrize(("layer_type", "extra"), VARIANTS, ids=VARIANT_IDS)
def test_rnn_initial_state_and_mask_match_keras(layer_type: str, extra: dict[str, Any]) -> None:
    import keras

    layer = keras_rnn(layer_type, 3, 4, return_sequences=True, return_state=True, **extra)
    x = sequence()
    rng = np.random.default_rng(7)
    states = [rng.normal(size=(3, 3)).astype("float32") for _ in range(N_STATES[layer_type])]
    mask = np.array([[0, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 0]], dtype=bool)
    expected = as_list(keras_output(layer, x, initial_state=states, mask=keras.ops.convert_to_tensor(mask)))
    got = run_layer(
        layer_type, [x, *states, mask], kif_weights(layer), num_outputs=num_outputs(layer_type, True),
        units=3, return_sequences=True, return_state=True, **extra,
    )  # fmt: skip
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e, layer_type)
    # a leading masked step outputs zeros (no previous output) while the state stays the initial state
    np.testing.assert_array_equal(got[0][0, 0], np.zeros(3, "float32"))


@pytest.mark.parametrize(("layer_type", "extra"), VARIANTS, ids=VARIANT_IDS)
def test_rnn_options_match_keras(layer_type: str, extra: dict[str, Any]) -> None:
    options: dict[str, Any] = {"use_bias": False, "activation": "relu"}
    if layer_type != "SimpleRNN":
        options["recurrent_activation"] = "hard_sigmoid"
    layer = keras_rnn(layer_type, 4, 3, return_sequences=True, **options, **extra)
    x = sequence((2, 5, 3))
    got = run_layer(layer_type, x, kif_weights(layer), units=4, return_sequences=True, **options, **extra)
    assert_close(got, keras_output(layer, x), layer_type)


@pytest.mark.parametrize(("layer_type", "extra"), VARIANTS, ids=VARIANT_IDS)
def test_rnn_float16_runs_within_the_float16_tolerance(layer_type: str, extra: dict[str, Any]) -> None:
    layer = keras_rnn(layer_type, 4, 4, return_sequences=True, **extra)
    x = sequence()
    weights = {role: w.astype("float16") for role, w in kif_weights(layer).items()}
    got = run_layer(layer_type, x.astype("float16"), weights, units=4, return_sequences=True, **extra)
    assert got.dtype == np.float16
    assert_close(got, keras_output(layer, x.astype("float16").astype("float32")), layer_type, "float16")


def _attrs(layer_type: str, **overrides: Any) -> dict[str, Any]:
    from kif import catalog

    return {**catalog.get(layer_type).defaults, "units": 2, **overrides}


def test_shape_rule_rejects_bad_inputs() -> None:
    x = TensorType("float32", (None, 5, 3))
    weights = {"kernel": (3, 8), "recurrent_kernel": (2, 8), "bias": (8,)}
    assert infer_rnn("LSTM", _attrs("LSTM"), [x], weights) == [TensorType("float32", (None, 2))]
    with pytest.raises(ShapeError, match="expected a bool mask"):
        infer_rnn("LSTM", _attrs("LSTM"), [x, None, None, TensorType("float32", (None, 5))], weights)
    with pytest.raises(ShapeError, match="all 2 initial states or none"):
        infer_rnn("LSTM", _attrs("LSTM"), [x, TensorType("float32", (None, 2))], weights)
    with pytest.raises(ShapeError, match=r"expected kernel of shape \[3, 8\]"):
        infer_rnn("LSTM", _attrs("LSTM"), [x], {**weights, "kernel": (3, 6)})
    with pytest.raises(ShapeError, match="rank 3"):
        infer_rnn("GRU", _attrs("GRU"), [TensorType("float32", (None, 3))], {})
    states = infer_rnn("GRU", _attrs("GRU", return_state=True, return_sequences=True), [x], {})
    assert states == [TensorType("float32", (None, 5, 2)), TensorType("float32", (None, 2))]


def test_gru_weight_roles_follow_use_bias_and_reset_after() -> None:
    from kif import catalog

    gru = catalog.get("GRU")
    base = {"kernel", "recurrent_kernel"}
    assert gru.required_weights(_attrs("GRU")) == base | {"bias", "recurrent_bias"}
    assert gru.required_weights(_attrs("GRU", reset_after=False)) == base | {"bias"}
    assert gru.required_weights(_attrs("GRU", use_bias=False)) == base
