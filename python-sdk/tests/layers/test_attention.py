"""Attention, AdditiveAttention, MultiHeadAttention and GroupQueryAttention against Keras 3 (torch backend).

Input order (spec): Attention/AdditiveAttention [query, value, key?, query_mask?, value_mask?];
MultiHeadAttention/GroupQueryAttention [query, value, key?, query_mask?, value_mask?, key_mask?, attention_mask?].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kif.errors import GraphError
from kif.layers.attention import Attention
from kif.layers.registry import TensorType
from tests.layers.harness import assert_close, run_layer

RNG = np.random.default_rng(7)


def _f32(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * RNG.normal(size=shape)).astype("float32")


def _np(x: Any) -> Any:
    import keras

    if isinstance(x, (list, tuple)):
        return [keras.ops.convert_to_numpy(t) for t in x]
    return keras.ops.convert_to_numpy(x)


def _with_keras_mask(x: np.ndarray, mask: np.ndarray) -> Any:
    """A torch tensor carrying a Keras mask: Keras MHA/GQA read the query mask only from the tensor."""
    import torch
    from keras.src import backend

    t = torch.tensor(x)
    backend.set_keras_mask(t, torch.tensor(mask))
    return t


# Masks: batch 0 partly masked, batch 1 with other gaps; no row is fully masked.
Q_MASK = np.array([[True, True, False, True], [True, False, True, True]])
V_MASK = np.array([[True, True, True, False, False], [False, True, True, True, True]])
K_MASK = np.array([[True, False, True, True, True], [True, True, True, True, False]])


# --- Attention -------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_dot_matches_keras(use_scale: bool, with_key: bool) -> None:
    import keras

    q, v, k = _f32(2, 4, 6), _f32(2, 5, 3), _f32(2, 5, 6)
    if not with_key:
        v = _f32(2, 5, 6)
    layer = keras.layers.Attention(use_scale=use_scale)
    args = [q, v, k] if with_key else [q, v]
    layer.build([a.shape for a in args])
    weights = {}
    if use_scale:
        layer.scale.assign(0.7)
        weights["scale"] = np.array(0.7, dtype="float32")
    expected = _np(layer(args))
    got = run_layer("Attention", args, weights, use_scale=use_scale)
    assert_close(got, expected, "Attention")


def test_attention_self_attention_with_masks_causal_and_scores() -> None:
    import keras

    x = _f32(2, 4, 6)
    layer = keras.layers.Attention(use_scale=True)
    layer.build([x.shape, x.shape])
    layer.scale.assign(0.5)
    v_mask = Q_MASK  # Tv = Tq = 4; key 0 is unmasked, so no row is empty under the causal mask
    out, scores = _np(layer([x, x], mask=[Q_MASK, v_mask], use_causal_mask=True, return_attention_scores=True))
    got = run_layer(
        "Attention",
        [x, x, None, Q_MASK, v_mask],
        {"scale": np.array(0.5, dtype="float32")},
        num_outputs=2,
        use_scale=True,
        use_causal_mask=True,
        return_attention_scores=True,
    )
    assert_close(got[0], out, "Attention")
    assert_close(got[1], scores, "Attention")
    assert np.all(got[0][~Q_MASK] == 0)  # masked query rows are exactly zero


def test_attention_rank4_leading_axes_match_keras() -> None:
    import keras

    q, v = _f32(2, 3, 4, 5), _f32(2, 3, 6, 5)
    expected = _np(keras.layers.Attention()([q, v]))
    assert_close(run_layer("Attention", [q, v]), expected, "Attention")


def test_attention_fully_masked_row_is_uniform() -> None:
    """KIF rule: a query row with every key masked gets weights 1/Tv (Keras agrees while |scores| < 32)."""
    import keras

    q, v = _f32(2, 3, 4, scale=0.3), _f32(2, 5, 4, scale=0.3)
    v_mask = np.array([[True, False, True, True, False], [False] * 5])
    out, scores = _np(keras.layers.Attention()([q, v], mask=[None, v_mask], return_attention_scores=True))
    got = run_layer("Attention", [q, v, None, None, v_mask], num_outputs=2, return_attention_scores=True)
    np.testing.assert_array_equal(got[1][1], np.full((3, 5), 0.2, dtype="float32"))  # hand-derived
    np.testing.assert_allclose(got[0][1], np.broadcast_to(v[1].mean(axis=0), (3, 4)), rtol=1e-6, atol=1e-6)
    assert np.all(got[1][0][:, [1, 4]] == 0)  # masked keys get exactly zero weight
    assert_close(got[0], out, "Attention")
    assert_close(got[1], scores, "Attention")


@pytest.mark.parametrize("use_scale", [False, True])
def test_attention_concat_matches_keras(use_scale: bool) -> None:
    # The bundle round trip needs the catalog to read `when: "score_mode=concat"` (see the report);
    # until then this checks the shape rule and the kernel directly against Keras.
    import keras

    q, v, k = _f32(2, 4, 6), _f32(2, 5, 3), _f32(2, 5, 6)
    layer = keras.layers.Attention(use_scale=use_scale, score_mode="concat")
    layer.build([q.shape, v.shape, k.shape])
    layer.concat_score_weight.assign(1.3)
    weights = {"concat_score_weight": np.array(1.3, dtype="float32")}
    if use_scale:
        layer.scale.assign(0.6)
        weights["scale"] = np.array(0.6, dtype="float32")
    out, scores = _np(layer([q, v, k], mask=[None, V_MASK], use_causal_mask=True, return_attention_scores=True))
    attrs = {"use_scale": use_scale, "score_mode": "concat", "use_causal_mask": True, "return_attention_scores": True}
    inputs = [q, v, k, None, V_MASK]
    types = [None if a is None else TensorType(str(a.dtype), a.shape) for a in inputs]
    shapes = Attention.infer(attrs, types, {r: w.shape for r, w in weights.items()})
    got = Attention.run(attrs, inputs, weights)
    assert [t.shape for t in shapes] == [g.shape for g in got]
    assert_close(got[0], out, "Attention")
    assert_close(got[1], scores, "Attention")


def test_attention_shape_rule_rejects_mismatched_key() -> None:
    with pytest.raises(GraphError, match="same last axis"):
        run_layer("Attention", [_f32(2, 4, 6), _f32(2, 5, 3)])


# --- AdditiveAttention -----------------------------------------------------------------------------


@pytest.mark.parametrize("use_scale", [True, False])
@pytest.mark.parametrize("with_key", [False, True])
def test_additive_attention_matches_keras(use_scale: bool, with_key: bool) -> None:
    import keras

    q, v, k = _f32(2, 4, 6), _f32(2, 5, 3 if with_key else 6), _f32(2, 5, 6)
    args = [q, v, k] if with_key else [q, v]
    layer = keras.layers.AdditiveAttention(use_scale=use_scale)
    layer.build([a.shape for a in args])
    weights = {"scale": _np(layer.scale)} if use_scale else {}
    out, scores = _np(layer(args, mask=[Q_MASK, V_MASK], return_attention_scores=True))
    inputs = [*args, *([None] if not with_key else []), Q_MASK, V_MASK]
    got = run_layer("AdditiveAttention", inputs, weights, num_outputs=2, use_scale=use_scale, return_attention_scores=True)
    assert_close(got[0], out, "AdditiveAttention")
    assert_close(got[1], scores, "AdditiveAttention")


def test_additive_attention_causal_matches_keras() -> None:
    import keras

    x = _f32(3, 5, 4)
    layer = keras.layers.AdditiveAttention()
    layer.build([x.shape, x.shape])
    expected = _np(layer([x, x], use_causal_mask=True))
    got = run_layer("AdditiveAttention", [x, x], {"scale": _np(layer.scale)}, use_causal_mask=True)
    assert_close(got, expected, "AdditiveAttention")


# --- MultiHeadAttention ----------------------------------------------------------------------------


def _dense_weights(prefix: str, dense: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A sub-layer's kernel, and a random (non-zero) bias assigned to it, in Keras layout."""
    out = {f"{prefix}_kernel": _np(dense.kernel)}
    if dense.bias is not None:
        bias = rng.normal(scale=0.3, size=tuple(dense.bias.shape)).astype("float32")
        dense.bias.assign(bias)
        out[f"{prefix}_bias"] = bias
    return out


