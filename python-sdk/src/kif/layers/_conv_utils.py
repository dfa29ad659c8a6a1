"""Private helpers of kif.layers.conv: padding arithmetic (TensorFlow's rules) and the two NumPy cores.

* ``conv``: im2col through ``sliding_window_view`` (a strided view, no copy until the one
  reshape that feeds BLAS), then one matmul per layer; groups become a batch axis of the matmul.
* ``depthwise_conv``: one vectorised multiply-accumulate per kernel tap.
* ``conv_transpose``: one matmul of every input pixel with every kernel tap, then col2im by
  strided adds, looping over kernel taps only.

Both work channels-last on [N, *spatial, C]; the caller transposes channels_first data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pads = list[tuple[int, int]]

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def effective(k: int, d: int) -> int:
    """Extent of a kernel of k taps dilated by d."""
    return (k - 1) * d + 1


def same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow "same": output ceil(n / s); an odd total puts the extra cell at the end."""
    out = -(-n // s)
    total = max((out - 1) * s + effective(k, d) - n, 0)
    return total // 2, total - total // 2


def conv_pads(padding: str, n: int, k: int, s: int, d: int) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return effective(k, d) - 1, 0
    return same_pads(n, k, s, d)


def conv_length(padding: str, n: int, k: int, s: int, d: int) -> int:
    """Output length of a forward convolution along one axis (may be <= 0 for "valid")."""
    before, after = conv_pads(padding, n, k, s, d)
    return (n + before + after - effective(k, d)) // s + 1


def transpose_length(padding: str, n: int, k: int, s: int, d: int, output_padding: int | None) -> int:
    """Output length of a transposed convolution along one axis, as Keras/TensorFlow define it."""
    ke = effective(k, d)
    if padding == "valid":
        return (n - 1) * s + (max(ke, s) if output_padding is None else ke + output_padding)
    return n * s if output_padding is None else (n - 1) * s + ke % 2 + output_padding


def transpose_pad_before(padding: str, n: int, k: int, s: int, d: int, out: int) -> int:
    """Cells cropped from the start of the full transposed output: the "same" padding of the forward conv of length out."""
    if padding == "valid":
        return 0
    return max((n - 1) * s + effective(k, d) - out, 0) // 2


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16/bfloat16 are computed in float32 (NumPy has no BLAS for them); the result is cast back."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _pad(x: np.ndarray, pads: Pads) -> np.ndarray:
    return np.pad(x, [(0, 0), *pads, (0, 0)]) if any(p for pair in pads for p in pair) else x


def conv(x: np.ndarray, kernel: np.ndarray, strides: Sequence[int], dilation: Sequence[int], pads: Pads, groups: int) -> np.ndarray:
    """Cross-correlation of x [N, *S, C] with kernel [*K, C // groups, F]; returns [N, *O, F]."""
    r = kernel.ndim - 2
    ks, f = kernel.shape[:r], kernel.shape[-1]
    x = _pad(x, pads)
    extents = tuple(effective(k, d) for k, d in zip(ks, dilation, strict=True))
    windows = sliding_window_view(x, extents, axis=tuple(range(1, r + 1)))  # [N, *P, C, *extents]
    step = (slice(None), *(slice(None, None, s) for s in strides), slice(None), *(slice(None, None, d) for d in dilation))
    windows = windows[step]  # [N, *O, C, *K]: strided output positions, dilated taps
    n, out, c = windows.shape[0], windows.shape[1 : r + 1], windows.shape[r + 1]
    cg, fg, taps, rows = c // groups, f // groups, math.prod(ks), n * math.prod(out)
    # im2col: columns ordered (tap, channel) so the one copy moves runs of contiguous channels,
    # and the kernel [*K, C/g, F] needs no reordering when groups == 1.
    windows = windows.reshape(n, *out, groups, cg, *ks)  # splitting C is a view; merging the taps would copy
    order = (r + 1, *range(r + 1), *range(r + 3, 2 * r + 3), r + 2)  # [g, N, *O, *K, C/g]
    cols = windows.transpose(order).reshape(groups, rows, taps * cg)
    w = kernel.reshape(taps * cg, groups, fg).transpose(1, 0, 2)  # [g, taps * C/g, F/g]
    y = cols[0] @ w[0] if groups == 1 else np.matmul(cols, w).transpose(1, 0, 2).reshape(rows, f)
    return y.reshape(n, *out, f)


def depthwise_conv(
    x: np.ndarray, kernel: np.ndarray, strides: Sequence[int], dilation: Sequence[int], pads: Pads, out: Sequence[int]
) -> np.ndarray:
    """Depthwise convolution of x [N, *S, C] with kernel [*K, C, m]; returns [N, *out, C * m] (channel c * m + j).

    A multiply-accumulate per kernel tap over the whole batch: cheaper than im2col + C tiny matmuls.
    """
    r = kernel.ndim - 2
    ks, c, m = kernel.shape[:r], kernel.shape[r], kernel.shape[r + 1]
    x = _pad(x, pads)
    y = np.zeros((x.shape[0], *out, c, m), dtype=np.result_type(x, kernel))
    for tap in np.ndindex(*ks):
        src = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(tap, dilation, out, strides, strict=True))
        y += x[(slice(None), *src)][..., None] * kernel[tap]
    return y.reshape(x.shape[0], *out, c * m)


def conv_transpose(
    x: np.ndarray, kernel: np.ndarray, strides: Sequence[int], dilation: Sequence[int], out: Sequence[int], pad_before: Sequence[int]
) -> np.ndarray:
    """Transposed convolution of x [N, *I, C] with kernel [*K, F, C]; returns [N, *out, F].

    y[o] = sum over (i, t) with o + pad_before = i * s + t * d of x[i] @ kernel[t].T
    """
    r = kernel.ndim - 2
    ks, f, c = kernel.shape[:r], kernel.shape[r], kernel.shape[r + 1]
    n, ins = x.shape[0], x.shape[1 : r + 1]
    cols = (x.reshape(-1, c) @ kernel.reshape(-1, c).T).reshape(n, *ins, *ks, f)  # every pixel times every tap
    full = [max((i - 1) * s + effective(k, d), o + p) for i, s, k, d, o, p in zip(ins, strides, ks, dilation, out, pad_before, strict=True)]
    buf = np.zeros((n, *full, f), dtype=cols.dtype)
    lead = (slice(None),) * (r + 1)
    for tap in np.ndindex(*ks):  # col2im: scatter-add each tap's contribution, strided by s
        dest = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, i, s in zip(tap, dilation, ins, strides, strict=True))
        buf[(slice(None), *dest)] += cols[(*lead, *tap)]
    return buf[(slice(None), *(slice(p, p + o) for p, o in zip(pad_before, out, strict=True)))]
