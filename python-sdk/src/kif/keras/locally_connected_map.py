"""tf.keras 2 LocallyConnected1D/2D → the KIF types of the same name, every ``implementation``'s stored kernel turned
into the canonical [*out, *kernel_size, in, filters] (spec/layers/LocallyConnected1D.md, Notes).

Implementation 1 stores [P, K * C, F] (rows (t, c), or (c, t) channels_first); 2 the dense masked [*in, C, *out, F]
(channels_first [C, *in, F, *out]); 3 the connected entries of a sparse [P * F, I * C] matrix in the sorted order of
tf_keras ``conv_utils.conv_kernel_idxs``. 2 and 3 go through the dense form, from which each output position's taps
are gathered (taps that read padding become 0). A channels_first bias is the row-major reshape tf.keras adds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np

from kif import limits
from kif.bundle.deferred import DeferredTensor
from kif.keras import h5safe
from kif.keras.errors import too_large
from kif.keras.mapping import Context, MappedLayer, assign_weights, generic_attributes, mapper
from kif.layers.locally_connected import geometry

Ints = list[int]


def _taps(out: Ints, ksize: Ints, strides: Ints, befores: Ints) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per axis the input index of (output position, tap) and the output index, broadcast to [*out, *K]; and the valid mask."""
    d = len(out)
    ins, outs, valid = [], [], np.ones([*out, *ksize], bool)
    for a, (o, k, s, b) in enumerate(zip(out, ksize, strides, befores, strict=True)):
        shape = [1] * (2 * d)
        shape[a], shape[d + a] = o, k
        index = (np.arange(o)[:, None] * s - b + np.arange(k)[None, :]).reshape(shape)
        ins.append(index)
        outs.append(np.arange(o).reshape([o if i == a else 1 for i in range(2 * d)]))
    return ins, outs, valid


def _from_dense(dense: np.ndarray, spatial: Ints, out: Ints, ksize: Ints, strides: Ints, befores: Ints) -> np.ndarray:
    """[*in, C, *out, F] → [*out, *K, C, F]: each output position's taps, zero where they read padding."""
    ins, outs, valid = _taps(out, ksize, strides, befores)
    for a, (index, n) in enumerate(zip(ins, spatial, strict=True)):
        valid = valid & (index >= 0) & (index < n)
        ins[a] = np.clip(index, 0, n - 1)
    gathered = dense[(*ins, slice(None), *outs, slice(None))]  # [*out, *K, C, F]
    return np.where(valid[..., None, None], gathered, 0).astype(dense.dtype)


def _sparse_dense(values: np.ndarray, spatial: list[int], channels: int, out: list[int], filters: int, attrs: dict[str, Any]) -> np.ndarray:
    """Implementation 3: the sparse [P * F, I * C] matrix made dense, as [*in, C, *out, F]."""
    first = attrs["data_format"] == "channels_first"
    out_dims = (filters, *out) if first else (*out, filters)
    in_dims = (channels, *spatial) if first else (*spatial, channels)
    pairs = []
    for position in itertools.product(*(range(o) for o in out)):
        ranges = []
        for p, n, k, s in zip(position, spatial, attrs["kernel_size"], attrs["strides"], strict=True):
            left = k // 2
            center = p * s + (left if attrs["padding"] == "valid" else 0)
            ranges.append(range(max(0, center - left), min(n, center + k - left)))
        for source in itertools.product(*ranges):
            for c in range(channels):
                for f in range(filters):
                    o_index = (f, *position) if first else (*position, f)
                    i_index = (c, *source) if first else (*source, c)
                    pairs.append((int(np.ravel_multi_index(o_index, out_dims)), int(np.ravel_multi_index(i_index, in_dims))))
    pairs.sort()
    if len(pairs) != values.size:
        raise ValueError(f"expected {len(pairs)} kernel entries. Received: {values.size}")
    matrix = np.zeros((math.prod(out_dims), math.prod(in_dims)), values.dtype)
    rows, cols = np.array(pairs, np.int64).T
    matrix[rows, cols] = values.reshape(-1)
    d = len(out)
    full = matrix.reshape(*out_dims, *in_dims)
    if first:  # [F, *out, C, *in] → [*in, C, *out, F]
        return full.transpose(*range(d + 2, 2 * d + 2), d + 1, *range(1, d + 1), 0)
    return full.transpose(*range(d + 1, 2 * d + 1), 2 * d + 1, *range(d), d)  # [*out, F, *in, C] → [*in, C, *out, F]


