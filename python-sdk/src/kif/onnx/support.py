"""What the exporter supports, and why the rest is refused."""

from __future__ import annotations

_NO_HASH = "ONNX has no string hashing (TF's FarmHash Fingerprint64 / SipHash-2-4) "
REASONS: dict[str, str] = {  # the types without an emitter; refused variants of the others are listed in LIMITATIONS
    "HashedCrossing": _NO_HASH + "and no integer-to-decimal-text conversion",
    "ContrastLimitedAdaptiveHistogramEqualization": "ONNX has no histogram op; per-tile histograms and the per-pixel "
    "gather of four tile mappings are not implemented in the exporter",
}

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
    "CategoryEncoding": "ONNX cannot raise: an id outside [0, num_tokens) gives zeros instead of the error the spec requires, "
    "and count_weights of another run-time shape broadcast instead of failing",
    "IntegerLookup": "oov_method='farmhash' is refused (ONNX has no string hashing); num_oov_indices=0 is refused (ONNX cannot raise)",
    "UpSampling2D": "interpolation other than 'nearest' " + _STATIC_HW,
    **{f"ConvLSTM{d}D": "a Scan over time (ONNX has no ConvLSTM op); padding='same' needs static spatial sizes; "
       "softmax-like activations are refused" for d in (1, 2, 3)},
    "StringLookup": "num_oov_indices=0 is refused (ONNX cannot raise); num_oov_indices > 1 hashes unknown strings "
    "(ONNX has no string hashing): refused",
    "Hashing": "refused: ONNX has no string hashing (FarmHash, SipHash) and no integer-to-text conversion",
    "TextVectorization": "exported only with standardize, split and ngrams all None: ONNX lowercases by locale, "
    "cannot strip punctuation, and ONNX Runtime's StringSplit splits on ' ' only",
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
