"""LocallyConnected1D/2D (spec/layers/LocallyConnected1D.md): a convolution whose taps differ at every output position.

Channels-last view, per spatial axis input size n, kernel k, stride s, output o:
  "valid": out = floor((n - k) / s) + 1, output o reads input cells o*s + t;
  "same":  out = ceil(n / s), output o reads cells o*s - floor(k / 2) + t (cells outside [0, n) are zero),
  y[b, *o, f] = activation(bias[*o, f] + sum over *t, c of x[b, *cells(o, t), c] * kernel[*o, *t, c, f]).
The kernel pads, takes the strided windows as a view and contracts them with the kernel in one einsum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kif.layers import activations
from kif.layers._conv_utils import compute_dtype
from kif.layers._spatial import from_last, is_float, join, spatial_input, split, to_last
from kif.layers.registry import ShapeError, TensorType, register_layer

_LETTERS = "opq", "tuv"  # output and tap subscripts per spatial axis (at most 3)


def geometry(padding: str, n: int, k: int, s: int) -> tuple[int, int, int]:
    """(out, before, after) along one axis; ``after`` may be negative (cells past the last window are unread)."""
    if padding == "same":
        out, before = -(-n // s), k // 2
    else:
        out, before = (n - k) // s + 1, 0
    return out, before, (out - 1) * s + k - n - before


def _out_spatial(attrs: dict[str, Any], spatial: list[int | None]) -> list[int | None]:
    out: list[int | None] = []
    for n, k, s in zip(spatial, attrs["kernel_size"], attrs["strides"], strict=True):
        size = None if n is None else geometry(attrs["padding"], n, k, s)[0]
        if size is not None and size < 1:
            raise ShapeError(f"expected an input of at least {k} cells for padding='valid'. Received: {n}")
        out.append(size)
    return out


def _infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]], dims: int) -> list[TensorType]:
    x = spatial_input(inputs, dims)
    if not is_float(x.dtype):
        raise ShapeError(f"expected a floating input. Received: {x.dtype}")
    fmt, filters = attrs["data_format"], attrs["filters"]
    batch, spatial, channels = split(x.shape, fmt)
    out = _out_spatial(attrs, spatial)
    kernel = weights.get("kernel")
    if kernel is not None:
        expected = [*out, *attrs["kernel_size"], channels, filters]
        if len(kernel) != len(expected) or any(e is not None and g != e for g, e in zip(kernel, expected, strict=True)):
            shown = ["?" if e is None else e for e in expected]
            raise ShapeError(f"expected kernel of shape {shown} ([*out, *kernel_size, in, filters]). Received: {list(kernel)}")
        out = [int(d) for d in kernel[:dims]]
    bias = weights.get("bias")
    want = [*out, filters]
    if (
        attrs["use_bias"]
        and bias is not None
        and (len(bias) != dims + 1 or any(e is not None and g != e for g, e in zip(bias, want, strict=True)))
    ):
        raise ShapeError(f"expected bias of shape {[*out, filters]} ([*out, filters]). Received: {list(bias)}")
    return [TensorType(x.dtype, join(batch, out, filters, fmt))]


def locally_connected(x: np.ndarray, kernel: np.ndarray, strides: list[int], padding: str) -> np.ndarray:
    """The unshared correlation of a channels-last array [N, *spatial, C] with kernel [*out, *K, C, F] (no bias)."""
    dims = x.ndim - 2
    ksize = kernel.shape[dims : 2 * dims]
    pads, crop = [(0, 0)], [slice(None)]
    for n, k, s in zip(x.shape[1:-1], ksize, strides, strict=True):
        _, before, after = geometry(padding, n, k, s)
        pads.append((before, max(after, 0)))
        crop.append(slice(0, n + before + after))
    xp = np.pad(x, [*pads, (0, 0)])[(*crop, slice(None))]
    view = sliding_window_view(xp, ksize, axis=tuple(range(1, dims + 1)))  # [N, *positions, C, *K]
    view = view[(slice(None), *(slice(None, None, s) for s in strides))]
    o, t = _LETTERS[0][:dims], _LETTERS[1][:dims]
    return np.einsum(f"b{o}c{t},{o}{t}cf->b{o}f", view, kernel, optimize=True)


def _run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    x = inputs[0]
    assert x is not None
    fmt, wide = attrs["data_format"], compute_dtype(x.dtype)
    kernel = weights["kernel"].astype(x.dtype, copy=False).astype(wide, copy=False)
    y = locally_connected(to_last(x, fmt).astype(wide, copy=False), kernel, list(attrs["strides"]), attrs["padding"])
    if tuple(y.shape[1:-1]) != tuple(kernel.shape[: x.ndim - 2]):
        raise ShapeError(f"expected input spatial sizes giving outputs {list(kernel.shape[: x.ndim - 2])}. Received: {list(x.shape)}")
    if attrs["use_bias"]:
        y += weights["bias"].astype(x.dtype, copy=False).astype(wide, copy=False)
    return [np.ascontiguousarray(activations.apply(attrs["activation"], from_last(y, fmt)).astype(x.dtype, copy=False))]


@register_layer("LocallyConnected1D")
class LocallyConnected1D:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer(attrs, inputs, weights, 1)

    run = staticmethod(_run)


@register_layer("LocallyConnected2D")
class LocallyConnected2D:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return _infer(attrs, inputs, weights, 2)

    run = staticmethod(_run)
