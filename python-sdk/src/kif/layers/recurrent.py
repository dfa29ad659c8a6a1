"""Recurrent layers: SimpleRNN, LSTM, GRU (spec/layers/SimpleRNN.md, LSTM.md, GRU.md).

Inputs are ``[x, *initial_states, mask]`` (trailing ones optional or null): x [N, T, F],
one state [N, units] per state of the type (LSTM: h then c), mask bool [N, T].
Outputs are ``[y, *final_states]`` with return_state. The input projection
x @ kernel + bias is computed for every step at once; only the recurrence loops over time.
The Bidirectional wrapper reuses ``infer_rnn`` and ``run_rnn``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kif.layers import activations
from kif.layers.registry import ShapeError, TensorType, register_layer

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}  # blocks of `units` along the kernels' last axis
STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}
_FLOATS = ("float16", "bfloat16", "float32", "float64")

Step = Callable[[np.ndarray, list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]


def split_inputs(layer_type: str, inputs: Sequence[Any]) -> tuple[Any, list[Any], Any]:
    """(x, initial states (None when absent), mask) from ``[x, *states, mask]``."""
    count = STATES[layer_type]
    padded = [*inputs, *[None] * (count + 2 - len(inputs))]
    return padded[0], padded[1 : 1 + count], padded[1 + count]


def _check_weight(weights: dict[str, tuple[int, ...]], role: str, expected: tuple[int | None, ...]) -> None:
    shape = weights.get(role)
    if shape is not None and (len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape, strict=True))):
        wanted = ", ".join("?" if e is None else str(e) for e in expected)
        raise ShapeError(f"expected {role} of shape [{wanted}]. Received: {role} shape {list(shape)}")


def infer_rnn(
    layer_type: str, attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]
) -> list[TensorType]:
    if len(inputs) > STATES[layer_type] + 2:
        raise ShapeError(f"expected at most {STATES[layer_type] + 2} inputs (x, initial states, mask). Received: {len(inputs)}")
    x, states, mask = split_inputs(layer_type, inputs)
    if x is None or len(x.shape) != 3:
        raise ShapeError(f"expected input x of rank 3 [N, T, features]. Received: {'nothing' if x is None else f'shape {list(x.shape)}'}")
    if x.dtype not in _FLOATS:
        raise ShapeError(f"expected a floating input. Received: dtype {x.dtype}")
    units, k = attrs["units"], GATES[layer_type]
    _check_weight(weights, "kernel", (x.shape[2], k * units))
    _check_weight(weights, "recurrent_kernel", (units, k * units))
    _check_weight(weights, "bias", (k * units,))
    _check_weight(weights, "recurrent_bias", (k * units,))
    given = [s for s in states if s is not None]
    if given and len(given) != len(states):
        raise ShapeError(f"expected all {len(states)} initial states or none. Received: {len(given)}")
    for state in given:
        if len(state.shape) != 2 or state.shape[1] != units or not _same(state.shape[0], x.shape[0]):
            raise ShapeError(f"expected initial state of shape [N, {units}] with N of x. Received: shape {list(state.shape)}")
    if mask is not None and (mask.dtype != "bool" or len(mask.shape) != 2 or not all(map(_same, mask.shape, x.shape[:2]))):
        raise ShapeError(f"expected a bool mask of shape [N, T] = {list(x.shape[:2])}. Received: {mask.dtype} shape {list(mask.shape)}")
    batch = x.shape[0]
    y = (batch, x.shape[1], units) if attrs["return_sequences"] else (batch, units)
    outs = [TensorType(x.dtype, y)]
    if attrs["return_state"]:
        outs += [TensorType(x.dtype, (batch, units))] * STATES[layer_type]
    return outs


def _same(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def run_rnn(
    layer_type: str, attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]
) -> list[np.ndarray]:
    x, states, mask = split_inputs(layer_type, inputs)
    assert x is not None
    # float16/bfloat16 recur in float32 (the spec allows a wider compute type); the outputs have x's dtype
    ct = np.float64 if x.dtype == np.float64 else np.float32
    units = attrs["units"]
    w = {role: np.asarray(a).astype(ct, copy=False) for role, a in weights.items()}
    step = _STEPS[layer_type](attrs, w)  # may reorder the gate columns of w's kernels, before the projection uses them
    seq = x.astype(ct, copy=False)
    if attrs["go_backwards"]:
        seq = seq[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    projected = np.matmul(seq, w["kernel"])  # [N, T, k*units], all steps at once
    if attrs["use_bias"]:
        projected += w["bias"]
    n = x.shape[0]
    state = [np.zeros((n, units), ct) if s is None else np.asarray(s).astype(ct) for s in states]
    outputs = np.zeros((n, x.shape[1], units), ct)
    previous = np.zeros((n, units), ct)
    keep = None if mask is None else np.asarray(mask, dtype=bool)
    with np.errstate(over="ignore", under="ignore"):  # as activations.apply sets it, once for all steps
        for t in range(x.shape[1]):
            out, new = step(projected[:, t], state)
            if keep is not None:
                m = keep[:, t, None]
                # a masked step carries the states forward; its output is zero or repeats the previous output
                out = np.where(m, out, 0 if attrs["zero_output_for_mask"] else previous)
                new = [np.where(m, a, b) for a, b in zip(new, state, strict=True)]
            outputs[:, t] = out
            previous, state = out, new
    y = outputs if attrs["return_sequences"] else outputs[:, -1]
    results = [y, *state] if attrs["return_state"] else [y]
    return [r.astype(x.dtype, copy=False) for r in results]


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """activations.apply without its per-call checks: run_rnn computes in float32/64 and sets np.errstate once
    around the time loop (thousands of small calls per layer, where that overhead dominated)."""
    f = activations.ACTIVATIONS[name]

    def call(z: np.ndarray) -> np.ndarray:
        y = np.asarray(f(z))
        return y if y.dtype == z.dtype else y.astype(z.dtype)

    return call


def _simple_rnn(attrs: dict[str, Any], w: dict[str, np.ndarray]) -> Step:
    fn_act, rk = _activation(attrs["activation"]), w["recurrent_kernel"]

    def step(xp: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        h = fn_act(xp + state[0] @ rk)
        return h, [h]

    return step


def _elementwise(name: str) -> bool:
    return name not in ("softmax", "log_softmax")


def _lstm(attrs: dict[str, Any], w: dict[str, np.ndarray]) -> Step:
    gate, u = attrs["recurrent_activation"], attrs["units"]
    fn_act, fn_gate = _activation(attrs["activation"]), _activation(gate)
    if not _elementwise(gate):
        rk = w["recurrent_kernel"]

        def step(xp: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
            z = xp + state[0] @ rk
            z_i, z_f, z_c, z_o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
            c = fn_gate(z_f) * state[1] + fn_gate(z_i) * fn_act(z_c)
            h = fn_gate(z_o) * fn_act(c)
            return h, [h, c]

        return step

    # Gate columns reordered i, f, o, c so the three gates take one activation call per step (same values: the
    # gate activation is element-wise); local copies, the stored weights are untouched.
    order = np.concatenate([np.arange(0, 2 * u), np.arange(3 * u, 4 * u), np.arange(2 * u, 3 * u)])
    for role in ("kernel", "recurrent_kernel", "bias"):
        if role in w:
            w[role] = np.ascontiguousarray(w[role][..., order])
    rk = w["recurrent_kernel"]
    if gate == "sigmoid" and attrs["activation"] == "tanh":
        for role in ("kernel", "recurrent_kernel", "bias"):
            if role in w:
                w[role][..., : 3 * u] *= 0.5  # the reordered copies: i, f, o columns
        return _lstm_sigmoid_tanh(rk, u)

    def fused(xp: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        z = xp + state[0] @ rk
        gates = fn_gate(z[:, : 3 * u])
        i, f, o = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u :]
        c = f * state[1] + i * fn_act(z[:, 3 * u :])
        h = o * fn_act(c)
        return h, [h, c]

    return fused


def _lstm_sigmoid_tanh(rk: np.ndarray, u: int) -> Step:
    """The common LSTM step in one tanh call: sigmoid(z) = 0.5 + 0.5 tanh(z / 2), with z / 2 coming from gate columns
    of the weights halved beforehand (exact in binary floating point). No exponential, so nothing overflows; the
    gates are within an ulp of 1 of activations.sigmoid, the LSTM tolerance allows far more."""
    scratch: dict[int, np.ndarray] = {}

    def step(xp: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        z = scratch.get(xp.shape[0])
        if z is None:
            scratch.clear()
            z = scratch[xp.shape[0]] = np.empty((xp.shape[0], 4 * u), rk.dtype)
        np.matmul(state[0], rk, out=z)
        z += xp
        np.tanh(z, out=z)  # tanh(z/2) of the gates i, f, o; tanh of the candidate
        gates = z[:, : 3 * u]
        gates *= 0.5
        gates += 0.5
        c = np.multiply(z[:, u : 2 * u], state[1])
        candidate = z[:, 3 * u :]
        candidate *= z[:, :u]
        c += candidate
        h = np.tanh(c)
        h *= z[:, 2 * u : 3 * u]
        return h, [h, c]

    return step


def _gru(attrs: dict[str, Any], w: dict[str, np.ndarray]) -> Step:
    gate, rk, units = attrs["recurrent_activation"], w["recurrent_kernel"], attrs["units"]
    fn_act, fn_gate = _activation(attrs["activation"]), _activation(gate)
    recurrent_bias = w.get("recurrent_bias") if attrs["use_bias"] else None
    rk_zr, rk_h = np.ascontiguousarray(rk[:, : 2 * units]), np.ascontiguousarray(rk[:, 2 * units :])

    def gates(pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, r) from the pre-activations [z | r]: one call when the gate activation is element-wise."""
        if _elementwise(gate):
            both = fn_gate(pre)
            return both[:, :units], both[:, units:]
        return fn_gate(pre[:, :units]), fn_gate(pre[:, units:])

    def step(xp: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        h_prev = state[0]
        x_h = xp[:, 2 * units :]
        if attrs["reset_after"]:
            inner = h_prev @ rk
            if recurrent_bias is not None:
                inner += recurrent_bias
            z, r = gates(xp[:, : 2 * units] + inner[:, : 2 * units])
            candidate = fn_act(x_h + r * inner[:, 2 * units :])
        else:
            z, r = gates(xp[:, : 2 * units] + h_prev @ rk_zr)
            candidate = fn_act(x_h + (r * h_prev) @ rk_h)
        h = z * h_prev + (1 - z) * candidate
        return h, [h]

    return step


_STEPS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Step]] = {"SimpleRNN": _simple_rnn, "LSTM": _lstm, "GRU": _gru}


def _kernel(layer_type: str) -> type:
    class _Recurrent:
        @staticmethod
        def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
            return infer_rnn(layer_type, attrs, inputs, weights)

        @staticmethod
        def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
            return run_rnn(layer_type, attrs, inputs, weights)

    _Recurrent.__name__ = _Recurrent.__qualname__ = layer_type
    return register_layer(layer_type)(_Recurrent)


SimpleRNN = _kernel("SimpleRNN")
LSTM = _kernel("LSTM")
GRU = _kernel("GRU")
