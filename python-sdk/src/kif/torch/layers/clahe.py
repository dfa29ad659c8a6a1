"""ContrastLimitedAdaptiveHistogramEqualization (spec/layers/ContrastLimitedAdaptiveHistogramEqualization.md) as torch
operations, step for step: float32 histograms (TensorFlow's reading) and symmetric padding."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from kif.graph import Layer
from kif.torch.layers import converter
from kif.torch.layers._util import Fn

W = dict[str, np.ndarray]


def _symmetric(x: Tensor, dim: int, pad: int) -> Tensor:
    return x if pad == 0 else torch.cat([x, x.narrow(dim, x.shape[dim] - pad, pad).flip(dim)], dim)


def _axis(size: int, tile: int, grid: int) -> tuple[Tensor, Tensor, Tensor]:
    g = (torch.arange(size, dtype=torch.float32) - tile / 2.0) / tile + 1.0
    i0 = torch.floor(g)
    return i0.clamp(0, grid + 1).long(), (i0 + 1).clamp(0, grid + 1).long(), g - i0


def clahe(u: Tensor, gh: int, gw: int, clip_limit: float) -> Tensor:
    n, h, w, c = u.shape
    th, tw = -(-h // gh), -(-w // gw)
    if th * gh - h > h or tw * gw - w > w:
        raise ValueError(f"CLAHE: the tile padding exceeds the image size {h} x {w}")
    p = _symmetric(_symmetric(u, 1, th * gh - h), 2, tw * gw - w)
    bins = torch.trunc(p).clamp(-1, 256).long().clamp(0, 255)
    tiles = bins.reshape(n, gh, th, gw, tw, c).permute(0, 1, 3, 5, 2, 4).reshape(n, gh, gw, c, th * tw)
    hist = torch.zeros(n, gh, gw, c, 256, dtype=torch.float32).scatter_add_(-1, tiles, torch.ones(tiles.shape))
    if clip_limit > 0:
        limit = float(np.float32(clip_limit * (th * tw) / 256.0))
        clipped = hist.clamp(0.0, limit)
        hist = clipped + (hist - clipped).sum(-1, keepdim=True) / 256.0
    cdf = torch.cumsum(hist, -1)
    low = cdf.amin(-1, keepdim=True)
    den = float(th * tw) - low
    den = torch.where(den == 0, torch.ones_like(den), den)
    lut = ((cdf - low) * 255.0 / den).clamp(0.0, 255.0)
    lut = torch.cat([lut[:, :1], lut, lut[:, -1:]], 1)
    lut = torch.cat([lut[:, :, :1], lut, lut[:, :, -1:]], 2)
    y0, y1, wy = _axis(th * gh, th, gh)
    x0, x1, wx = _axis(tw * gw, tw, gw)
    b, ch = torch.arange(n)[:, None, None, None], torch.arange(c)[None, None, None, :]
    y0, y1, wy = y0[None, :, None, None], y1[None, :, None, None], wy[None, :, None, None]
    x0, x1, wx = x0[None, None, :, None], x1[None, None, :, None], wx[None, None, :, None]
    top = lut[b, y0, x0, ch, bins] * (1.0 - wx) + lut[b, y0, x1, ch, bins] * wx
    bottom = lut[b, y1, x0, ch, bins] * (1.0 - wx) + lut[b, y1, x1, ch, bins] * wx
    return (top * (1.0 - wy) + bottom * wy)[:, :h, :w, :]


@converter("ContrastLimitedAdaptiveHistogramEqualization")
def _clahe(layer: Layer, w: W) -> nn.Module:
    a = layer.attributes
    lo, hi = (float(v) for v in a["value_range"])
    gh, gw = (int(g) for g in a["tile_grid_size"])
    mapped, first = (lo, hi) != (0.0, 255.0), a["data_format"] == "channels_first"
    span = float(np.float32(hi) - np.float32(lo))  # rounded to float32 as the spec's step 1

    def run(m: Fn, x: Tensor) -> Tensor:
        img = x.permute(0, 2, 3, 1) if first else x
        u = (img.float() - lo) / span * 255.0 if mapped else img.float()
        r = clahe(u, gh, gw, float(a["clip_limit"]))
        v = (r / 255.0 * span + lo if mapped else r).to(x.dtype)
        return v.permute(0, 3, 1, 2) if first else v

    return Fn(run)
