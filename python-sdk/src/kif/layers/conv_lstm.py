"""ConvLSTM1D/2D/3D: an LSTM whose projections are convolutions (spec/layers/ConvLSTM2D.md).

Per step, with s = recurrent_activation and g = activation, gates i, f, c, o along the channel axis:
``z = conv(x_t, kernel; strides, padding, dilation) + bias + conv(h, recurrent_kernel; stride 1, "same")``,
``c_t = s(z_f) * c + s(z_i) * g(z_c)``, ``h_t = s(z_o) * g(c_t)``. The input convolution runs for every
step at once (time folded into the batch); only the recurrent convolution loops over time.
Inputs ``[x, initial h, initial c, mask]`` (trailing ones optional), outputs ``[y, h, c]`` with return_state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kif.layers import _conv_utils as cu
from kif.layers.recurrent import _activation, _same
from kif.layers.registry import ShapeError, TensorType, register_layer

Dim = int | None


def _layout(attrs: dict[str, Any], shape: Sequence[Dim]) -> tuple[list[Dim], Dim]:
    """Spatial sizes and channels of a per-step shape (without N and T)."""
    if attrs["data_format"] == "channels_first":
        return list(shape[1:]), shape[0]
    return list(shape[:-1]), shape[-1]


def _state_shape(attrs: dict[str, Any], spatial: Sequence[Dim]) -> tuple[Dim, ...]:
    f = attrs["filters"]
    return (f, *spatial) if attrs["data_format"] == "channels_first" else (*spatial, f)


def _out_spatial(attrs: dict[str, Any], spatial: Sequence[Dim]) -> list[Dim]:
    out: list[Dim] = []
    for axis, (n, k, s, d) in enumerate(zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation_rate"], strict=True)):
        length = None if n is None else cu.conv_length(attrs["padding"], n, k, s, d)
        if n is not None and (n < 1 or length is None or length < 1):
            raise ShapeError(f"expected every output spatial size >= 1. Received: spatial axis {axis} of size {n} gives {length}")
        out.append(length)
    return out


def _check(weights: dict[str, tuple[int, ...]], role: str, expected: Sequence[Dim]) -> None:
    got = weights.get(role)
    if got is not None and (len(got) != len(expected) or any(e is not None and g != e for g, e in zip(got, expected, strict=True))):
        shown = ", ".join("?" if e is None else str(e) for e in expected)
        raise ShapeError(f"expected {role} of shape [{shown}]. Received: {role} shape {list(got)}")


def infer_conv_lstm(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
    rank, f = len(attrs["kernel_size"]), attrs["filters"]
    if len(inputs) > 4:
        raise ShapeError(f"expected at most 4 inputs (x, initial h, initial c, mask). Received: {len(inputs)}")
    x, h0, c0, mask = [*inputs, None, None, None][:4]
    if x is None or len(x.shape) != rank + 3:
        got = "nothing" if x is None else f"shape {list(x.shape)}"
        raise ShapeError(f"expected input x of rank {rank + 3} [N, T, {rank} spatial and channels]. Received: {got}")
    if x.dtype not in cu.FLOAT_DTYPES:
        raise ShapeError(f"expected a floating input. Received: dtype {x.dtype}")
    spatial, channels = _layout(attrs, x.shape[2:])
    _check(weights, "kernel", (*attrs["kernel_size"], channels, 4 * f))
    _check(weights, "recurrent_kernel", (*attrs["kernel_size"], f, 4 * f))
    if attrs["use_bias"]:
        _check(weights, "bias", (4 * f,))
    state = (x.shape[0], *_state_shape(attrs, _out_spatial(attrs, spatial)))
    if (h0 is None) != (c0 is None):
        raise ShapeError("expected both initial states (h and c) or none. Received: one")
    for s in (h0, c0):
        if s is not None and (len(s.shape) != len(state) or not all(map(_same, s.shape, state))):
            raise ShapeError(f"expected initial state of shape {list(state)}. Received: shape {list(s.shape)}")
    if mask is not None and (mask.dtype != "bool" or len(mask.shape) != 2 or not all(map(_same, mask.shape, x.shape[:2]))):
        raise ShapeError(f"expected a bool mask of shape [N, T] = {list(x.shape[:2])}. Received: {mask.dtype} shape {list(mask.shape)}")
    y = (x.shape[0], x.shape[1], *state[1:]) if attrs["return_sequences"] else state
    outs = [TensorType(x.dtype, y)]
    return outs + [TensorType(x.dtype, state)] * 2 if attrs["return_state"] else outs


def _last(a: np.ndarray | None, attrs: dict[str, Any], axis: int) -> np.ndarray | None:
    """channels_first → channels_last (channel axis ``axis`` moved to the end)."""
    return a if a is None or attrs["data_format"] == "channels_last" else np.moveaxis(a, axis, -1)


def run_conv_lstm(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    x, h0, c0, mask = [*inputs, None, None, None][:4]
    assert x is not None
    ct = cu.compute_dtype(x.dtype)
    f, ks = attrs["filters"], attrs["kernel_size"]
    w = {role: np.asarray(a).astype(x.dtype, copy=False).astype(ct, copy=False) for role, a in weights.items()}
    seq = _last(x, attrs, 2).astype(ct, copy=False)  # [N, T, *S, C]
    keep = None if mask is None else np.asarray(mask, dtype=bool)
    if attrs["go_backwards"]:
        seq = seq[:, ::-1]
        keep = None if keep is None else keep[:, ::-1]
    n, t, spatial = seq.shape[0], seq.shape[1], seq.shape[2:-1]
    geometry = zip(spatial, ks, attrs["strides"], attrs["dilation_rate"], strict=True)
    pads = [cu.conv_pads(attrs["padding"], s, k, st, d) for s, k, st, d in geometry]
    folded = np.ascontiguousarray(seq).reshape(n * t, *seq.shape[2:])
    projected = cu.conv(folded, w["kernel"], attrs["strides"], attrs["dilation_rate"], pads, 1)  # [N*T, *O, 4F]
    if attrs["use_bias"]:
        projected += w["bias"]
    out_spatial = projected.shape[1:-1]
    projected = projected.reshape(n, t, *out_spatial, 4 * f)
    ones = [1] * len(ks)
    rpads = [cu.same_pads(o, k, 1, 1) for o, k in zip(out_spatial, ks, strict=True)]
    zeros = np.zeros((n, *out_spatial, f), ct)
    h = zeros if h0 is None else _last(np.asarray(h0), attrs, 1).astype(ct)  # type: ignore[union-attr]
    c = zeros if c0 is None else _last(np.asarray(c0), attrs, 1).astype(ct)  # type: ignore[union-attr]
    act, gate = _activation(attrs["activation"]), _activation(attrs["recurrent_activation"])
    outputs, previous = np.zeros((n, t, *out_spatial, f), ct), zeros
    with np.errstate(over="ignore", under="ignore"):
        for step in range(t):
            z = projected[:, step] + cu.conv(h, w["recurrent_kernel"], ones, ones, rpads, 1)
            c_new = gate(z[..., f : 2 * f]) * c + gate(z[..., :f]) * act(z[..., 2 * f : 3 * f])
            h_new = gate(z[..., 3 * f :]) * act(c_new)
            out = h_new
            if keep is not None:  # a masked step carries the states; its output is zero or the previous output
                m = keep[:, step].reshape(n, *[1] * (h.ndim - 1))
                out = np.where(m, h_new, 0 if attrs["zero_output_for_mask"] else previous)
                h_new, c_new = np.where(m, h_new, h), np.where(m, c_new, c)
            outputs[:, step] = out
            previous, h, c = out, h_new, c_new
    y = outputs if attrs["return_sequences"] else outputs[:, -1]
    results = [y, h, c] if attrs["return_state"] else [y]
    if attrs["data_format"] == "channels_first":
        results = [np.moveaxis(r, -1, 2 if r.ndim == len(ks) + 3 else 1) for r in results]
    return [np.ascontiguousarray(r).astype(x.dtype, copy=False) for r in results]


def _kernel(layer_type: str) -> type:
    class _ConvLSTM:
        infer = staticmethod(infer_conv_lstm)
        run = staticmethod(run_conv_lstm)

    _ConvLSTM.__name__ = _ConvLSTM.__qualname__ = layer_type
    return register_layer(layer_type)(_ConvLSTM)


ConvLSTM1D = _kernel("ConvLSTM1D")
ConvLSTM2D = _kernel("ConvLSTM2D")
ConvLSTM3D = _kernel("ConvLSTM3D")
