"""to_keras for TextVectorization: keras.layers.TextVectorization with the vocabulary and the idf weights.

Keras's layer runs tf.strings ops, so it needs TensorFlow installed whatever the backend; without it the rebuild
is refused with one kif error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.errors import UnsupportedLayerError


def _ngrams(widths: list[int] | None) -> int | tuple[int, ...] | None:
    if not widths:
        return None
    return len(widths) if widths == list(range(1, len(widths) + 1)) else tuple(widths)


def text_vectorization_layer(attrs: dict[str, Any], name: str | None) -> Any:
    import keras

    kwargs: dict[str, Any] = {
        "standardize": attrs["standardize"],
        "split": attrs["split"],
        "ngrams": _ngrams(attrs["ngrams"]),
        "output_mode": attrs["output_mode"],
        "output_sequence_length": attrs["output_sequence_length"],
        "max_tokens": attrs["max_tokens"],
        "pad_to_max_tokens": attrs["pad_to_max_tokens"],
        "vocabulary": list(attrs["vocabulary"]),
        "name": name,
    }
    if attrs["output_mode"] == "tf_idf":
        kwargs["idf_weights"] = np.ones(len(attrs["vocabulary"]), np.float32)  # replaced by the stored ones (set_idf)
    try:
        return keras.layers.TextVectorization(**kwargs)
    except ImportError as exc:
        raise UnsupportedLayerError(
            f"Layer {name!r} (TextVectorization): Keras's TextVectorization runs TensorFlow string ops and needs "
            f"TensorFlow installed ({exc})",
            code="layer-unsupported",
            pointer=name,
        ) from None


def set_idf(layer: Any, values: dict[str, np.ndarray]) -> None:
    """The stored idf weights, OOV entry included, as Keras's own load_own_variables takes them."""
    if "idf_weights" in values:
        layer.load_own_variables({"idf_weights": np.asarray(values["idf_weights"], np.float32)})
