"""Wrapper layers: Bidirectional and TimeDistributed (spec/layers/Bidirectional.md, TimeDistributed.md).

A wrapper carries its inner layer(s) as ``{type, attributes}`` attributes. Bidirectional
names the inner weights ``forward_<role>`` / ``backward_<role>``; TimeDistributed uses the
inner layer's roles unchanged (x-kif ``weights_from``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kif import catalog
from kif.layers import recurrent
from kif.layers.registry import Kernel, ShapeError, TensorType, register_layer

_SIDES = ("forward", "backward")


def nested_layer(layer_type: str, **attributes: Any) -> dict[str, Any]:
    """``{type, attributes}`` in canonical form (every attribute, defaults from the type's schema)."""
    definition = catalog.get(layer_type)
    full = {**definition.defaults, **attributes}
    return {"type": layer_type, "attributes": {k: full[k] for k in definition.attributes if k in full}}


def _side_weights(side: str, weights: dict[str, Any]) -> dict[str, Any]:
    prefix = f"{side}_"
    return {role[len(prefix) :]: w for role, w in weights.items() if role.startswith(prefix)}


def _split_bidirectional(attrs: dict[str, Any], inputs: Sequence[Any]) -> tuple[Any, list[Any], list[Any], Any]:
    """(x, forward states, backward states, mask) from ``[x, *forward_states, *backward_states, mask]``."""
    nf, nb = (recurrent.STATES[attrs[s]["type"]] for s in _SIDES)
    padded = [*inputs, *[None] * (nf + nb + 2 - len(inputs))]
    return padded[0], padded[1 : 1 + nf], padded[1 + nf : 1 + nf + nb], padded[1 + nf + nb]


def _merge(mode: str | None, y: Any, y_rev: Any) -> list[Any]:
    if mode is None:
        return [y, y_rev]
    if mode == "concat":
        return [np.concatenate([y, y_rev], axis=-1)]
    if mode == "sum":
        return [y + y_rev]
    if mode == "mul":
        return [y * y_rev]
    return [((y + y_rev) / 2).astype(y.dtype, copy=False)]  # ave


@register_layer("Bidirectional")
class Bidirectional:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        fwd, bwd = attrs["forward"], attrs["backward"]
        fa, ba = fwd["attributes"], bwd["attributes"]
        for key in ("return_sequences", "return_state"):
            if fa[key] != ba[key]:
                raise ShapeError(f"expected forward and backward to agree on {key}. Received: {fa[key]} and {ba[key]}")
        if fa["go_backwards"] == ba["go_backwards"]:
            raise ShapeError(f"expected forward and backward to have different go_backwards. Received: both {fa['go_backwards']}")
        nf, nb = recurrent.STATES[fwd["type"]], recurrent.STATES[bwd["type"]]
        if len(inputs) > nf + nb + 2:
            raise ShapeError(f"expected at most {nf + nb + 2} inputs (x, forward states, backward states, mask). Received: {len(inputs)}")
        x, fs, bs, mask = _split_bidirectional(attrs, inputs)
        outs = {}
        for side, states in zip(_SIDES, (fs, bs), strict=True):
            inner = attrs[side]
            outs[side] = recurrent.infer_rnn(inner["type"], inner["attributes"], [x, *states, mask], _side_weights(side, weights))
        y, y_rev = outs["forward"][0], outs["backward"][0]
        if y.shape[-1] != y_rev.shape[-1] and attrs["merge_mode"] not in (None, "concat"):
            raise ShapeError(f"merge_mode {attrs['merge_mode']} expects equal units. Received: {y.shape[-1]} and {y_rev.shape[-1]}")
        if attrs["merge_mode"] is None:
            merged = [y, y_rev]
        elif attrs["merge_mode"] == "concat":
            merged = [TensorType(y.dtype, (*y.shape[:-1], y.shape[-1] + y_rev.shape[-1]))]
        else:
            merged = [y]
        return [*merged, *outs["forward"][1:], *outs["backward"][1:]]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x, fs, bs, mask = _split_bidirectional(attrs, inputs)
        results = {}
        for side, states in zip(_SIDES, (fs, bs), strict=True):
            inner = attrs[side]
            results[side] = recurrent.run_rnn(inner["type"], inner["attributes"], [x, *states, mask], _side_weights(side, weights))
        y, y_rev = results["forward"][0], results["backward"][0]
        if attrs["forward"]["attributes"]["return_sequences"]:
            y_rev = y_rev[:, ::-1]  # back to input time order, as Keras does
        return [*_merge(attrs["merge_mode"], y, y_rev), *results["forward"][1:], *results["backward"][1:]]


def _inner_kernel(attrs: dict[str, Any]) -> type[Kernel]:
    from kif.layers import kernels  # the registry is complete once every kernel module is imported

    layer_type = attrs["layer"]["type"]
    kernel = kernels().get(layer_type)
    if kernel is None:
        raise ShapeError(f"expected a wrapped layer type with a reference kernel. Received: {layer_type!r}")
    return kernel


@register_layer("TimeDistributed")
class TimeDistributed:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        if len(inputs) != 1 or inputs[0] is None or len(inputs[0].shape) < 3:
            got = "nothing" if not inputs or inputs[0] is None else f"shape {list(inputs[0].shape)}"
            raise ShapeError(f"expected one input of rank >= 3 [N, T, ...]. Received: {got}")
        x = inputs[0]
        n, t = x.shape[0], x.shape[1]
        folded = TensorType(x.dtype, (None if n is None or t is None else n * t, *x.shape[2:]))
        out = _inner_kernel(attrs).infer(attrs["layer"]["attributes"], [folded], weights)[0]
        if len(out.shape) < 1:
            raise ShapeError(f"expected the wrapped layer to keep a batch axis. Received: shape {list(out.shape)}")
        return [TensorType(out.dtype, (n, t, *out.shape[1:]))]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        n, t = x.shape[:2]
        # fold time into the batch: the wrapped layer treats every step as an independent sample
        out = _inner_kernel(attrs).run(attrs["layer"]["attributes"], [x.reshape(n * t, *x.shape[2:])], weights)[0]
        return [out.reshape(n, t, *out.shape[1:])]
