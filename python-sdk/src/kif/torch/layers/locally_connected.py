"""LocallyConnected1D/2D: zero padding (tf.keras's local "same": floor(k / 2) before), ``Tensor.unfold`` per spatial
axis for the strided windows, one einsum with the unshared kernel [*out, *K, C, F], then bias and activation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kif.graph import Layer
from kif.layers.locally_connected import geometry
from kif.torch.layers import converter
from kif.torch.layers._util import Fn, activation, from_last, like, pad_spec, to_first


@converter("LocallyConnected1D", "LocallyConnected2D")
def _locally_connected(layer: Layer, w: dict[str, np.ndarray]) -> nn.Module:
    a = layer.attributes
    fmt, strides, ksize = a["data_format"], list(a["strides"]), list(a["kernel_size"])
    act = activation(a["activation"])
    d = len(ksize)
    o, t = "opq"[:d], "tuv"[:d]

    def forward(m: Fn, x: Tensor) -> Tensor:
        xf = to_first(x, fmt)  # [N, C, *spatial]
        pads, crop = [], [slice(None), slice(None)]
        for n, k, s in zip(xf.shape[2:], ksize, strides, strict=True):
            _, before, after = geometry(a["padding"], int(n), k, s)
            pads.append((before, max(after, 0)))
            crop.append(slice(0, int(n) + before + after))
        xp = F.pad(xf, pad_spec(pads))[tuple(crop)]
        for axis, (k, s) in enumerate(zip(ksize, strides, strict=True)):
            xp = xp.unfold(2 + axis, k, s)  # [N, C, *out, *K]
        y = torch.einsum(f"bc{o}{t},{o}{t}cf->b{o}f", xp, like(m.kernel, xp))
        if m.bias is not None:
            y = y + like(m.bias, y)
        return act(from_last(y, fmt))

    return Fn(forward, kernel=w["kernel"], bias=w.get("bias") if a["use_bias"] else None)
