"""The emitter table: one small function per KIF layer type, building ONNX nodes through ``Ctx``.

An emitter is ``emit(ctx, attrs, inputs) -> outputs``: ``inputs`` are ONNX tensor names (None for
an absent optional input), in the layer's input order; it returns the ONNX names of the layer's
outputs in order. ``ctx.layer`` is the layer being emitted (for its weights and for refusals).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from kif.onnx._context import Ctx

Emitter = Callable[[Ctx, dict[str, Any], list[str | None]], list[str]]

EMITTERS: dict[str, Emitter] = {}
_MODULES = (
    "basic", "conv", "pooling", "adaptive_pooling", "normalization", "recurrent",
    "conv_lstm", "attention", "more", "wrappers", "resize", "prim", "signal",
    "text_vectorization", "auto_contrast", "encoding", "locally_connected", "strings",
)  # fmt: skip


def emits(*layer_types: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for layer_type in layer_types:
            if layer_type in EMITTERS:
                raise RuntimeError(f"two ONNX emitters for {layer_type}")
            EMITTERS[layer_type] = fn
        return fn

    return register


def table() -> dict[str, Emitter]:
    """Every emitter, importing the op modules on first use."""
    for module in _MODULES:
        importlib.import_module(f"kif.onnx.ops.{module}")
    return EMITTERS
