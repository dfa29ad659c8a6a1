"""Converters for SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed.

Where the semantics match exactly (no mask input, default activations, GRU with reset_after)
the layer runs on a real nn.RNN / nn.LSTM / nn.GRU; otherwise an equivalent step loop in
functional torch code runs (masks carry states forward, Keras's reset_after=False GRU, other
activations). Keras gate order: LSTM i, f, c, o (torch's order); GRU z, r, h (torch: r, z, n).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from kif.layers.recurrent import STATES
from kif.torch.layers import converter
from kif.torch.layers._util import Outputs, activation, tensor

W = dict[str, np.ndarray]


def _gru_order(a: Tensor, units: int) -> Tensor:
    """[z, r, h] blocks on axis 0 -> torch's [r, z, n]."""
    z, r, h = a.split(units, dim=0)
    return torch.cat([r, z, h])


def _fast(kind: str, attrs: dict[str, Any], w: W) -> nn.Module | None:
    """The equivalent nn.RNN/LSTM/GRU, or None when the attributes need the step loop."""
    units, bias = attrs["units"], attrs["use_bias"]
    features = w["kernel"].shape[0]
    dtype = tensor(w["kernel"][:0]).dtype
    if kind == "SimpleRNN":
        if attrs["activation"] not in ("tanh", "relu"):
            return None
        module: nn.Module = nn.RNN(features, units, nonlinearity=attrs["activation"], bias=bias, batch_first=True, dtype=dtype)
    elif attrs["activation"] != "tanh" or attrs["recurrent_activation"] != "sigmoid":
        return None
    elif kind == "LSTM":
        module = nn.LSTM(features, units, bias=bias, batch_first=True, dtype=dtype)
    elif not attrs["reset_after"]:
        return None  # r multiplies h before the recurrent matmul: not torch's formula
    else:
        module = nn.GRU(features, units, bias=bias, batch_first=True, dtype=dtype)
    kernel, recurrent = tensor(w["kernel"]).T, tensor(w["recurrent_kernel"]).T  # [k*units, in], [k*units, units]
    params = {"weight_ih_l0": kernel, "weight_hh_l0": recurrent}
    if bias:
        b = tensor(w["bias"])
        params["bias_ih_l0"] = b
        params["bias_hh_l0"] = tensor(w["recurrent_bias"]) if kind == "GRU" else torch.zeros_like(b)
    if kind == "GRU":
        params = {k: _gru_order(v, units) for k, v in params.items()}
    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name).copy_(value)
    return module.eval()


_OPS = {"LSTM": torch.lstm, "GRU": torch.gru, "SimpleRNN-tanh": torch.rnn_tanh, "SimpleRNN-relu": torch.rnn_relu}


