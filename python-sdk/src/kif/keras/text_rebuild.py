"""to_keras for Hashing, HashedCrossing, StringLookup and TextVectorization: Keras's classes, which compute with TensorFlow ops under every
backend (Keras 3.15 imports TensorFlow inside their call). Without TensorFlow, which KIF never installs, to_keras
refuses them with that reason (the support matrix shows them as not supported)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from kif.errors import UnsupportedLayerError
from kif.graph import Layer

TEXT_TYPES = ("Hashing", "HashedCrossing", "StringLookup", "TextVectorization")


def tensorflow_present() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def text_layer(layer: Layer, weights: Mapping[str, Any], name: str) -> Any:
    if not tensorflow_present():
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({layer.type}): Keras's {layer.type} runs TensorFlow ops under every backend, "
            "and TensorFlow is not installed",
            code="layer-unsupported",
            pointer=layer.name,
        )
    import keras

    attrs = dict(layer.attributes)
    if layer.type != "StringLookup":
        return getattr(keras.layers, layer.type)(name=name, **attrs)
    mask, mode = attrs["mask_token"], attrs["output_mode"]
    reserved = [mask] * (1 if mask is not None and mode == "int" else 0) + [attrs["oov_token"]] * attrs["num_oov_indices"]
    attrs["vocabulary"] = reserved + list(attrs["vocabulary"])  # in front: Keras takes the weights as given
    if mode == "tf_idf":
        idf = np.asarray(weights[layer.weights["idf_weights"]], dtype=np.float32)
        attrs["idf_weights"] = idf[: len(attrs["vocabulary"])]
    if attrs["salt"] is None:
        attrs.pop("salt")
    return keras.layers.StringLookup(name=name, **attrs)


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
