"""What the exporter supports, and why the rest is refused."""

from __future__ import annotations

REASONS: dict[str, str] = {}  # every catalog type has an emitter; refused variants are listed in LIMITATIONS

_STATIC_HW = "needs static height and width in the graph"
LIMITATIONS: dict[str, str] = {
    **{t: "padding='same' with a stride > 1 needs static spatial sizes in the graph" for t in (
        "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")},
    **{t: "needs static spatial sizes in the graph" for t in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")},
    **{f"{k}Pooling{d}D": "padding='same' needs static spatial sizes in the graph" for k in ("Max", "Average") for d in (1, 2, 3)},
    "MultiHeadAttention": "use_causal_mask/sliding_window need static lengths; attention over several axes needs static sizes",
    "GroupQueryAttention": "use_causal_mask/sliding_window need static lengths",
    "Attention": "use_causal_mask needs static lengths",
    "Dot": "needs static sizes on every non-batch axis",
    "GroupNormalization": "needs a static channel count",
    "Normalization": "needs static sizes on the kept axes",
    "Resizing": _STATIC_HW,
    "CenterCrop": _STATIC_HW,
    "STFTSpectrogram": "needs static channel and time sizes in the graph",
    "UpSampling2D": "interpolation other than 'nearest' " + _STATIC_HW,
    **{f"ConvLSTM{d}D": "a Scan over time (ONNX has no ConvLSTM op); padding='same' needs static spatial sizes; "
       "softmax-like activations are refused" for d in (1, 2, 3)},
    "Bidirectional": "the wrapped layers must be exportable",
    "TimeDistributed": "the wrapped layer must be exportable",
}  # fmt: skip


def reason(layer_type: str) -> str:
    if ":" in layer_type:
        return "a custom (namespaced) type has no standard ONNX form"
    return REASONS.get(layer_type, "no ONNX emitter for this type")


def supported() -> frozenset[str]:
    from kif.onnx.ops import table

    return frozenset(table())


def unsupported() -> dict[str, str]:
    """Every catalog type without an emitter, with the reason."""
    from kif import catalog

    done = supported()
    return {t: reason(t) for t in sorted(catalog.catalog()) if t not in done}
