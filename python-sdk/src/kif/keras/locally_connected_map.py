"""tf.keras 2 LocallyConnected1D/2D → the KIF types of the same name, every ``implementation``'s stored kernel turned
into the canonical [*out, *kernel_size, in, filters] (spec/layers/LocallyConnected1D.md, Notes).

Implementation 1 stores [P, K * C, F] (rows (t, c), or (c, t) channels_first); 2 the dense masked [*in, C, *out, F]
(channels_first [C, *in, F, *out]); 3 the connected entries of a sparse [P * F, I * C] matrix in the sorted order of
tf_keras ``conv_utils.conv_kernel_idxs``. 2's dense form gives each output position's taps by gathering, 3's entries are
scattered into place (taps that read padding stay 0). A channels_first bias is the row-major reshape tf.keras adds.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from kif.bundle.deferred import DeferredTensor
from kif.keras import h5safe
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


def _connected(n: int, k: int, s: int, out: int, padding: str) -> tuple[np.ndarray, np.ndarray]:
    """tf_keras ``conv_connected_inputs`` along one axis: (output position, input position) pairs, in loop order."""
    left = k // 2
    center = np.arange(out) * s + (left if padding == "valid" else 0)
    starts, ends = np.maximum(0, center - left), np.minimum(n, center + k - left)
    counts = np.maximum(ends - starts, 0)
    o = np.repeat(np.arange(out), counts)
    return o, starts[o] + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def sparse_entries(spatial: Ints, channels: int, out: Ints, filters: int, attrs: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis the (output, input) position pairs of implementation 3's connected entries."""
    return [
        _connected(n, k, s, o, attrs["padding"]) for n, k, s, o in zip(spatial, attrs["kernel_size"], attrs["strides"], out, strict=True)
    ]


def _from_sparse(
    values: np.ndarray, spatial: Ints, channels: int, out: Ints, filters: int, attrs: dict[str, Any], befores: Ints
) -> np.ndarray:
    """Implementation 3: the entries, sorted by (row, column) of the sparse [P * F, I * C] matrix, scattered straight
    into [*out, *K, C, F] (tap t = input - (output * stride - before) per axis); no dense matrix is built."""
    first = attrs["data_format"] == "channels_first"
    d = len(out)
    pairs = sparse_entries(spatial, channels, out, filters, attrs)
    grids = np.meshgrid(*(np.arange(len(o)) for o, _ in pairs), np.arange(channels), np.arange(filters), indexing="ij")
    flat = [g.reshape(-1) for g in grids]
    o_pos = [pairs[a][0][flat[a]] for a in range(d)]
    i_pos = [pairs[a][1][flat[a]] for a in range(d)]
    c, f = flat[d], flat[d + 1]
    rows = np.ravel_multi_index((f, *o_pos) if first else (*o_pos, f), (filters, *out) if first else (*out, filters))
    cols = np.ravel_multi_index((c, *i_pos) if first else (*i_pos, c), (channels, *spatial) if first else (*spatial, channels))
    order = np.lexsort((cols, rows))  # sorted(conv_kernel_idxs): by row, then column
    kernel = np.zeros((*out, *attrs["kernel_size"], channels, filters), values.dtype)
    taps = [i_pos[a] - (o_pos[a] * attrs["strides"][a] - befores[a]) for a in range(d)]
    index = tuple(x[order] for x in (*o_pos, *taps, c, f))
    kernel[index] = values.reshape(-1)
    return kernel


@mapper("LocallyConnected1D", "LocallyConnected2D")
def _locally_connected(ctx: Context) -> list[MappedLayer]:
    kif_type = ctx.node.class_name
    d = 1 if kif_type.endswith("1D") else 2
    config = dict(ctx.config)
    if ctx.node.registered_name == f"kif>{kif_type}":  # to_keras's rebuild: the canonical layout already
        attrs = generic_attributes(ctx, kif_type)
        return [MappedLayer(kif_type, attrs, list(ctx.node.inputs), list(ctx.node.outputs), assign_weights(ctx, kif_type, attrs))]
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
    if implementation == 3:
        entries = math.prod(len(o) for o, _ in sparse_entries(spatial, channels, out, filters, attrs)) * channels * filters
        if kernel.shape[0] != entries:
            raise ctx.fail(f"expected {entries} connected kernel entries for implementation=3. Received: {kernel.shape[0]}")

    def load_kernel() -> np.ndarray:
        raw = np.asarray(h5safe.read(kernel))
        if implementation == 1:
            if first:  # rows (c, *t)
                return np.moveaxis(raw.reshape(*out, channels, *ksize, filters), d, 2 * d)
            return raw.reshape(*out, *ksize, channels, filters)
        if implementation == 3:
            return _from_sparse(raw, spatial, channels, out, filters, attrs, befores)
        dense = raw.transpose(*range(1, d + 1), 0, *range(d + 2, 2 * d + 2), d + 1) if first else raw
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
