"""to_keras for the encoding layers whose KIF attributes are not Keras constructor arguments: Discretization's
``output_dtype`` (Keras 3 always outputs int32 in int mode, so an int64 layer gets a subclass that keeps the class
name and config and outputs int64). Registered as ``kif>Discretization``. IntegerLookup needs TensorFlow (Keras 3
builds it on tf.lookup whatever the backend); without it, to_keras refuses the layer."""

from __future__ import annotations

import functools
from typing import Any

TF_ONLY = ("IntegerLookup",)  # Keras builds it on tf.lookup whatever the backend


@functools.cache
def discretization_int64() -> type:
    import keras

    @keras.saving.register_keras_serializable(package="kif", name="Discretization")
    class Discretization(keras.layers.Discretization):
        @property
        def output_dtype(self) -> str:
            return "int64" if self.output_mode == "int" else str(super().output_dtype)

    return Discretization


def rebuild(kif_type: str, attrs: dict[str, Any], name: str | None, extra: dict[str, Any]) -> Any:
    import keras

    if kif_type == "Discretization":
        cls = discretization_int64() if attrs["output_mode"] == "int" and attrs["output_dtype"] == "int64" else keras.layers.Discretization
        return cls(bin_boundaries=list(attrs["bin_boundaries"]), output_mode=attrs["output_mode"], name=name, **extra)
    return _integer_lookup(attrs, name, extra)


def _integer_lookup(attrs: dict[str, Any], name: str | None, extra: dict[str, Any]) -> Any:
    """Keras 3 implements IntegerLookup with tf.lookup on every backend: without TensorFlow it cannot be built."""
    import importlib.util

    import keras

    from kif.errors import UnsupportedLayerError
    from kif.layers import integer_lookup as il

    if importlib.util.find_spec("tensorflow") is None:
        raise UnsupportedLayerError(
            f"layer {name!r}: Keras's IntegerLookup needs TensorFlow installed (Keras 3 builds it on tf.lookup)", code="layer-unsupported"
        )
    if attrs["output_mode"] == "tf_idf":
        raise UnsupportedLayerError(f"layer {name!r}: to_keras does not rebuild a tf_idf IntegerLookup yet", code="layer-unsupported")
    if attrs["output_dtype"] != "int64" and attrs["output_mode"] in ("one_hot", "multi_hot", "count"):
        raise UnsupportedLayerError(
            f"layer {name!r}: Keras 3's IntegerLookup outputs int64 encodings, not {attrs['output_dtype']}", code="layer-unsupported"
        )
    special = ([attrs["mask_token"]] if il.oov_start(attrs) else []) + [attrs["oov_token"]] * int(attrs["num_oov_indices"])
    vocabulary = special + list(attrs["vocabulary"])
    keys = ("mask_token", "num_oov_indices", "oov_token", "oov_method", "invert", "output_mode", "max_tokens", "pad_to_max_tokens")
    salted = {} if attrs["salt"] is None else {"salt": list(attrs["salt"])}
    return keras.layers.IntegerLookup(vocabulary=vocabulary, name=name, **{k: attrs[k] for k in keys}, **salted, **extra)
