"""Keras classes that compute what KIF defines where Keras's own layer departs from it on the torch backend (or
has no kernel there): chosen per type and attributes by ``to_keras`` when it rebuilds a layer."""

from __future__ import annotations

from typing import Any


def exact_class(kif_type: str, attrs: dict[str, Any], *, integer: bool, masked: bool) -> Any:
    """The replacement class for this layer, or None when Keras's own class is exact."""
    if kif_type.startswith("AveragePooling") and attrs.get("padding") == "same":
        from kif.keras.pooling_same import average_pooling_same

        return average_pooling_same(kif_type)
    if kif_type == "Resizing" and attrs["interpolation"] not in ("nearest", "bilinear"):
        from kif.keras.resize_exact import resizing_exact

        return resizing_exact()  # Keras on torch has no lanczos or area and another bicubic
    if kif_type == "MelSpectrogram" and attrs["window"] is not None and attrs["sequence_length"] % 2:
        from kif.keras.mel_exact import mel_spectrogram_exact

        return mel_spectrogram_exact()  # Keras-torch's window for an odd length is not tf.signal's
    if kif_type.startswith("MaxPooling") and integer:
        from kif.keras.pooling_int import max_pooling_integer

        return max_pooling_integer(kif_type)  # torch's max_pool has no integer kernel
    if kif_type == "UpSampling2D" and attrs["interpolation"] not in ("nearest", "bilinear"):
        from kif.keras.upsampling_exact import upsampling_exact

        return upsampling_exact()  # the same for UpSampling2D, which resizes with keras.ops.image.resize
    if kif_type == "ContrastLimitedAdaptiveHistogramEqualization":
        from kif.keras.clahe_exact import clahe_exact

        return clahe_exact()  # Keras-torch's histograms are int64 and its symmetric padding is edge replication
    if kif_type == "GlobalMaxPooling1D" and masked:
        from kif.keras.pooling_same import global_max_pooling_masked

        return global_max_pooling_masked()
    return None
