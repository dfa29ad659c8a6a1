"""The Keras layers ``kif.keras.to_keras`` defines for primitive ops (registered as ``kif>Constant`` and ``kif>Op``;
``kif.keras.to_keras.register_keras_objects()`` registers them before a saved rebuilt model is loaded)."""

from __future__ import annotations

from typing import Any

from kif.graph import Layer


def constant_class() -> Any:
    """``kif>Constant``: a weight as a tensor; called on any tensor of the graph (Keras layers need an input)."""
    import keras

    existing = keras.saving.get_registered_object("kif>Constant")
    if existing is not None:
        return existing

    @keras.saving.register_keras_serializable(package="kif", name="Constant")
    class Constant(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, shape: list[int], value_dtype: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.value_shape, self.value_dtype = list(shape), value_dtype
            stored = "uint8" if value_dtype == "bool" else value_dtype  # Keras variables hold numbers
            self.value = self.add_weight(name="value", shape=tuple(shape), dtype=stored, trainable=False, initializer="zeros")
            self.built = True

        def call(self, anchor: Any) -> Any:
            return keras.ops.cast(self.value, self.value_dtype)

        def compute_output_spec(self, anchor: Any) -> Any:
            return keras.KerasTensor(tuple(self.value_shape), dtype=self.value_dtype)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "shape": self.value_shape, "value_dtype": self.value_dtype}

    return Constant


def op_class() -> Any:
    """``kif>Op``: one KIF op computed by its row, with its type and attributes in the config."""
    import json

    import keras

    from kif.keras.to_keras_ops import TABLE, OpContext, _dtype

    existing = keras.saving.get_registered_object("kif>Op")
    if existing is not None:
        return existing

    @keras.saving.register_keras_serializable(package="kif", name="Op")
    class Op(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, op_type: str, op_attributes: str, n_outputs: int = 1, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.op_type, self.op_attributes, self.n_outputs = op_type, op_attributes, n_outputs
            self.attrs = json.loads(op_attributes)

        def _context(self) -> OpContext:
            return OpContext(keras, Layer(self.name, self.op_type, self.attrs, [], []), {}, None, self.name)

        def call(self, *inputs: Any) -> Any:
            out = TABLE[self.op_type](self._context(), self.attrs, list(inputs))
            outs = (list(out) if isinstance(out, list) else [out])[: self.n_outputs]
            return outs if self.n_outputs > 1 else outs[0]

        def compute_output_spec(self, *inputs: Any) -> Any:
            from kif.layers import TensorType, kernels

            types = [TensorType(_dtype(x), tuple(x.shape)) for x in inputs]
            wanted = kernels()[self.op_type].infer(self.attrs, types, {})[: self.n_outputs]
            specs = [keras.KerasTensor(t.shape, dtype=t.dtype) for t in wanted]
            return specs if self.n_outputs > 1 else specs[0]

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "op_type": self.op_type, "op_attributes": self.op_attributes, "n_outputs": self.n_outputs}

    return Op


__all__ = ["constant_class", "op_class"]