class _Recurrent(nn.Module):
    """One recurrent layer: inputs [x, *initial_states, mask], outputs [y, *final_states] (return_state)."""

    def __init__(self, kind: str, attrs: dict[str, Any], w: W, masked: bool) -> None:
        super().__init__()
        self.kind, self.attrs, self.n_states = kind, dict(attrs), STATES[kind]
        self.backwards, self.sequences, self.with_states = attrs["go_backwards"], attrs["return_sequences"], attrs["return_state"]
        self.fast = None if masked else _fast(kind, attrs, w)
        self.op = None if self.fast is None else _OPS[kind] if kind != "SimpleRNN" else _OPS[f"SimpleRNN-{attrs['activation']}"]
        self.features, self.units = int(w["kernel"].shape[0]), int(attrs["units"])
        for role in ("kernel", "recurrent_kernel", "bias", "recurrent_bias"):
            self.register_buffer(role, tensor(w[role]) if role in w and self.fast is None else None)

    def forward(self, x: Tensor, *rest: Tensor | None) -> Outputs:
        n = self.n_states
        if len(rest) < n + 1:
            rest = (*rest, *[None] * (n + 1 - len(rest)))
        states, mask = list(rest[:n]), rest[n]
        if self.backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        if self.fast is not None and mask is None:
            ys, final = self._run_fast(x, states)
        else:
            ys, final = self._run_loop(x, states, mask)
        y = ys if self.sequences else ys[:, -1]
        return [y, *final] if self.with_states else [y]

    def _run_fast(self, x: Tensor, states: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        """torch's fused RNN op on nn.LSTM/GRU/RNN's own weight list (the module's ``forward`` is the same op behind
        ~15-30 µs of Python checks per call, which this does once at build or as the size checks below)."""
        fast = self.fast
        assert fast is not None and self.op is not None
        weights = fast._flat_weights  # kept current by nn.RNNBase (.to(), parameter assignment)
        wide = weights[0].dtype
        if x.dtype != wide:  # torch's RNNs need one dtype: recur in the weights' dtype, return the input's
            ys, final = self._run_fast(x.to(wide), [None if s is None else s.to(wide) for s in states])
            return ys.to(x.dtype), [f.to(x.dtype) for f in final]
        if x.dim() != 3 or x.shape[-1] != self.features:  # the op itself does not check the feature size
            raise RuntimeError(f"{self.kind}: expected input [batch, time, {self.features}]. Received: {list(x.shape)}")
        n, units = x.shape[0], self.units
        given = [s for s in states if s is not None]
        for s in given:
            if s.shape != (n, units):
                raise RuntimeError(f"{self.kind}: expected initial states of shape [{n}, {units}]. Received: {list(s.shape)}")
        hx = [s.to(wide).unsqueeze(0) for s in given] if given else [x.new_zeros(1, n, units) for _ in states]
        flags = (fast.bias, 1, 0.0, fast.training, False, True)  # bias, layers, dropout, train, bidirectional, batch_first
        if self.kind == "LSTM":
            ys, h, c = self.op(x, (hx[0], hx[1]), weights, *flags)
            return ys, [h[0], c[0]]
        ys, h = self.op(x, hx[0], weights, *flags)
        return ys, [h[0]]

    def _run_loop(self, x: Tensor, states: list[Tensor | None], mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        a, units = self.attrs, self.attrs["units"]
        act = activation(a["activation"])
        gate = activation(a.get("recurrent_activation", "sigmoid"))
        rk = self.recurrent_kernel.to(x.dtype)
        projected = torch.matmul(x, self.kernel.to(x.dtype))  # every step's input projection at once
        if a["use_bias"]:
            projected = projected + self.bias.to(x.dtype)
        n = x.shape[0]
        state = [torch.zeros(n, units, dtype=x.dtype) if s is None else s for s in states]
        previous = torch.zeros(n, units, dtype=x.dtype)
        outputs = []
        for t in range(int(x.shape[1])):
            xp, h = projected[:, t], state[0]
            if self.kind == "SimpleRNN":
                h = act(xp + h @ rk)
                out, new = h, [h]
            elif self.kind == "LSTM":
                z_i, z_f, z_c, z_o = (xp + h @ rk).split(units, dim=-1)
                c = gate(z_f) * state[1] + gate(z_i) * act(z_c)
                h = gate(z_o) * act(c)
                out, new = h, [h, c]
            else:
                x_z, x_r, x_h = xp.split(units, dim=-1)
                if a["reset_after"]:
                    inner = h @ rk
                    if a["use_bias"] and self.recurrent_bias is not None:
                        inner = inner + self.recurrent_bias.to(x.dtype)
                    h_z, h_r, h_h = inner.split(units, dim=-1)
                    z, r = gate(x_z + h_z), gate(x_r + h_r)
                    candidate = act(x_h + r * h_h)
                else:
                    h_z, h_r = (h @ rk[:, : 2 * units]).split(units, dim=-1)
                    z, r = gate(x_z + h_z), gate(x_r + h_r)
                    candidate = act(x_h + (r * h) @ rk[:, 2 * units :])
                h = z * state[0] + (1 - z) * candidate
                out, new = h, [h]
            if mask is not None:  # a masked step carries the states forward; its output is zero or the previous output
                m = mask[:, t, None].bool()
                out = torch.where(m, out, torch.zeros_like(out) if a["zero_output_for_mask"] else previous)
                new = [torch.where(m, s_new, s_old) for s_new, s_old in zip(new, state, strict=True)]
            outputs.append(out)
            previous, state = out, new
        return torch.stack(outputs, dim=1), state


def _masked(layer: Layer, slot: int) -> bool:
    return len(layer.inputs) > slot and layer.inputs[slot] is not None


def _rnn(kind: str):  # type: ignore[no-untyped-def]
    def convert(layer: Layer, w: W) -> nn.Module:
        return _Recurrent(kind, layer.attributes, w, _masked(layer, 1 + STATES[kind]))

    return convert


for _kind in STATES:
    converter(_kind)(_rnn(_kind))


class _Bidirectional(nn.Module):
    def __init__(self, layer: Layer, w: W) -> None:
        super().__init__()
        a = layer.attributes
        self.merge_mode = a["merge_mode"]
        self.nf, self.nb = STATES[a["forward"]["type"]], STATES[a["backward"]["type"]]
        masked = _masked(layer, 1 + self.nf + self.nb)
        sides = {}
        for side in ("forward", "backward"):
            inner = a[side]
            prefix = f"{side}_"
            weights = {role[len(prefix) :]: v for role, v in w.items() if role.startswith(prefix)}
            sides[side] = _Recurrent(inner["type"], inner["attributes"], weights, masked)
        self.forward_layer, self.backward_layer = sides["forward"], sides["backward"]
        self.sequences = a["forward"]["attributes"]["return_sequences"]

    def forward(self, x: Tensor, *rest: Tensor | None) -> Outputs:
        padded = [*rest, *[None] * (self.nf + self.nb + 1 - len(rest))]
        fs, bs, mask = padded[: self.nf], padded[self.nf : self.nf + self.nb], padded[self.nf + self.nb]
        fwd = self.forward_layer(x, *fs, mask)
        bwd = self.backward_layer(x, *bs, mask)
        y, y_rev = fwd[0], bwd[0]
        if self.sequences:
            y_rev = y_rev.flip(1)  # back to input time order, as Keras does
        mode = self.merge_mode
        if mode is None:
            merged = [y, y_rev]
        elif mode == "concat":
            merged = [torch.cat([y, y_rev], dim=-1)]
        elif mode == "sum":
            merged = [y + y_rev]
        elif mode == "mul":
            merged = [y * y_rev]
        else:
            merged = [(y + y_rev) / 2]
        return [*merged, *fwd[1:], *bwd[1:]]


@converter("Bidirectional")
def _bidirectional(layer: Layer, w: W) -> nn.Module:
    return _Bidirectional(layer, w)


class _TimeDistributed(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Outputs:
        n, t = x.shape[0], x.shape[1]
        out = self.inner(x.reshape(n * t, *x.shape[2:]))[0]  # every step is an independent sample
        return [out.reshape(n, t, *out.shape[1:])]


@converter("TimeDistributed")
def _time_distributed(layer: Layer, w: W) -> nn.Module:
    from kif.torch.layers import converters

    inner = layer.attributes["layer"]
    convert = converters().get(inner["type"])
    if convert is None:
        raise UnsupportedLayerError(
            f"kif.torch cannot convert layer {layer.name!r} (TimeDistributed): no torch converter for the wrapped type {inner['type']!r}",
            code="layer-unsupported",
            pointer=layer.name,
        )
    return _TimeDistributed(convert(Layer(f"{layer.name}/inner", inner["type"], inner["attributes"], [layer.inputs[0]], ["y"]), w))
