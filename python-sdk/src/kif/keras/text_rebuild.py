"""to_keras for Hashing, HashedCrossing, StringLookup: Keras's classes, which compute with TensorFlow ops under every
backend (Keras 3.15 imports TensorFlow inside their call). Without TensorFlow, which KIF never installs, to_keras
refuses them with that reason (the support matrix shows them as not supported)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from kif.errors import UnsupportedLayerError
from kif.graph import Layer

TEXT_TYPES = ("Hashing", "HashedCrossing", "StringLookup")


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
