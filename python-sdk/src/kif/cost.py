"""What running one layer costs, from shapes alone: the guard before the runtime allocates.

``check(...)`` is called with the shapes shape inference found, before a layer runs (with the
concrete input shapes) and during validation (with unknown dimensions taken as 1, the least
any non-empty run needs). It refuses, with ``limit-exceeded`` naming the layer and the size:

* an output or a kernel's scratch array (im2col columns, padded input, attention scores)
  larger than ``max_tensor_bytes`` or with more than ``max_tensor_elements`` elements;
* more than ``max_layer_ops`` multiply-accumulates (a Python-level loop iteration of a
  kernel, e.g. one pooling tap, counts as ``LOOP_OPS``, about what a NumPy call costs);
* more than ``max_layer_inputs`` inputs.

The estimates are upper bounds of what the reference kernels do, within a small factor; a
layer type with no entry here costs the elements it reads and writes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from kif import limits, sizes
from kif.errors import KifError
from kif.layers.registry import TensorType

LOOP_OPS = 10_000  # a NumPy call costs microseconds: about ten thousand element operations
Estimate = tuple[int, int]  # (operations, largest scratch array in elements)
Weights = dict[str, tuple[int, ...]]


def _n(t: TensorType | None) -> int:
    return 0 if t is None else sizes.elements(t.shape)


def _spatial(shape: Sequence[int | None], attrs: dict[str, Any]) -> list[int]:
    dims = shape[2:] if attrs.get("data_format") == "channels_first" else shape[1:-1]
    return [1 if d is None else d for d in dims]


def _dense(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    kernel = w.get("kernel")
    return (_n(outs[0]) * (kernel[0] if kernel else 1), 0)


def _contraction(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    # x · kernel → y where each index appears in two of the three: the index product is sqrt(|x| |kernel| |y|).
    kernel = math.prod(w.get("kernel", (1,)))
    return (math.isqrt(_n(ins[0]) * kernel * _n(outs[0])) + 1, 0)


def _conv(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    kernel = w.get("kernel", (1, 1))
    ops = _n(outs[0]) * math.prod(kernel[:-1])  # kernel [*K, C/groups, F]
    return (ops, ops // max(kernel[-1], 1))  # im2col columns: one row per output position


def _locally_connected(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    kernel = w.get("kernel", (1, 1))  # [*out, *K, C, F]: every output element reads its position's K * C taps
    ops = _n(outs[0]) * math.prod(kernel[len(kernel) // 2 - 1 : -1])
    return (ops, ops // max(kernel[-1], 1))  # the windows gathered for the contraction


def _conv_transpose(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    kernel = w.get("kernel", (1, 1))
    cols = _n(ins[0]) // max(kernel[-1], 1) * math.prod(kernel[:-1])  # every input pixel times every tap
    taps = math.prod(kernel[:-2])
    return (cols * kernel[-1] + taps * LOOP_OPS, max(cols, _n(outs[0])))


def _depthwise(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    kernel = w.get("depthwise_kernel", (1, 1, 1))
    taps = math.prod(kernel[:-2])
    pointwise = w.get("pointwise_kernel")
    ops = _n(outs[0]) * (taps + (pointwise[-2] if pointwise else 0)) + taps * LOOP_OPS
    return (ops, _padded(attrs, ins[0]))


def _padded(attrs: dict[str, Any], x: TensorType | None) -> int:
    """Elements of the input once padded by at most one window (what np.pad allocates)."""
    if x is None:
        return 0
    window = attrs.get("pool_size") or attrs.get("kernel_size") or ()
    dilation = attrs.get("dilation_rate") or [1] * len(window)
    spatial = _spatial(x.shape, attrs)
    grown = math.prod(n + (k - 1) * d for n, k, d in zip(spatial, window, dilation, strict=False))
    return _n(x) // max(math.prod(spatial), 1) * grown


def _pool(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    taps = math.prod(attrs["pool_size"])
    return (_n(outs[0]) * taps + taps * LOOP_OPS, _padded(attrs, ins[0]))


def _recurrent(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    x = ins[0]
    if x is None or len(x.shape) != 3:
        return (0, 0)
    batch, steps = (1 if d is None else d for d in x.shape[:2])
    per_step = batch * (math.prod(w.get("kernel", (0,))) + math.prod(w.get("recurrent_kernel", (0,))))
    return (steps * (per_step + LOOP_OPS), batch * steps * w.get("kernel", (0, 0))[-1])


def _conv_lstm(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    x = ins[0]
    if x is None or len(x.shape) < 4:
        return (0, 0)
    steps = 1 if x.shape[1] is None else x.shape[1]
    state = _n(outs[0]) // (steps if attrs["return_sequences"] else 1)  # [N, *O, F] elements
    kernel, recurrent = w.get("kernel", (1, 1)), w.get("recurrent_kernel", (1, 1))
    per_step = 4 * state * (math.prod(kernel[:-1]) + math.prod(recurrent[:-1]))
    cols = steps * state // max(attrs["filters"], 1) * math.prod(kernel[:-1])  # im2col of every step's input convolution
    return (steps * (per_step + LOOP_OPS), max(cols, 4 * steps * state))


def _attention(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    query = ins[0]
    value = ins[1] if len(ins) > 1 and ins[1] is not None else query
    if query is None or value is None or len(query.shape) < 3 or len(value.shape) < 3:
        return (0, 0)
    heads = int(attrs.get("num_heads") or attrs.get("num_query_heads") or 1)
    steps_q = sizes.elements(query.shape[1:-1])
    steps_v = sizes.elements(value.shape[1:-1])
    batch = 1 if query.shape[0] is None else query.shape[0]
    scores = batch * heads * steps_q * steps_v
    depth = max((query.shape[-1] or 1), int(attrs.get("key_dim") or 1))
    projections = sum(_n(t) for t in ins) * max((math.prod(k) for k in w.values()), default=1) // max(depth, 1)
    return (2 * scores * depth + projections, scores)


def _per_string(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    # a Python-level hash or dictionary probe per element (about a microsecond), plus building the vocabulary table
    return (sum(_n(t) for t in ins) * LOOP_OPS // 10 + len(attrs.get("vocabulary") or ()) * LOOP_OPS // 10, 0)


_CONV = ("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSE = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
_POOL = tuple(f"{m}Pooling{d}D" for m in ("Max", "Average") for d in (1, 2, 3))
_ATTENTION = ("Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention")
_RECURRENT = ("SimpleRNN", "LSTM", "GRU")

ESTIMATES: dict[str, Callable[[dict[str, Any], Sequence[TensorType | None], Sequence[TensorType], Weights], Estimate]] = {
    "Dense": _dense,
    "EinsumDense": _contraction,
    **dict.fromkeys(_CONV, _conv),
    **dict.fromkeys(_TRANSPOSE, _conv_transpose),
    **dict.fromkeys(_DEPTHWISE, _depthwise),
    **dict.fromkeys(_POOL, _pool),
    **dict.fromkeys(_ATTENTION, _attention),
    **dict.fromkeys(_RECURRENT, _recurrent),
    **dict.fromkeys(("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"), _conv_lstm),
    **dict.fromkeys(("Hashing", "HashedCrossing", "StringLookup"), _per_string),
    **dict.fromkeys(("LocallyConnected1D", "LocallyConnected2D"), _locally_connected),
}


def _text_vectorization(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    # Python-level text steps and a dictionary probe per element, plus the vocabulary table (run bounds the n-grams)
    return ((sum(_n(t) for t in ins) + len(attrs.get("vocabulary") or ())) * LOOP_OPS // 10, 0)


ESTIMATES["TextVectorization"] = _text_vectorization


def _clahe(attrs: dict[str, Any], ins: Sequence[TensorType | None], outs: Sequence[TensorType], w: Weights) -> Estimate:
    # 256-bin histograms and mappings per image, tile and channel; a few dozen operations per padded pixel
    x = ins[0]
    shape = [1 if d is None else d for d in (x.shape if x is not None else (1, 1, 1, 1))]
    batch, channels = shape[0], shape[1] if attrs.get("data_format") == "channels_first" else shape[-1]
    tiles = math.prod(int(g) + 2 for g in attrs.get("tile_grid_size", (1, 1)))
    hist = batch * channels * tiles * 256
    return (8 * hist + 40 * _n(x), max(hist, 2 * _n(x)))


ESTIMATES["ContrastLimitedAdaptiveHistogramEqualization"] = _clahe


@functools.cache
def _itemsize(dtype: str) -> int:
    from kif.dtypes import by_name

    try:
        return by_name(dtype).itemsize
    except KifError:
        return 8  # an unknown dtype is reported elsewhere; assume the widest


def check(
    layer_type: str,
    name: str,
    attrs: dict[str, Any],
    ins: Sequence[TensorType | None],
    outs: Sequence[TensorType],
    weights: Weights,
    pointer: str | None = None,
) -> None:
    """Raise KifError(code="limit-exceeded") if running the layer would exceed a limit."""
    bound = limits.current()

    def refuse(what: str) -> KifError:
        return KifError(f"Layer {name!r} ({layer_type}): {what}", code="limit-exceeded", pointer=pointer or name)

    if len(ins) > bound.max_layer_inputs:
        raise refuse(f"expected at most {bound.max_layer_inputs} inputs (the max_layer_inputs limit). Received: {len(ins)}")
    for index, out in enumerate(outs):
        problem = sizes.shape_problem(out.shape)
        if problem is not None:
            raise refuse(f"output {index} would have {problem}")
        count = sizes.elements(out.shape)
        nbytes = count * _itemsize(out.dtype)
        if count > bound.max_tensor_elements or nbytes > bound.max_tensor_bytes:
            raise refuse(
                f"output {index} of shape {list(out.shape)} {out.dtype} needs {sizes.human(nbytes)} ({count} elements); "
                f"the limits are max_tensor_bytes={bound.max_tensor_bytes}, max_tensor_elements={bound.max_tensor_elements}"
            )
    estimate = ESTIMATES.get(layer_type)
    ops, scratch = estimate(attrs, ins, outs, weights) if estimate is not None else (0, 0)
    ops = max(ops, sum(_n(t) for t in ins) + sum(_n(t) for t in outs))
    if ops > bound.max_layer_ops:
        raise refuse(f"needs about {ops:.3g} operations; the max_layer_ops limit is {bound.max_layer_ops:.3g}")
    itemsize = max((_itemsize(t.dtype) for t in (*ins, *outs) if t is not None), default=4)
    if scratch > bound.max_tensor_elements or scratch * itemsize > bound.max_tensor_bytes:
        raise refuse(f"needs a working array of {sizes.human(scratch * itemsize)} ({scratch} elements); the limit is max_tensor_bytes")