def _projection_weights(layer: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    weights: dict[str, np.ndarray] = {}
    for prefix, dense in (
        ("query", layer._query_dense),
        ("key", layer._key_dense),
        ("value", layer._value_dense),
        ("output", layer._output_dense),
    ):
        weights |= _dense_weights(prefix, dense, rng)
    if getattr(layer, "_use_gate", getattr(layer, "use_gate", False)):
        weights |= _dense_weights("gate", layer._gate_dense, rng)
    return weights


def _mha(q: np.ndarray, v: np.ndarray, k: np.ndarray | None = None, **config: Any) -> tuple[Any, dict[str, np.ndarray]]:
    import keras

    layer = keras.layers.MultiHeadAttention(**config)
    layer.build(q.shape, v.shape, None if k is None else k.shape)
    return layer, _projection_weights(layer)


@pytest.mark.parametrize(
    "config",
    [
        {"num_heads": 2, "key_dim": 3},
        {"num_heads": 3, "key_dim": 4, "value_dim": 2, "output_shape": 5},
        {"num_heads": 2, "key_dim": 3, "value_dim": 5, "use_bias": False},
    ],
)
@pytest.mark.parametrize("cross", [False, True])
def test_mha_matches_keras(config: dict[str, Any], cross: bool) -> None:
    q = _f32(2, 4, 6)
    v, k = (_f32(2, 5, 7), _f32(2, 5, 3)) if cross else (q, None)
    layer, weights = _mha(q, v, k, **config)
    expected = _np(layer(q, v, key=k))
    got = run_layer("MultiHeadAttention", [q, v] if k is None else [q, v, k], weights, **config)
    assert_close(got, expected, "MultiHeadAttention")


def test_mha_masks_causal_and_scores_match_keras() -> None:
    q, v, k = _f32(2, 4, 6), _f32(2, 5, 6), _f32(2, 5, 4)
    attention_mask = RNG.random((2, 4, 5)) > 0.3
    attention_mask[:, :, 0] = True  # with the causal mask every row keeps key 0
    v_mask = V_MASK.copy()
    v_mask[:, 0] = True
    layer, weights = _mha(q, v, k, num_heads=2, key_dim=3)
    out, scores = _np(
        layer(
            _with_keras_mask(q, Q_MASK),
            v,
            key=k,
            value_mask=v_mask,
            key_mask=K_MASK,
            attention_mask=attention_mask,
            use_causal_mask=True,
            return_attention_scores=True,
        )
    )
    # Masked query rows are fully masked; KIF gives them uniform weights where Keras's scores path gives zeros.
    live = np.broadcast_to(Q_MASK[:, None, :, None], scores.shape)
    got = run_layer(
        "MultiHeadAttention",
        [q, v, k, Q_MASK, v_mask, K_MASK, attention_mask],
        weights,
        num_outputs=2,
        num_heads=2,
        key_dim=3,
        use_causal_mask=True,
        return_attention_scores=True,
    )
    assert_close(np.where(live, got[1], 0), np.where(live, scores, 0), "MultiHeadAttention")
    assert_close(got[0][Q_MASK], out[Q_MASK], "MultiHeadAttention")
    np.testing.assert_allclose(got[1][~live].reshape(-1, 5), 0.2, rtol=1e-6)  # hand-derived: uniform over 5 keys


def test_mha_fully_masked_rows_match_keras_default_path() -> None:
    """Keras's default path (rank 3, no scores, no dropout) also gives fully masked rows uniform weights."""
    q, v = _f32(2, 4, 6), _f32(2, 5, 6)
    layer, weights = _mha(q, v, num_heads=2, key_dim=3)
    v_mask = np.array([[True, False, True, False, False], [False] * 5])
    expected = _np(layer(_with_keras_mask(q, Q_MASK), v, value_mask=v_mask))
    got = run_layer("MultiHeadAttention", [q, v, None, Q_MASK, v_mask], weights, num_heads=2, key_dim=3)
    assert_close(got, expected, "MultiHeadAttention")


@pytest.mark.parametrize("causal", [False, True])
def test_mha_sliding_window_matches_keras(causal: bool) -> None:
    x = _f32(2, 6, 4)
    layer, weights = _mha(x, x, num_heads=2, key_dim=2, sliding_window=2)
    expected = _np(layer(x, x, use_causal_mask=causal))
    got = run_layer("MultiHeadAttention", [x, x], weights, num_heads=2, key_dim=2, sliding_window=2, use_causal_mask=causal)
    assert_close(got, expected, "MultiHeadAttention")


def test_mha_gate_matches_keras() -> None:
    q, v = _f32(2, 4, 6), _f32(2, 5, 6)
    layer, weights = _mha(q, v, num_heads=2, key_dim=3, value_dim=4, use_gate=True)
    assert set(weights) >= {"gate_kernel", "gate_bias"}
    expected = _np(layer(q, v))
    got = run_layer("MultiHeadAttention", [q, v], weights, num_heads=2, key_dim=3, value_dim=4, use_gate=True)
    assert_close(got, expected, "MultiHeadAttention")


@pytest.mark.parametrize("axes", [None, [2], [1, 2], [-2]])
def test_mha_attention_axes_match_keras(axes: list[int] | None) -> None:
    q, v = _f32(2, 3, 4, 5), _f32(2, 3, 2, 5)
    if axes != [2] and axes != [-2]:
        v = _f32(2, 2, 3, 5)  # both axes attended: key positions may differ in every attention axis
    layer, weights = _mha(q, v, num_heads=2, key_dim=3, attention_axes=axes)
    out, scores = _np(layer(q, v, return_attention_scores=True))
    got = run_layer(
        "MultiHeadAttention", [q, v], weights, num_outputs=2, num_heads=2, key_dim=3, attention_axes=axes, return_attention_scores=True
    )
    assert_close(got[0], out, "MultiHeadAttention")
    assert_close(got[1], scores, "MultiHeadAttention")


def test_mha_attention_mask_with_two_attention_axes_matches_keras() -> None:
    q, v = _f32(2, 3, 4, 5), _f32(2, 2, 3, 5)
    mask = RNG.random((2, 3, 4, 2, 3)) > 0.3
    mask[..., 0, 0] = True
    layer, weights = _mha(q, v, num_heads=2, key_dim=3)
    expected = _np(layer(q, v, attention_mask=mask))
    got = run_layer("MultiHeadAttention", [q, v, None, None, None, None, mask], weights, num_heads=2, key_dim=3)
    assert_close(got, expected, "MultiHeadAttention")


def test_mha_shape_rule_errors() -> None:
    q = _f32(2, 3, 4, 5)
    _, weights = _mha(q, q, num_heads=1, key_dim=2)
    with pytest.raises(GraphError, match="single attention axis"):
        run_layer("MultiHeadAttention", [q, q], weights, num_heads=1, key_dim=2, use_causal_mask=True)
    with pytest.raises(GraphError, match="attention_axes"):
        run_layer("MultiHeadAttention", [q, q], weights, num_heads=1, key_dim=2, attention_axes=[3])
    x = _f32(2, 3, 5)
    with pytest.raises(GraphError, match="value_mask of dtype bool"):
        run_layer(
            "MultiHeadAttention",
            [x, x, None, None, np.ones((2, 3), "float32")],
            _mha(x, x, num_heads=1, key_dim=2)[1],
            num_heads=1,
            key_dim=2,
        )


# --- GroupQueryAttention ---------------------------------------------------------------------------


def _gqa(q: np.ndarray, v: np.ndarray, k: np.ndarray | None = None, **config: Any) -> tuple[Any, dict[str, np.ndarray]]:
    import keras

    layer = keras.layers.GroupQueryAttention(**config)
    layer.build(q.shape, v.shape, None if k is None else k.shape)
    return layer, _projection_weights(layer)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("use_bias", [True, False])
def test_gqa_matches_keras(kv_heads: int, use_bias: bool) -> None:
    q, v, k = _f32(2, 4, 6), _f32(2, 5, 6), _f32(2, 5, 3)
    config = {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": kv_heads, "use_bias": use_bias}
    layer, weights = _gqa(q, v, k, **config)
    out, scores = _np(layer(q, v, key=k, return_attention_scores=True))
    got = run_layer("GroupQueryAttention", [q, v, k], weights, num_outputs=2, return_attention_scores=True, **config)
    assert_close(got[0], out, "GroupQueryAttention")
    assert_close(got[1], scores, "GroupQueryAttention")


def test_gqa_masks_causal_window_and_gate_match_keras() -> None:
    x = _f32(2, 5, 6)
    config = {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, "sliding_window": 3, "use_gate": True}
    layer, weights = _gqa(x, x, **config)
    attention_mask = RNG.random((2, 5, 5)) > 0.4
    v_mask = V_MASK
    band = np.tril(np.ones((5, 5), bool)) & (np.abs(np.subtract.outer(range(5), range(5))) < 3)
    # Some rows end up fully masked: Keras's default path agrees with KIF's uniform rule there.
    assert not (attention_mask & v_mask[:, None, :] & band).any(axis=-1).all()
    expected = _np(layer(x, x, value_mask=v_mask, attention_mask=attention_mask, use_causal_mask=True))
    got = run_layer("GroupQueryAttention", [x, x, None, None, v_mask, None, attention_mask], weights, use_causal_mask=True, **config)
    assert_close(got, expected, "GroupQueryAttention")


def test_gqa_query_value_key_masks_match_keras() -> None:
    x = _f32(2, 4, 6)
    config = {"head_dim": 3, "num_query_heads": 2, "num_key_value_heads": 1}
    layer, weights = _gqa(x, x, **config)
    key_mask = np.array([[True, True, False, True], [False, True, True, True]])
    expected = _np(layer(x, x, query_mask=Q_MASK, value_mask=Q_MASK, key_mask=key_mask))
    got = run_layer("GroupQueryAttention", [x, x, None, Q_MASK, Q_MASK, key_mask], weights, **config)
    assert_close(got, expected, "GroupQueryAttention")


def test_gqa_rejects_indivisible_heads() -> None:
    x = _f32(1, 2, 4)
    with pytest.raises(GraphError, match="divisible"):
        run_layer(
            "GroupQueryAttention",
            [x, x],
            {"query_kernel": np.zeros((4, 3, 2), "float32")},
            head_dim=2,
            num_query_heads=3,
            num_key_value_heads=2,
            use_bias=False,
        )


# --- float16 ----------------------------------------------------------------------------------------


def test_float16_inputs_stay_float16_and_match_keras_float32() -> None:
    """Half-precision inputs give half-precision outputs within the float16 tolerance of a float32 oracle."""
    q, v = _f32(2, 4, 6).astype("float16"), _f32(2, 5, 6).astype("float16")
    layer, weights = _mha(q, v, num_heads=2, key_dim=3)
    expected = _np(layer(q.astype("float32"), v.astype("float32"), value_mask=V_MASK))
    got = run_layer("MultiHeadAttention", [q, v, None, None, V_MASK], weights, num_heads=2, key_dim=3)
    assert got.dtype == np.float16
    assert_close(got, expected, "MultiHeadAttention", "float16")
    import keras

    expected = _np(keras.layers.Attention()([q.astype("float32"), v.astype("float32")], use_causal_mask=True))
    got = run_layer("Attention", [q, v], use_causal_mask=True)
    assert got.dtype == np.float16
    assert_close(got, expected, "Attention", "float16")
