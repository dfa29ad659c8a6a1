"""Converter for ConvLSTM1D/2D/3D: a step loop over torch convolutions in NC* layout.

The input convolution runs for all steps at once (time folded into the batch) with TensorFlow's
explicit padding (kif.layers._conv_utils); the recurrent one is stride 1, "same", per step.
Kernels [*K, C, 4F] (Keras) become torch's [4F, C, *K]; gates i, f, c, o along the channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers import _conv_utils as cu
from kif.torch.layers import converter
from kif.torch.layers._util import Outputs, activation, pad_spec, tensor

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _torch_kernel(kernel: np.ndarray) -> Tensor:
    r = kernel.ndim - 2
    return tensor(kernel).permute(r + 1, r, *range(r)).contiguous()


class _ConvLSTM(nn.Module):
    def __init__(self, attrs: dict[str, Any], w: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.attrs = dict(attrs)
        self.rank = len(attrs["kernel_size"])
        self.register_buffer("kernel", _torch_kernel(w["kernel"]))
        self.register_buffer("recurrent_kernel", _torch_kernel(w["recurrent_kernel"]))
        self.register_buffer("bias", tensor(w["bias"]) if attrs["use_bias"] else None)

    def _first(self, x: Tensor, channel_axis: int) -> Tensor:
        return x.movedim(-1, channel_axis) if self.attrs["data_format"] == "channels_last" else x

    def _back(self, x: Tensor, channel_axis: int) -> Tensor:
        return x.movedim(channel_axis, -1) if self.attrs["data_format"] == "channels_last" else x

    def forward(self, x: Tensor, h0: Tensor | None = None, c0: Tensor | None = None, mask: Tensor | None = None) -> Outputs:
        a, r, f = self.attrs, self.rank, self.attrs["filters"]
        conv = _CONV[r]
        seq = self._first(x, 2)  # [N, T, C, *S]
        if a["go_backwards"]:
            seq = seq.flip(1)
            mask = None if mask is None else mask.flip(1)
        n, t = int(seq.shape[0]), int(seq.shape[1])
        spatial = [int(s) for s in seq.shape[3:]]
        geometry = zip(spatial, a["kernel_size"], a["strides"], a["dilation_rate"], strict=True)
        pads = [cu.conv_pads(a["padding"], s, k, st, d) for s, k, st, d in geometry]
        folded = F.pad(seq.reshape(n * t, *seq.shape[2:]), pad_spec(pads))
        bias = None if self.bias is None else self.bias.to(x.dtype)
        projected = conv(folded, self.kernel.to(x.dtype), bias, stride=a["strides"], dilation=a["dilation_rate"])
        out_spatial = [int(s) for s in projected.shape[2:]]
        projected = projected.reshape(n, t, 4 * f, *out_spatial)
        rpads = pad_spec([cu.same_pads(o, k, 1, 1) for o, k in zip(out_spatial, a["kernel_size"], strict=True)])
        rk = self.recurrent_kernel.to(x.dtype)
        zeros = torch.zeros(n, f, *out_spatial, dtype=x.dtype)
        h = zeros if h0 is None else self._first(h0, 1)
        c = zeros if c0 is None else self._first(c0, 1)
        act, gate = activation(a["activation"]), activation(a["recurrent_activation"])
        previous, outputs = zeros, []
        for step in range(t):
            z_i, z_f, z_c, z_o = (projected[:, step] + conv(F.pad(h, rpads), rk)).split(f, dim=1)
            c_new = gate(z_f) * c + gate(z_i) * act(z_c)
            h_new = gate(z_o) * act(c_new)
            out = h_new
            if mask is not None:  # a masked step carries the states; its output is zero or the previous output
                m = mask[:, step].bool().reshape(n, *[1] * (r + 1))
                out = torch.where(m, h_new, torch.zeros_like(h_new) if a["zero_output_for_mask"] else previous)
                h_new, c_new = torch.where(m, h_new, h), torch.where(m, c_new, c)
            outputs.append(out)
            previous, h, c = out, h_new, c_new
        y = self._back(torch.stack(outputs, dim=1), 2) if a["return_sequences"] else self._back(outputs[-1], 1)
        return [y, self._back(h, 1), self._back(c, 1)] if a["return_state"] else [y]


@converter("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def _conv_lstm(layer: Layer, w: dict[str, np.ndarray]) -> nn.Module:
    return _ConvLSTM(layer.attributes, w)
