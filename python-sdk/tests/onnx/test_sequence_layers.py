"""RNNs (native ONNX ops and the masked Scan lowering), wrappers and attention, against Keras 3 (torch backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import pytest

import kif.onnx
from tests.layers.test_attention import K_MASK, Q_MASK, V_MASK, _gqa, _mha, _np, _with_keras_mask
from tests.layers.test_recurrent import N_STATES, keras_rnn, kif_weights
from tests.onnx.helpers import feeds_for, one_layer, run_onnx, tolerance

RNG = np.random.default_rng(11)
# Arbitrary masks, not right padding: gaps in the middle and at the start.
MASK = np.array([[True, False, True, True, False, True], [False, False, True, True, True, False]])
VARIANTS = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {"reset_after": True}), ("GRU", {"reset_after": False})]
IDS = ["SimpleRNN", "LSTM", "GRU-after", "GRU-before"]


def f32(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype("float32")


def _as_list(value: Any) -> list[np.ndarray]:
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in (value if isinstance(value, (list, tuple)) else [value])]


def _ops(tmp_path: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(tmp_path / "model.onnx")).graph.node}


@pytest.mark.parametrize(("kind", "extra"), VARIANTS, ids=IDS)
@pytest.mark.parametrize(
    "config",
    [
        {},
        {"return_sequences": True, "go_backwards": True},
        {"return_sequences": True, "return_state": True, "activation": "relu"},
    ],
    ids=["last", "seq-backwards", "seq-states"],
)
def test_rnn_native_matches_keras(kind: str, extra: dict[str, Any], config: dict[str, Any], tmp_path: Path) -> None:
    x = f32(2, 6, 4)
    layer = keras_rnn(kind, 3, 4, **extra, **config)
    expected = _as_list(layer(x))
    n_out = 1 + N_STATES[kind] if config.get("return_state") else 1
    got = run_onnx(one_layer(kind, [x], kif_weights(layer), num_outputs=n_out, units=3, **extra, **config), {"in0": x}, tmp_path)
    assert {"RNN", "LSTM", "GRU"} & _ops(tmp_path), "expected the native ONNX recurrent op"
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, **tolerance(kind))


@pytest.mark.parametrize(("kind", "extra"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("backwards", [False, True])
def test_rnn_arbitrary_mask_matches_keras(kind: str, extra: dict[str, Any], backwards: bool, tmp_path: Path) -> None:
    x = f32(2, 6, 4)
    states = [f32(2, 3) for _ in range(N_STATES[kind])]
    config = {"return_sequences": True, "return_state": True, "go_backwards": backwards}
    layer = keras_rnn(kind, 3, 4, **extra, **config)
    expected = _as_list(layer(x, initial_state=states, mask=MASK))
    inputs = [x, *states, MASK]
    model = one_layer(kind, inputs, kif_weights(layer), num_outputs=1 + N_STATES[kind], units=3, **extra, **config)
    got = run_onnx(model, feeds_for(inputs), tmp_path)
    assert "Scan" in _ops(tmp_path)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, **tolerance(kind))


def test_lstm_hard_sigmoid_and_zero_output_for_mask(tmp_path: Path) -> None:
    x = f32(2, 6, 4)
    layer = keras_rnn("LSTM", 3, 4, return_sequences=True, recurrent_activation="hard_sigmoid")
    expected = _as_list(layer(x, mask=MASK))[0]
    inputs = [x, None, None, MASK]
    model = one_layer("LSTM", inputs, kif_weights(layer), units=3, return_sequences=True, recurrent_activation="hard_sigmoid")
    (got,) = run_onnx(model, feeds_for(inputs), tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("LSTM"))
    # zero_output_for_mask: masked steps output 0 (hand rule of spec/layers/LSTM.md), unmasked steps are unchanged
    model = one_layer(
        "LSTM", inputs, kif_weights(layer), units=3, return_sequences=True, recurrent_activation="hard_sigmoid", zero_output_for_mask=True
    )
    (zeroed,) = run_onnx(model, feeds_for(inputs), tmp_path)
    np.testing.assert_allclose(zeroed, np.where(MASK[..., None], expected, 0), **tolerance("LSTM"))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_masked_matches_keras(merge_mode: str | None, tmp_path: Path) -> None:
    from kif.layers.wrappers import nested_layer

    x = f32(2, 6, 4)
    layer = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True), merge_mode=merge_mode)
    layer(x)
    rng = np.random.default_rng(2)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    expected = _as_list(layer(x, mask=MASK))
    weights = {f"forward_{r}": w for r, w in kif_weights(layer.forward_layer).items()}
    weights |= {f"backward_{r}": w for r, w in kif_weights(layer.backward_layer).items()}
    assert layer.forward_layer.zero_output_for_mask  # Keras's Bidirectional sets it for return_sequences
    attrs = {
        "merge_mode": merge_mode,
        "forward": nested_layer("GRU", units=3, return_sequences=True, zero_output_for_mask=True),
        "backward": nested_layer("GRU", units=3, return_sequences=True, go_backwards=True, zero_output_for_mask=True),
    }
    inputs = [x, None, None, MASK]
    got = run_onnx(one_layer("Bidirectional", inputs, weights, num_outputs=len(expected), **attrs), feeds_for(inputs), tmp_path)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, **tolerance("Bidirectional"))


def test_time_distributed_conv_matches_keras(tmp_path: Path) -> None:
    from kif.layers.wrappers import nested_layer

    x = f32(2, 3, 6, 6, 2)
    layer = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", activation="relu"))
    layer(x)
    kernel, bias = (np.random.default_rng(4).normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights())
    layer.set_weights([kernel, bias])
    expected = _np(layer(x))
    inner = nested_layer("Conv2D", filters=4, kernel_size=[3, 3], padding="same", activation="relu")
    (got,) = run_onnx(one_layer("TimeDistributed", [x], {"kernel": kernel, "bias": bias}, layer=inner), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("TimeDistributed"))


@pytest.mark.parametrize(
    "config",
    [
        {"num_heads": 2, "key_dim": 3},
        {"num_heads": 3, "key_dim": 4, "value_dim": 2, "output_shape": 5},
        {"num_heads": 2, "key_dim": 3, "use_bias": False},
    ],
)
def test_mha_matches_keras(config: dict[str, Any], tmp_path: Path) -> None:
    q, v, k = f32(2, 4, 6), f32(2, 5, 7), f32(2, 5, 3)
    layer, weights = _mha(q, v, k, **config)
    out, scores = _np(layer(q, v, key=k, return_attention_scores=True))
    inputs = [q, v, k]
    got = run_onnx(
        one_layer("MultiHeadAttention", inputs, weights, num_outputs=2, return_attention_scores=True, **config), feeds_for(inputs), tmp_path
    )
    np.testing.assert_allclose(got[0], out, **tolerance("MultiHeadAttention"))
    np.testing.assert_allclose(got[1], scores, **tolerance("MultiHeadAttention"))


def test_mha_masks_and_causal_match_keras(tmp_path: Path) -> None:
    q, v, k = f32(2, 4, 6), f32(2, 5, 6), f32(2, 5, 4)
    attention_mask = RNG.random((2, 4, 5)) > 0.3
    attention_mask[:, :, 0] = True
    v_mask = V_MASK.copy()
    v_mask[:, 0] = True
    layer, weights = _mha(q, v, k, num_heads=2, key_dim=3)
    expected = _np(
        layer(
            _with_keras_mask(q, Q_MASK), v, key=k, value_mask=v_mask, key_mask=K_MASK, attention_mask=attention_mask, use_causal_mask=True
        )
    )
    inputs = [q, v, k, Q_MASK, v_mask, K_MASK, attention_mask]
    (got,) = run_onnx(
        one_layer("MultiHeadAttention", inputs, weights, num_heads=2, key_dim=3, use_causal_mask=True, static=True),
        feeds_for(inputs),
        tmp_path,
    )
    np.testing.assert_allclose(got, expected, **tolerance("MultiHeadAttention"))


def test_mha_fully_masked_rows_are_uniform(tmp_path: Path) -> None:
    """KIF rule (hand value): a query row with every key masked gets weights 1/S; masked keys get exactly 0."""
    q, v = f32(2, 4, 6), f32(2, 5, 6)
    _, weights = _mha(q, v, num_heads=2, key_dim=3)
    v_mask = np.zeros((2, 5), bool)
    v_mask[1, 2:] = True
    inputs = [q, v, None, None, v_mask]
    _, probs = run_onnx(
        one_layer("MultiHeadAttention", inputs, weights, num_outputs=2, num_heads=2, key_dim=3, return_attention_scores=True),
        feeds_for(inputs),
        tmp_path,
    )
    np.testing.assert_allclose(probs[0], np.full((2, 4, 5), 0.2), rtol=1e-6)
    np.testing.assert_allclose(probs[1][..., :2], 0.0, atol=0)
    np.testing.assert_allclose(probs[1].sum(-1), 1.0, rtol=1e-5)


def test_gqa_with_causal_window_and_gate_matches_keras(tmp_path: Path) -> None:
    x = f32(2, 5, 6)
    config = {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, "sliding_window": 3, "use_gate": True, "use_causal_mask": True}
    layer, weights = _gqa(x, x, **{k: v for k, v in config.items() if k not in ("use_causal_mask",)})
    expected = _np(layer(x, x, use_causal_mask=True))
    (got,) = run_onnx(one_layer("GroupQueryAttention", [x, x], weights, static=True, **config), {"in0": x, "in1": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("GroupQueryAttention"))


@pytest.mark.parametrize("kind", ["Attention", "AdditiveAttention"])
def test_luong_and_bahdanau_match_keras(kind: str, tmp_path: Path) -> None:
    q, v = f32(2, 4, 5), f32(2, 6, 5)
    layer = getattr(keras.layers, kind)(use_scale=True)
    layer([q, v])
    weights = {"scale": (np.full((5,), 0.7) if kind == "AdditiveAttention" else np.asarray(0.7)).astype("float32")}
    layer.set_weights([weights["scale"]])
    q_mask, v_mask = Q_MASK, np.array([[True, True, False, True, True, False], [True, False, True, True, True, True]])
    out, scores = _np(layer([q, v], mask=[q_mask, v_mask], return_attention_scores=True))
    inputs = [q, v, None, q_mask, v_mask]
    got = run_onnx(
        one_layer(kind, inputs, weights, num_outputs=2, use_scale=True, return_attention_scores=True), feeds_for(inputs), tmp_path
    )
    np.testing.assert_allclose(got[0], out, **tolerance(kind))
    np.testing.assert_allclose(got[1], scores, **tolerance(kind))


def test_supported_list_and_reasons_cover_the_catalog() -> None:
    from kif import catalog

    assert set(kif.onnx.SUPPORTED) | set(kif.onnx.UNSUPPORTED) == set(catalog.catalog())
    assert not set(kif.onnx.SUPPORTED) & set(kif.onnx.UNSUPPORTED)
    assert all(kif.onnx.UNSUPPORTED.values())


@pytest.mark.parametrize("axes", [None, [2], [1, 2]])
def test_mha_attention_axes_match_keras(axes: list[int] | None, tmp_path: Path) -> None:
    q, v = f32(2, 3, 4, 5), f32(2, 3, 2, 5)
    layer, weights = _mha(q, v, num_heads=2, key_dim=3, attention_axes=axes)
    out, scores = _np(layer(q, v, return_attention_scores=True))
    model = one_layer(
        "MultiHeadAttention", [q, v], weights, num_outputs=2, num_heads=2, key_dim=3, attention_axes=axes, return_attention_scores=True
    )
    got = run_onnx(model, {"in0": q, "in1": v}, tmp_path)
    np.testing.assert_allclose(got[0], out, **tolerance("MultiHeadAttention"))
    np.testing.assert_allclose(got[1], scores, **tolerance("MultiHeadAttention"))
