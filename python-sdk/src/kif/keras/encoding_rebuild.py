"""to_keras for the encoding layers whose KIF attributes are not Keras constructor arguments: Discretization's
``output_dtype`` (Keras 3 always outputs int32 in int mode, so an int64 layer gets a subclass that keeps the class
name and config and outputs int64). Registered as ``kif>Discretization``."""

from __future__ import annotations

import functools
from typing import Any


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
    raise AssertionError(kif_type)
