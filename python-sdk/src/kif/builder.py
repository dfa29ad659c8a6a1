"""Build graphs in code.

    b = kif.GraphBuilder("mlp")
    x = b.input("x", "float32", (None, 784))
    h = b.add("Dense", x, units=128, activation="relu", weights={"kernel": k1, "bias": b1})
    y = b.add("Dense", h, units=10, weights={"kernel": k2, "bias": b2})
    b.output(y)
    model = b.build()

Attributes left out take the defaults of the layer's schema, so the written
document is in canonical form (every attribute explicit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kif import catalog, dtypes
from kif.errors import KifError
from kif.graph import Layer, Model, SelfTest, Shape, TensorSpec


class GraphBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        self._layers: list[Layer] = []
        self._weights: dict[str, np.ndarray] = {}
        self._tensors: set[str] = set()

    def input(self, name: str, dtype: str, shape: Sequence[int | None], meta: Mapping[str, Any] | None = None) -> str:
        dtypes.by_name(dtype)
        self._claim(name)
        self._inputs.append(TensorSpec(name, dtype, tuple(shape), dict(meta or {})))
        return name

    def add(
        self,
        layer_type: str,
        inputs: str | None | Sequence[str | None],
        *,
        name: str | None = None,
        weights: Mapping[str, np.ndarray | str] | None = None,
        num_outputs: int = 1,
        **attributes: Any,
    ) -> Any:
        """Append a layer call; return its output tensor name (a tuple if num_outputs > 1).

        A weight given as an array is stored as ``<layer>/<role>``; given as a string
        it names an existing tensor, which is how layers share weights.
        """
        name = name or self._fresh_name(layer_type)
        if any(layer.name == name for layer in self._layers):
            raise KifError(f"Expected a unique layer name. Received: name={name!r}", code="graph-duplicate-name")
        input_list = [inputs] if inputs is None or isinstance(inputs, str) else list(inputs)
        for tensor in input_list:
            if tensor is not None and tensor not in self._tensors:
                raise KifError(f"Layer {name!r} reads unknown tensor {tensor!r}", code="graph-dangling-reference")
        full = self._canonical_attributes(layer_type, name, attributes)
        roles: dict[str, str] = {}
        for role, value in (weights or {}).items():
            if isinstance(value, str):
                if value not in self._weights:
                    raise KifError(f"Layer {name!r} shares unknown weight tensor {value!r}", code="weights-reference-unknown")
                roles[role] = value
            else:
                tensor_name = f"{name}/{role}"
                self._weights[tensor_name] = np.asarray(value)
                roles[role] = tensor_name
        outputs = [name] if num_outputs == 1 else [f"{name}:{i}" for i in range(num_outputs)]
        for tensor in outputs:
            self._claim(tensor)
        self._layers.append(Layer(name, layer_type, full, input_list, outputs, roles))
        return outputs[0] if num_outputs == 1 else tuple(outputs)

    def reuse(self, layer_name: str, inputs: str | Sequence[str | None], *, name: str | None = None) -> Any:
        """Call an existing layer again on other inputs: same type, attributes and weights."""
        original = next((layer for layer in self._layers if layer.name == layer_name), None)
        if original is None:
            raise KifError(f"No layer named {layer_name!r} to reuse", code="graph-dangling-reference")
        return self.add(
            original.type,
            inputs,
            name=name or self._fresh_name(layer_name),
            weights=dict(original.weights),
            num_outputs=len(original.outputs),
            **original.attributes,
        )

    def output(self, tensor: str, *, dtype: str | None = None, shape: Sequence[int | None] | None = None, meta: Mapping[str, Any] | None = None) -> None:
        if tensor not in self._tensors:
            raise KifError(f"Graph output {tensor!r} is not a tensor of the graph", code="graph-output-unproduced")
        self._outputs.append(TensorSpec(tensor, dtype or "", tuple(shape) if shape is not None else None, dict(meta or {})))  # type: ignore[arg-type]

    def build(self, **fields: Any) -> Model:
        """The Model; ``fields`` sets metadata, description, license, preprocessing or self_test."""
        model = Model(self.name, list(self._inputs), list(self._outputs), list(self._layers), dict(self._weights))
        for key, value in fields.items():
            if key not in ("metadata", "description", "license", "preprocessing", "self_test", "producer"):
                raise KifError(f"Unknown model field {key!r}", code="builder")
            if key == "self_test" and not isinstance(value, SelfTest):
                raise KifError("Expected self_test to be a kif.SelfTest", code="builder")
            setattr(model, key, value)
        _fill_output_specs(model)
        return model

    def _claim(self, tensor: str) -> None:
        if tensor in self._tensors:
            raise KifError(f"Tensor name {tensor!r} is already used", code="graph-duplicate-tensor")
        self._tensors.add(tensor)

    def _fresh_name(self, base: str) -> str:
        stem = base.split(":")[-1].lower()
        taken = {layer.name for layer in self._layers} | self._tensors
        index = 0
        while f"{stem}_{index}" in taken:
            index += 1
        return f"{stem}_{index}"

    @staticmethod
    def _canonical_attributes(layer_type: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
        if catalog.is_custom(layer_type):
            return dict(given)
        definition = catalog.get(layer_type)
        unknown = sorted(set(given) - set(definition.attributes))
        if unknown:
            raise KifError(
                f"Layer {name!r} ({layer_type}): unknown attribute(s) {', '.join(unknown)}. "
                f"Expected one of: {', '.join(sorted(definition.attributes)) or '(none)'}",
                code="layer-attribute-unknown",
            )
        full = {**definition.defaults, **given}
        missing = [a for a in definition.schema.get("required", []) if a not in full]
        if missing:
            raise KifError(f"Layer {name!r} ({layer_type}): attribute(s) {', '.join(missing)} have no default and must be given", code="layer-attribute-missing")
        return {key: full[key] for key in definition.attributes if key in full}


def _fill_output_specs(model: Model) -> None:
    """Outputs declared without dtype or shape take what shape inference finds."""
    if all(spec.dtype and spec.shape is not None for spec in model.outputs):
        return
    from kif.shapes import infer

    inferred = infer(model.inputs, model.layers, {n: tuple(a.shape) for n, a in model.weights.items()})
    for spec in model.outputs:
        found = inferred.get(spec.name)
        if found is None:
            raise KifError(f"Cannot infer dtype and shape of output {spec.name!r}; pass dtype= and shape=", code="builder")
        if not spec.dtype:
            spec.dtype = found[0]
        if spec.shape is None:
            spec.shape = found[1]


__all__ = ["GraphBuilder", "Shape"]
