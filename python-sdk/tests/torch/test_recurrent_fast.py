"""kif.torch's recurrent layers where they run torch's fused RNN op (torch.lstm / gru / rnn_tanh / rnn_relu called
directly on the nn.LSTM/GRU/RNN's own weights, without the nn module's per-call Python): the values against a NumPy
recurrence written here (Keras's formulas), bit-equal to the nn module's own forward, the options (initial states,
go_backwards, return_sequences, return_state, no bias), the shape checks the op itself lacks, and the weights
following ``.to(float64)`` and autograd."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import kif.torch
from tests.layers.harness import build_layer

N, T, F, U = 3, 5, 4, 6
K = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _oracle(kind: str, x: np.ndarray, w: dict[str, np.ndarray], states: list[np.ndarray], attrs: dict[str, Any]) -> list[np.ndarray]:
    """Keras's recurrence in float64: [y, *final states]."""
    x = x[:, ::-1] if attrs.get("go_backwards") else x
    k, r = w["kernel"].astype(np.float64), w["recurrent_kernel"].astype(np.float64)
    b = w["bias"].astype(np.float64) if "bias" in w else 0.0
    state = [s.astype(np.float64) for s in states] or [np.zeros((N, U)) for _ in range(2 if kind == "LSTM" else 1)]
    act = np.tanh if attrs.get("activation", "tanh") == "tanh" else (lambda z: np.maximum(z, 0.0))
    ys = []
    for t in range(x.shape[1]):
        xp, h = x[:, t].astype(np.float64) @ k + b, state[0]
        if kind == "LSTM":
            i, f, g, o = np.split(xp + h @ r, 4, axis=-1)
            c = _sigmoid(f) * state[1] + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            state = [h, c]
        elif kind == "GRU":  # reset_after: r multiplies the recurrent projection (with its own bias)
            x_z, x_r, x_h = np.split(xp, 3, axis=-1)
            h_z, h_r, h_h = np.split(h @ r + w["recurrent_bias"].astype(np.float64), 3, axis=-1)
            z, rr = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
            state = [z * h + (1 - z) * np.tanh(x_h + rr * h_h)]
        else:
            state = [act(xp + h @ r)]
        ys.append(state[0])
    seq = np.stack(ys, axis=1)
    return [seq if attrs.get("return_sequences") else seq[:, -1], *state]


def _weights(kind: str, bias: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
    k = K[kind]
    w = {"kernel": rng.normal(size=(F, k * U)) * 0.5, "recurrent_kernel": rng.normal(size=(U, k * U)) * 0.5}
    if bias:
        w["bias"] = rng.normal(size=(k * U,))
        if kind == "GRU":
            w["recurrent_bias"] = rng.normal(size=(k * U,))
    return {role: v.astype(np.float32) for role, v in w.items()}


CASES = [
    ("LSTM", {}),
    ("LSTM", {"return_sequences": True}),
    ("LSTM", {"go_backwards": True, "return_state": True}),
    ("LSTM", {"use_bias": False, "return_sequences": True, "return_state": True}),
    ("LSTM", {"initial": True, "return_state": True}),
    ("GRU", {"reset_after": True, "return_sequences": True, "return_state": True}),
    ("GRU", {"reset_after": True, "initial": True, "go_backwards": True}),
    ("SimpleRNN", {"return_sequences": True}),
    ("SimpleRNN", {"activation": "relu", "initial": True, "return_state": True}),
]


def _build(kind: str, options: dict[str, Any], seed: int = 0) -> tuple[Any, list[np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    attrs = {k: v for k, v in options.items() if k != "initial"}
    w = _weights(kind, attrs.get("use_bias", True), rng)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.normal(size=(N, U)).astype(np.float32) for _ in range(n_states)] if options.get("initial") else []
    outputs = 1 + n_states if attrs.get("return_state") else 1
    model = build_layer(kind, [x, *states], w, num_outputs=outputs, units=U, **attrs)
    return model, [x, *states], w, attrs


@pytest.mark.parametrize(("kind", "options"), CASES)
def test_fused_op_matches_numpy_recurrence_and_the_nn_module(kind: str, options: dict[str, Any]) -> None:
    model, arrays, w, attrs = _build(kind, options)
    module = kif.torch.load(model)
    layer = module.layers[0]
    assert layer.fast is not None and layer.op is not None  # this configuration runs torch's fused op
    with torch.no_grad():
        out = module(*[torch.from_numpy(a) for a in arrays])
    outs = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
    expected = _oracle(kind, arrays[0], w, arrays[1:], attrs)
    assert len(outs) == (len(expected) if attrs.get("return_state") else 1)
    for got, want in zip(outs, expected, strict=False):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the nn module's own forward (its Python checks, then the same op): the same bits
    x = torch.from_numpy(arrays[0]).flip(1) if attrs.get("go_backwards") else torch.from_numpy(arrays[0])
    given = [torch.from_numpy(s).unsqueeze(0) for s in arrays[1:]]
    hx = (tuple(given) if kind == "LSTM" else given[0]) if given else None
    with torch.no_grad():
        ys, _ = layer.fast(x, hx)
    y = ys if attrs.get("return_sequences") else ys[:, -1]
    np.testing.assert_array_equal(outs[0], y.numpy())


def test_wrong_feature_size_and_state_shape_are_errors_not_garbage() -> None:
    model, arrays, _, _ = _build("LSTM", {"initial": True})
    module = kif.torch.load(model)
    x, h, c = (torch.from_numpy(a) for a in arrays)
    with torch.no_grad(), pytest.raises(RuntimeError, match=rf"expected input \[batch, time, {F}\]"):
        module(x[..., :-1], h, c)  # torch.lstm itself would run on it
    with torch.no_grad(), pytest.raises(RuntimeError, match="expected initial states of shape"):
        module(x, h[:, :-1], c)


def test_weights_follow_to_float64_and_gradients_flow() -> None:
    model, arrays, w, attrs = _build("LSTM", {"return_sequences": True})
    module = kif.torch.load(model).to(torch.float64)
    x = torch.from_numpy(arrays[0].astype(np.float64))
    with torch.no_grad():
        y = module(x)
    assert y.dtype == torch.float64
    np.testing.assert_allclose(y.numpy(), _oracle("LSTM", arrays[0], w, [], attrs)[0], rtol=1e-10, atol=1e-12)
    x32 = torch.from_numpy(arrays[0]).requires_grad_(True)
    kif.torch.load(model)(x32).sum().backward()
    assert x32.grad is not None and x32.grad.shape == x32.shape and bool(torch.isfinite(x32.grad).all())
