"""tf.keras 2 / Keras 2 ``CuDNNLSTM`` and ``CuDNNGRU`` (old files) as the canonical KIF ``LSTM`` / ``GRU``.

A CuDNN layer stores ``kernel [in, g*units]``, ``recurrent_kernel [units, g*units]`` and one bias of
``2*g*units`` (the input biases, then the recurrent ones), gates in Keras order (i, f, c, o; z, r, h). It hands
each gate's slice to cuDNN flattened as is, and cuDNN reads that buffer as a row-major ``[units, in]`` matrix,
so the canonical kernel of a gate is ``k.reshape(units, in).T`` and the recurrent one ``k.T``. That is Keras's own
rule for loading these weights into LSTM / GRU (``_convert_rnn_weights`` in tf_keras
``saving/legacy/hdf5_format.py``: ``kernel.T.reshape(kernel.shape, order="F")`` per gate). The LSTM bias is the
sum of the two halves; CuDNNGRU computes the reset-after form, so it is ``GRU(reset_after=True)`` with the halves
as ``bias`` and ``recurrent_bias``. cuDNN's activations are fixed: tanh, and the exact sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from kif.bundle.deferred import DeferredTensor
from kif.keras import h5safe
from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper

CUDNN = {"CuDNNLSTM": ("LSTM", 4), "CuDNNGRU": ("GRU", 3)}
_KEPT = ("name", "trainable", "dtype", "units", "return_sequences", "return_state", "go_backwards")


def canonical_config(ctx: Context, class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The LSTM / GRU config computing what the CuDNN layer computes; refuses what has no KIF meaning."""
    if config.get("stateful"):
        raise ctx.fail(f"{class_name} option stateful=True carries state between calls, which a KIF graph cannot represent")
    if config.get("time_major"):
        raise ctx.fail(f"{class_name} option time_major=True is not representable (KIF sequences are [N, T, features])")
    out = {k: config[k] for k in _KEPT if k in config}
    out.update(activation="tanh", recurrent_activation="sigmoid", use_bias=True)
    if class_name == "CuDNNGRU":
        out["reset_after"] = True
    return out


def _deferred(dataset: Any, shape: tuple[int, ...], transform: Callable[[np.ndarray], np.ndarray]) -> DeferredTensor:
    return DeferredTensor(np.dtype(dataset.dtype), shape, lambda: np.ascontiguousarray(transform(np.asarray(h5safe.read(dataset)))))


def _per_gate(gates: int, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda k: np.hstack([fn(part) for part in np.hsplit(k, gates)])


def canonical_weights(ctx: Context, class_name: str, units: int, items: list[tuple[str, Any]]) -> dict[str, Any]:
    """The LSTM / GRU weights of a CuDNN layer's stored (kernel, recurrent_kernel, bias), converted when written."""
    gates = CUDNN[class_name][1]
    if len(items) != 3:
        raise ctx.fail(f"expected 3 weights for {class_name} (kernel, recurrent_kernel, bias). Received: {len(items)}")
    kernel, recurrent, bias = (ds for _, ds in items)
    width = gates * units
    if len(kernel.shape) != 2 or kernel.shape[0] < 1 or kernel.shape[1] != width:
        raise ctx.fail(f"expected {class_name} kernel of shape [in, {width}] (in >= 1). Received: {list(kernel.shape)}")
    n_in = int(kernel.shape[0])
    for role, ds, want in (("recurrent_kernel", recurrent, (units, width)), ("bias", bias, (2 * width,))):
        if tuple(ds.shape) != want:
            raise ctx.fail(f"expected {class_name} {role} of shape {list(want)}. Received: {list(ds.shape)}")
    weights: dict[str, Any] = {
        "kernel": _deferred(kernel, (n_in, width), _per_gate(gates, lambda k: k.reshape(units, n_in).T)),
        "recurrent_kernel": _deferred(recurrent, (units, width), _per_gate(gates, lambda k: k.T)),
    }
    if class_name == "CuDNNLSTM":
        weights["bias"] = _deferred(bias, (width,), lambda b: b[:width] + b[width:])
    else:
        weights["bias"] = _deferred(bias, (width,), lambda b: b[:width])
        weights["recurrent_bias"] = _deferred(bias, (width,), lambda b: b[width:])
    return weights


def cudnn_parts(
    ctx: Context, class_name: str, config: dict[str, Any], items: list[tuple[str, Any]]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(KIF type, attributes, weights) of one CuDNN layer (also a Bidirectional side)."""
    kif_type = CUDNN[class_name][0]
    canonical = canonical_config(ctx, class_name, config)
    attrs = generic_attributes(replace(ctx, node=replace(ctx.node, class_name=kif_type, config=canonical)), kif_type)
    return kif_type, attrs, canonical_weights(ctx, class_name, int(attrs["units"]), items)


@mapper(*CUDNN)
def _cudnn(ctx: Context) -> list[MappedLayer]:
    kif_type, attrs, weights = cudnn_parts(ctx, ctx.node.class_name, ctx.config, ctx.load_weights().items)
    x = ctx.node.inputs[0]
    if ctx.node.kw_inputs.get("mask") or ctx.mask_of(x) is not None:
        raise ctx.fail("receives a mask, which Keras's CuDNN layers refuse (they have no masking)")
    states = 2 if kif_type == "LSTM" else 1
    initial = list(ctx.node.inputs[1:]) + ctx.node.kw_inputs.get("initial_state", [])
    if initial and len(initial) != states:
        raise ctx.fail(f"expected {states} initial state tensors. Received: {len(initial)}")
    count = 1 + (states if attrs["return_state"] else 0)
    return [MappedLayer(kif_type, attrs, [x, *initial], [ctx.output(i) for i in range(count)], weights)]