@mapper("LocallyConnected1D", "LocallyConnected2D")
def _locally_connected(ctx: Context) -> list[MappedLayer]:
    kif_type = ctx.node.class_name
    d = 1 if kif_type.endswith("1D") else 2
    config = dict(ctx.config)
    implementation = config.pop("implementation", 1)
    if implementation not in (1, 2, 3):
        raise ctx.fail(f"expected implementation 1, 2 or 3. Received: implementation={implementation!r}")
    attrs = generic_attributes(replace(ctx, node=replace(ctx.node, config=config)), kif_type)
    shape = ctx.shape_of(ctx.node.inputs[0])
    first = attrs["data_format"] == "channels_first"
    if shape is None or len(shape) != d + 2 or any(v is None for v in shape[1:]):
        raise ctx.fail("the stored kernel follows the input's spatial sizes and channels, which the config must give statically")
    spatial = [int(v) for v in (shape[2:] if first else shape[1:-1])]
    channels, filters = int(shape[1] if first else shape[-1]), int(attrs["filters"])
    geo = [geometry(attrs["padding"], n, k, s) for n, k, s in zip(spatial, attrs["kernel_size"], attrs["strides"], strict=True)]
    out, befores = [g[0] for g in geo], [g[1] for g in geo]
    ksize, strides = list(attrs["kernel_size"]), list(attrs["strides"])
    if min(out) < 1:
        raise ctx.fail(f"the input's spatial sizes {spatial} give no output with kernel_size={ksize}")
    stored = assign_weights(ctx, kif_type, attrs, order=["kernel", "bias"])
    kernel = stored["kernel"]
    positions, taps = math.prod(out), math.prod(ksize)
    expected = {
        1: (positions, taps * channels, filters),
        2: (channels, *spatial, filters, *out) if first else (*spatial, channels, *out, filters),
        3: None,
    }[implementation]
    if (expected is not None and tuple(kernel.shape) != expected) or (implementation == 3 and len(kernel.shape) != 1):
        want = list(expected or ["entries"])
        raise ctx.fail(f"expected a kernel of shape {want} for implementation={implementation}. Received: {list(kernel.shape)}")
    dense_bytes = positions * filters * math.prod(spatial) * channels * np.dtype(kernel.dtype).itemsize
    budget = limits.current().max_tensor_bytes
    if implementation == 3 and dense_bytes > budget:
        what = f"Layer {ctx.node.layer_name!r} ({kif_type}): the dense kernel"
        raise too_large(what, dense_bytes, "max_tensor_bytes", budget, pointer=ctx.node.name)

    def load_kernel() -> np.ndarray:
        raw = np.asarray(h5safe.read(kernel))
        if implementation == 1:
            if first:  # rows (c, *t)
                return np.moveaxis(raw.reshape(*out, channels, *ksize, filters), d, 2 * d)
            return raw.reshape(*out, *ksize, channels, filters)
        if implementation == 2:
            dense = raw.transpose(*range(1, d + 1), 0, *range(d + 2, 2 * d + 2), d + 1) if first else raw
        else:
            dense = _sparse_dense(raw, spatial, channels, out, filters, attrs)
        return _from_dense(dense, spatial, out, ksize, strides, befores)

    weights: dict[str, Any] = {"kernel": DeferredTensor(kernel.dtype, (*out, *ksize, channels, filters), load_kernel)}
    if attrs["use_bias"]:
        bias = stored["bias"]
        if tuple(bias.shape) != (*out, filters):
            raise ctx.fail(f"expected a bias of shape {[*out, filters]}. Received: {list(bias.shape)}")

        def load_bias() -> np.ndarray:
            raw = np.asarray(h5safe.read(bias))
            return np.moveaxis(raw.reshape(filters, *out), 0, -1) if first else raw  # tf.keras adds reshape(bias, [F, *out])

        weights["bias"] = DeferredTensor(bias.dtype, (*out, filters), load_bias)
    return [MappedLayer(kif_type, attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]
