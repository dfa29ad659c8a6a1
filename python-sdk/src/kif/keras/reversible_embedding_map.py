"""Keras 3 ReversibleEmbedding (keras.layers, from keras_hub): both directions onto catalog types.

Forward ``layer(ids)`` is Embedding (with ``mask_zero``'s mask). ``layer(x, reverse=True)`` is
``x @ embeddings.T`` (``tie_weights=True``) or ``x @ reverse_embeddings``, then with ``logit_soft_cap = c`` the logits
become ``tanh(logits / c) * c``: a bias-free Dense with that kernel, then op.divide, op.tanh and op.multiply by the
constant ``c`` (Keras's own ops, so the cap is exact). ``reverse_dtype`` other than the input's dtype is refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kif.bundle.deferred import DeferredTensor
from kif.keras import h5safe
from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper
from kif.keras.weights import LayerWeights

_REVERSE_KEYS = ("tie_weights", "logit_soft_cap", "reverse_dtype")


def _pick(ctx: Context, tie: bool) -> tuple[Any, Any | None]:
    stored = ctx.load_weights()
    want = 1 if tie else 2
    if len(stored) != want:
        raise ctx.fail(f"expected {want} weights (embeddings{'' if tie else ', reverse_embeddings'}). Received: {len(stored)}")
    by_name = dict(zip(stored.short_names(), (ds for _, ds in stored.items), strict=True))
    if "embeddings" in by_name:
        return by_name["embeddings"], by_name.get("reverse_embeddings")
    return stored.items[0][1], None if tie else stored.items[1][1]


@mapper("ReversibleEmbedding")
def _reversible_embedding(ctx: Context) -> list[MappedLayer]:
    from kif.keras.layer_mappers import _embedding

    config = {k: v for k, v in ctx.config.items() if k not in _REVERSE_KEYS}
    tie, cap, reverse_dtype = (ctx.config.get(k) for k in _REVERSE_KEYS)
    tie = True if tie is None else bool(tie)
    embeddings, reverse = _pick(ctx, tie)
    if not ctx.node.kwargs.get("reverse"):
        stored = ctx.load_weights()
        weights = LayerWeights(stored.layer, [("embeddings", embeddings)])
        return _embedding(replace(ctx, node=replace(ctx.node, config=config), load_weights=lambda: weights))
    x = ctx.node.inputs[0]
    found = ctx.type_of(x)
    dtype = str(found.dtype) if found is not None else "float32"
    if reverse_dtype is not None and str(reverse_dtype) != dtype:
        raise ctx.fail(f"option reverse_dtype={reverse_dtype!r} casts the {dtype} logits, which KIF cannot represent here")
    input_dim, output_dim = int(config["input_dim"]), int(config["output_dim"])
    if tie:
        table = embeddings
        kernel: Any = DeferredTensor(np.dtype(table.dtype), (output_dim, input_dim), lambda: np.asarray(h5safe.read(table)).T.copy())
    else:
        kernel = reverse
    attrs = generic_attributes(
        replace(ctx, node=replace(ctx.node, config={"units": input_dim, "use_bias": False, "activation": "linear"})), "Dense"
    )
    out = ctx.node.outputs[0]
    if cap is None:
        return [MappedLayer("Dense", attrs, [x], [out], {"kernel": kernel}, output_mask=None)]
    if not isinstance(cap, (int, float)) or isinstance(cap, bool) or not cap > 0:
        raise ctx.fail(f"expected logit_soft_cap to be a positive number. Received: logit_soft_cap={cap!r}")
    value = np.asarray(cap, dtype=np.dtype(dtype))
    return [
        MappedLayer("Dense", attrs, [x], [f"{out}/logits"], {"kernel": kernel}, output_mask=None),
        MappedLayer("op.constant", {"dtype": dtype}, [], [f"{out}/cap"], {"value": value}, "/cap", None),
        MappedLayer("op.divide", {}, [f"{out}/logits", f"{out}/cap"], [f"{out}/scaled"], {}, "/divide", None),
        MappedLayer("op.tanh", {}, [f"{out}/scaled"], [f"{out}/tanh"], {}, "/tanh", None),
        MappedLayer("op.multiply", {}, [f"{out}/tanh", f"{out}/cap"], [out], {}, "/soft_cap", None),
    ]
