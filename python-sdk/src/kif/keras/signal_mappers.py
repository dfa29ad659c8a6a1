"""MelSpectrogram and STFTSpectrogram: Keras configs whose None values or initializer options the generic rule
would misread (spec/layers/MelSpectrogram.md, spec/layers/STFTSpectrogram.md)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from kif.keras.mapping import Context, MappedLayer, assign_weights, generic_attributes, mapper

# Options of Keras's STFT kernel initializer: the stored kernels already hold the window and scaling they made.
_STFT_INITIALIZER = {"window", "scaling", "periodic"}


def _with(ctx: Context, config: dict[str, Any]) -> Context:
    return replace(ctx, node=replace(ctx.node, config=config))


@mapper("MelSpectrogram")
def _mel(ctx: Context) -> list[MappedLayer]:
    config = dict(ctx.config)
    window = config.get("window", "hann")
    if window is not None and not isinstance(window, str):
        raise ctx.fail("option window must be 'hann', 'hamming' or None; an array window is not stored in the config")
    fft = config.get("fft_length", 2048)
    config.setdefault("sequence_length", fft)
    config["sequence_length"] = config["sequence_length"] or fft
    config["max_freq"] = config.get("max_freq") or int(config.get("sampling_rate", 16000) / 2)
    config.pop("window", None)
    attrs = generic_attributes(_with(ctx, config), "MelSpectrogram")
    attrs["window"] = window  # None means no window; the generic rule would read it as "not set"
    return [MappedLayer("MelSpectrogram", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


@mapper("STFTSpectrogram")
def _stft(ctx: Context) -> list[MappedLayer]:
    config = dict(ctx.config)
    length = config.get("frame_length", 256)
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ctx.fail(f"expected frame_length to be a positive integer. Received: frame_length={length!r}")
    config["frame_step"] = config.get("frame_step") or length // 2
    config["fft_length"] = config.get("fft_length") or 2 ** math.ceil(math.log2(length))
    attrs = generic_attributes(_with(ctx, config), "STFTSpectrogram", extra_ignored=_STFT_INITIALIZER)
    weights = assign_weights(ctx, "STFTSpectrogram", attrs)
    return [MappedLayer("STFTSpectrogram", attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]
