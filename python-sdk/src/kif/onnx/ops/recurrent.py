"""SimpleRNN, LSTM and GRU.

Two lowerings, both exact:

* no mask and activations ONNX RNN ops know: the native ``RNN``/``LSTM``/``GRU`` op. Weights go from
  Keras [in, k*units] to ONNX [1, k*units, in]; LSTM gates reorder from Keras i,f,c,o to ONNX i,o,f,c;
  GRU keeps z,r,h, with ``linear_before_reset=1`` for Keras ``reset_after=true``. go_backwards reverses
  the input in time (Keras returns the outputs in processing order, which ONNX's reverse direction does not).
* a mask (any pattern, not only right padding), or another activation: a ``Scan`` over time whose body is
  the Keras cell written out; a masked step carries the states forward and outputs zero or the previous
  output (``zero_output_for_mask``), exactly as spec/layers/LSTM.md says. ONNX's ``sequence_lens`` is not
  used: it only expresses right padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from kif.onnx._context import ONNX_DTYPES, Ctx
from kif.onnx.ops import emits
from kif.onnx.ops._act import activation

_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}
_NATIVE_ACT: dict[str, tuple[str, float | None, float | None]] = {
    "sigmoid": ("Sigmoid", None, None),
    "tanh": ("Tanh", None, None),
    "relu": ("Relu", None, None),
    "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None),
}
_INT64_MIN = np.iinfo(np.int64).min


def reverse_time(ctx: Ctx, x: str) -> str:
    y = ctx.node("Slice", [x, ctx.ints([-1]), ctx.ints([_INT64_MIN]), ctx.ints([1]), ctx.ints([-1])])
    if x in ctx.types:
        ctx.types[y] = ctx.types[x]
    return y


@emits("SimpleRNN", "LSTM", "GRU")
def rnn(ctx: Ctx, attrs: dict[str, Any], inputs: list[str | None]) -> list[str]:
    kind = ctx.layer.type if ctx.layer else ""
    padded = [*inputs, *[None] * (_STATES[kind] + 2 - len(inputs))]
    x, states, mask = padded[0], padded[1 : 1 + _STATES[kind]], padded[1 + _STATES[kind]]
    assert x is not None
    if any(s is not None for s in states) and any(s is None for s in states):
        raise ctx.refuse("expected all initial states or none")
    acts = [attrs["activation"]] + ([attrs["recurrent_activation"]] if kind != "SimpleRNN" else [])
    if attrs["go_backwards"]:
        x = reverse_time(ctx, x)
        mask = None if mask is None else reverse_time(ctx, mask)
    if mask is None and all(a in _NATIVE_ACT for a in acts):
        return _native(ctx, kind, attrs, x, states)
    return _scan(ctx, kind, attrs, x, states, mask)


def _blocks(w: np.ndarray, order: list[int], k: int) -> np.ndarray:
    """Reorder the k gate blocks along the last axis."""
    parts = np.split(w, k, axis=-1)
    return np.concatenate([parts[i] for i in order], axis=-1)


def _native(ctx: Ctx, kind: str, attrs: dict[str, Any], x: str, states: list[str | None]) -> list[str]:
    dt, units, k = ctx.np_dtype(x), attrs["units"], _GATES[kind]
    order = [0, 3, 1, 2] if kind == "LSTM" else list(range(k))  # Keras i,f,c,o → ONNX i,o,f,c
    kernel = _blocks(ctx.weight("kernel", dt), order, k)
    recurrent = _blocks(ctx.weight("recurrent_kernel", dt), order, k)
    w_bias = _blocks(ctx.weight("bias", dt), order, k) if attrs["use_bias"] else np.zeros(k * units, dt)
    r_bias = np.zeros(k * units, dt)
    if kind == "GRU" and attrs["use_bias"] and attrs["reset_after"] and ctx.has_weight("recurrent_bias"):
        r_bias = ctx.weight("recurrent_bias", dt)
    ins = [
        ctx.node("Transpose", [x], perm=[1, 0, 2]),  # [T, N, F]
        ctx.const(kernel.T[None], hint="W"),
        ctx.const(recurrent.T[None], hint="R"),
        ctx.const(np.concatenate([w_bias, r_bias])[None], hint="B"),
        "",  # sequence_lens
        *[ctx.node("Unsqueeze", [s, ctx.ints([0])]) for s in states if s is not None],
    ]
    if kind == "SimpleRNN":
        names = [attrs["activation"]]
    elif kind == "LSTM":
        names = [attrs["recurrent_activation"], attrs["activation"], attrs["activation"]]
    else:
        names = [attrs["recurrent_activation"], attrs["activation"]]
    extra: dict[str, Any] = {"hidden_size": units, "activations": [_NATIVE_ACT[n][0] for n in names]}
    if kind == "GRU":
        extra["linear_before_reset"] = int(attrs["reset_after"])
    op = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}[kind]
    outs = ctx.node(op, ins, outputs=_STATES[kind] + 1, **extra)
    finals = [ctx.node("Squeeze", [o, ctx.ints([0])]) for o in outs[1:]]
    y = finals[0]  # return_sequences=False: the last output is the final h
    if attrs["return_sequences"]:
        y = ctx.node("Transpose", [ctx.node("Squeeze", [outs[0], ctx.ints([1])])], perm=[1, 0, 2])
    return [y, *finals] if attrs["return_state"] else [y]


def _scan(ctx: Ctx, kind: str, attrs: dict[str, Any], x: str, states: list[str | None], mask: str | None) -> list[str]:
    dt, units = ctx.np_dtype(x), attrs["units"]
    elem = ctx.onnx_dtype(x)
    projected = ctx.node("MatMul", [x, ctx.const(ctx.weight("kernel", dt), hint="kernel")])
    if attrs["use_bias"]:
        projected = ctx.node("Add", [projected, ctx.const(ctx.weight("bias", dt), hint="bias")])
    xs = ctx.node("Transpose", [projected], perm=[1, 0, 2])  # [T, N, k*units]
    if mask is None:  # every step kept: an all-true [T, N, 1] mask
        true = helper.make_tensor("value", ONNX_DTYPES["bool"], [1], [True])
        ms = ctx.node("ConstantOfShape", [ctx.node("Concat", [ctx.node("Shape", [xs], start=0, end=2), ctx.ints([1])], axis=0)], value=true)
    else:
        ms = ctx.node("Unsqueeze", [ctx.node("Transpose", [mask], perm=[1, 0]), ctx.ints([2])])  # [T, N, 1]
    batch_units = ctx.node("Concat", [ctx.node("Shape", [x], start=0, end=1), ctx.ints([units])], axis=0)
    zeros = ctx.node("Expand", [ctx.const(np.zeros((1, units), dtype=dt)), batch_units])
    init = [s if s is not None else zeros for s in states]

    outer_nodes = ctx.nodes
    ctx.nodes = []
    state_in = [ctx.fresh(f"state{i}") for i in range(len(init))]
    prev_in, xp_t, m_t = ctx.fresh("prev_out"), ctx.fresh("x_t"), ctx.fresh("m_t")
    out, new = _cell(ctx, kind, attrs, dt, xp_t, state_in)
    fallback = ctx.scalar(0.0, dt) if attrs["zero_output_for_mask"] else prev_in
    out_t = ctx.node("Where", [m_t, out, fallback])
    new_states = [ctx.node("Where", [m_t, a, b]) for a, b in zip(new, state_in, strict=True)]
    body_out = [*(ctx.node("Identity", [s]) for s in new_states), ctx.node("Identity", [out_t]), ctx.node("Identity", [out_t])]
    body_nodes, ctx.nodes = ctx.nodes, outer_nodes

    def vi(name: str, et: int) -> Any:
        return helper.make_tensor_value_info(name, et, None)

    body = helper.make_graph(
        body_nodes,
        ctx.fresh("cell"),
        [*(vi(n, elem) for n in state_in), vi(prev_in, elem), vi(xp_t, elem), vi(m_t, ONNX_DTYPES["bool"])],
        [vi(n, elem) for n in body_out],
    )
    results = ctx.node("Scan", [*init, zeros, xs, ms], outputs=len(init) + 2, body=body, num_scan_inputs=2)
    finals, last, seq = results[: len(init)], results[len(init)], results[len(init) + 1]
    y = ctx.node("Transpose", [seq], perm=[1, 0, 2]) if attrs["return_sequences"] else last
    return [y, *finals] if attrs["return_state"] else [y]


def _cell(ctx: Ctx, kind: str, attrs: dict[str, Any], dt: np.dtype, xp: str, state: list[str]) -> tuple[str, list[str]]:
    """One Keras cell step on the projected input ``xp`` [N, k*units]; returns (output, new states)."""
    units, act = attrs["units"], attrs["activation"]
    rk = ctx.weight("recurrent_kernel", dt)
    h_prev = state[0]

    def split(t: str, parts: int) -> list[str]:
        return ctx.node("Split", [t], outputs=parts, axis=-1, num_outputs=parts)

    if kind == "SimpleRNN":
        h = activation(ctx, act, dt, ctx.node("Add", [xp, ctx.node("MatMul", [h_prev, ctx.const(rk, hint="recurrent_kernel")])]))
        return h, [h]
    gate = attrs["recurrent_activation"]
    if kind == "LSTM":
        z = ctx.node("Add", [xp, ctx.node("MatMul", [h_prev, ctx.const(rk, hint="recurrent_kernel")])])
        zi, zf, zc, zo = split(z, 4)
        c = ctx.node(
            "Add",
            [
                ctx.node("Mul", [activation(ctx, gate, dt, zf), state[1]]),
                ctx.node("Mul", [activation(ctx, gate, dt, zi), activation(ctx, act, dt, zc)]),
            ],
        )
        h = ctx.node("Mul", [activation(ctx, gate, dt, zo), activation(ctx, act, dt, c)])
        return h, [h, c]
    xz, xr, xh = split(xp, 3)
    if attrs["reset_after"]:
        inner = ctx.node("MatMul", [h_prev, ctx.const(rk, hint="recurrent_kernel")])
        if attrs["use_bias"] and ctx.has_weight("recurrent_bias"):
            inner = ctx.node("Add", [inner, ctx.const(ctx.weight("recurrent_bias", dt), hint="recurrent_bias")])
        hz, hr, hh = split(inner, 3)
        z, r = activation(ctx, gate, dt, ctx.node("Add", [xz, hz])), activation(ctx, gate, dt, ctx.node("Add", [xr, hr]))
        cand = activation(ctx, act, dt, ctx.node("Add", [xh, ctx.node("Mul", [r, hh])]))
    else:
        hz, hr = split(ctx.node("MatMul", [h_prev, ctx.const(rk[:, : 2 * units], hint="recurrent_kernel_zr")]), 2)
        z, r = activation(ctx, gate, dt, ctx.node("Add", [xz, hz])), activation(ctx, gate, dt, ctx.node("Add", [xr, hr]))
        rh = ctx.node("MatMul", [ctx.node("Mul", [r, h_prev]), ctx.const(rk[:, 2 * units :], hint="recurrent_kernel_h")])
        cand = activation(ctx, act, dt, ctx.node("Add", [xh, rh]))
    one_minus_z = ctx.node("Sub", [ctx.const(np.ones((), dtype=dt)), z])
    h = ctx.node("Add", [ctx.node("Mul", [z, h_prev]), ctx.node("Mul", [one_minus_z, cand])])
    return h, [h]
