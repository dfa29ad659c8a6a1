"""The converted layers are real torch modules where torch's semantics match KIF's, and functional code where not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from torch import nn

import kif.torch
from tests.torch.harness import build_layer


def _rnn_weights(k: int, features: int = 3, units: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    w = {"kernel": (features, k * units), "recurrent_kernel": (units, k * units), "bias": (k * units,), "recurrent_bias": (k * units,)}
    return {role: rng.normal(size=shape).astype("float32") for role, shape in w.items()}


@pytest.mark.parametrize(
    ("layer_type", "k", "extra", "masked", "expected"),
    [
        ("LSTM", 4, {}, False, nn.LSTM),
        ("GRU", 3, {"reset_after": True}, False, nn.GRU),
        ("SimpleRNN", 1, {"activation": "relu"}, False, nn.RNN),
        ("GRU", 3, {"reset_after": False}, False, None),  # r multiplies h before the recurrent matmul: not nn.GRU's formula
        ("LSTM", 4, {"activation": "relu"}, False, None),
        ("LSTM", 4, {}, True, None),  # masks carry states forward: the step loop
    ],
)
def test_recurrent_layers_use_torch_rnns_only_where_exact(
    layer_type: str, k: int, extra: dict[str, Any], masked: bool, expected: Any
) -> None:
    weights = _rnn_weights(k)
    if layer_type != "GRU":
        weights.pop("recurrent_bias")
    x = np.zeros((2, 4, 3), "float32")
    inputs = [x, *[None] * (2 if layer_type == "LSTM" else 1), np.ones((2, 4), bool)] if masked else x
    module = kif.torch.load(build_layer(layer_type, inputs, weights, units=2, **extra))
    fast = module.layers[0].fast
    assert (fast is None) if expected is None else isinstance(fast, expected)


def test_layers_hold_real_torch_modules() -> None:
    x = np.zeros((1, 5, 5, 2), "float32")
    conv = kif.torch.load(
        build_layer(
            "Conv2D", x, {"kernel": np.zeros((3, 3, 2, 4), "float32"), "bias": np.zeros(4, "float32")}, filters=4, kernel_size=[3, 3]
        )
    )
    assert isinstance(conv.layers[0].conv, nn.Conv2d) and conv.layers[0].conv.padding == (0, 0)  # padding is explicit (F.pad)
    tconv = kif.torch.load(
        build_layer(
            "Conv2DTranspose",
            x,
            {"kernel": np.zeros((3, 3, 4, 2), "float32"), "bias": np.zeros(4, "float32")},
            filters=4,
            kernel_size=[3, 3],
        )
    )
    assert isinstance(tconv.layers[0].conv, nn.ConvTranspose2d)
    dense = kif.torch.load(
        build_layer("Dense", np.zeros((1, 3), "float32"), {"kernel": np.zeros((3, 2), "float32"), "bias": np.zeros(2, "float32")}, units=2)
    )
    assert isinstance(dense.layers[0].linear, nn.Linear) and dense.layers[0].linear.weight.shape == (2, 3)  # [units, in]
    emb = kif.torch.load(
        build_layer("Embedding", np.zeros((1, 3), "int32"), {"embeddings": np.zeros((5, 2), "float32")}, input_dim=5, output_dim=2)
    )
    assert isinstance(emb.layers[0].embedding, nn.Embedding)


def test_conformance_backend_contract(tmp_path: Any) -> None:
    """load(bundle_path) returns a callable on dict[str, ndarray] giving outputs by name; hand-derived Dense value."""
    import kif

    x = np.array([[1.0, 2.0, 3.0]], "float32")
    kernel = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "float32")
    model = build_layer("Dense", x, {"kernel": kernel, "bias": np.array([0.5, -0.5], "float32")}, units=2)
    path = kif.save(model, tmp_path / "dense.kif")
    run = kif.torch.conformance_backend.load(path)
    out = run({"in0": x})
    assert list(out) == [model.outputs[0].name]
    np.testing.assert_array_equal(out[model.outputs[0].name], np.array([[4.5, 4.5]], "float32"))  # [1+3, 2+3] + bias
