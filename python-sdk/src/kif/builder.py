"""Build graphs in code.

    b = kif.GraphBuilder("mlp")
    x = b.input("x", "float32", (None, 784))
    h = b.add("Dense", x, units=128, activation="relu", weights={"kernel": k1, "bias": b1})
    y = b.add("Dense", h, units=10, weights={"kernel": k2, "bias": b2})
    b.output(y)
    model = b.build()

Attributes left out take the defaults of the layer's schema, so the written
document is in canonical form (every attribute explicit). Mistakes fail at the call
that makes them, with the code and JSON pointer ``kif.validate`` would report for
the written document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kif import catalog, dtypes, schemas
from kif.errors import KifError
from kif.graph import Layer, Model, SelfTest, Shape, TensorSpec
from kif.validate.pointer import pointer

_MODEL_FIELDS = ("metadata", "description", "license", "preprocessing", "self_test", "producer")


class GraphBuilder:
    """Assemble a KIF graph call by call, checking each call as ``kif.validate`` would.

    Every method fails at once with a :class:`kif.KifError` carrying the code and the
    JSON pointer the written document would get, and leaves the builder unchanged.

    Args:
        name: the model name written to model.json.

    Example:
        >>> import numpy as np, kif
        >>> b = kif.GraphBuilder("tiny")
        >>> x = b.input("x", "float32", (None, 2))
        >>> y = b.add("Dense", x, units=1, weights={"kernel": np.ones((2, 1), np.float32), "bias": np.zeros(1, np.float32)})
        >>> b.output(y)
        >>> model = b.build()
        >>> model(np.array([[1.0, 2.0]], np.float32))["dense_0"].tolist()
        [[3.0]]
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        self._layers: list[Layer] = []
        self._weights: dict[str, np.ndarray] = {}
        self._tensors: set[str] = set()
        # name -> layer and stem -> next free suffix keep add() constant-time (60k-layer graphs)
        self._by_name: dict[str, Layer] = {}
        self._next_suffix: dict[str, int] = {}

    def input(self, name: str, dtype: str, shape: Sequence[int | None], meta: Mapping[str, Any] | None = None) -> str:
        """Declare a graph input.

        Args:
            name: the tensor name layers refer to.
            dtype: a KIF dtype name such as ``"float32"``.
            shape: dimensions, ``None`` for a dimension fixed only at run time (e.g. the batch).
            meta: typed I/O metadata (layout, normalization, labels, ...).

        Returns:
            ``name``, to pass to :meth:`add`.

        Raises:
            kif.KifError: a name the graph schema rejects or already in use, or an unknown dtype.
        """
        where = pointer("inputs", len(self._inputs))
        _check_name(name, where + "/name")
        if dtype not in (*dtypes.NAMES, "string"):
            raise KifError(
                f"Expected a KIF dtype, one of {', '.join(dtypes.NAMES)}. Received: dtype={dtype!r}",
                code="schema-violation",
                pointer=where + "/dtype",
            )
        self._claim(name, where + "/name")
        self._inputs.append(TensorSpec(name, dtype, tuple(shape), dict(meta or {})))
        return name

    def add(
        self,
        layer_type: str,
        inputs: str | Sequence[str | None] | None,
        *,
        name: str | None = None,
        weights: Mapping[str, np.ndarray | str] | None = None,
        num_outputs: int = 1,
        **attributes: Any,
    ) -> Any:
        """Append a layer call.

        A weight given as an array is stored as ``<layer>/<role>``; given as a string
        it names an existing tensor, which is how layers share weights. Nothing is
        changed when the call fails.

        Args:
            layer_type: a catalog type (``"Dense"``) or a namespaced custom type (``"vendor.x:Layer"``).
            inputs: one tensor name, a list of them (``None`` for an absent optional input), or ``None``.
            name: the layer name; a fresh ``<type>_<n>`` when left out.
            weights: role -> array, or role -> name of a weight tensor already stored.
            num_outputs: how many output tensors the layer writes.
            **attributes: layer attributes; those left out take the schema's defaults.

        Returns:
            The output tensor name, or a tuple of ``num_outputs`` names (``<layer>:<i>``).

        Raises:
            kif.KifError: an unknown, missing or invalid attribute, an input that is not a
                tensor of the graph, a duplicate name, or a weight reference to nothing.
        """
        where = pointer("layers", len(self._layers))
        name = name or self._fresh_name(layer_type)
        _check_name(name, where + "/name")
        if name in self._by_name:
            raise KifError(f"Expected a unique layer name. Received: name={name!r}", code="graph-duplicate-name", pointer=where + "/name")
        input_list = [inputs] if inputs is None or isinstance(inputs, str) else list(inputs)
        for slot, tensor in enumerate(input_list):
            if tensor is not None and tensor not in self._tensors:
                raise KifError(
                    f"Layer {name!r} ({layer_type}): expected each input to be a tensor of the graph. Received: inputs[{slot}]={tensor!r}",
                    code="graph-dangling-reference",
                    pointer=f"{where}/inputs/{slot}",
                )
        full = self._canonical_attributes(layer_type, name, attributes, where)
        roles: dict[str, str] = {}
        new_weights: dict[str, np.ndarray] = {}
        for role, value in (weights or {}).items():
            if isinstance(value, str):
                if value not in self._weights:
                    raise KifError(
                        f"Layer {name!r} ({layer_type}): expected weight {role!r} to be an array or the name of a stored weight tensor. "
                        f"Received: {role}={value!r}",
                        code="weights-reference-unknown",
                        pointer=f"{where}/weights" + pointer(role),
                    )
                roles[role] = value
            else:
                tensor_name = f"{name}/{role}"
                new_weights[tensor_name] = value if isinstance(value, np.ndarray) else np.asarray(value)
                roles[role] = tensor_name
        outputs = [name] if num_outputs == 1 else [f"{name}:{i}" for i in range(num_outputs)]
        for slot, tensor in enumerate(outputs):
            if tensor in self._tensors:
                raise KifError(
                    f"Expected a tensor name not used yet. Received: {tensor!r}",
                    code="graph-duplicate-tensor",
                    pointer=f"{where}/outputs/{slot}",
                )
        # Every check passed: commit.
        self._tensors.update(outputs)
        self._weights.update(new_weights)
        layer = Layer(name, layer_type, full, input_list, outputs, roles)
        self._layers.append(layer)
        self._by_name[name] = layer
        return outputs[0] if num_outputs == 1 else tuple(outputs)

    def reuse(self, layer_name: str, inputs: str | Sequence[str | None], *, name: str | None = None) -> Any:
        """Call an existing layer again on other inputs: same type, attributes and weights.

        Args:
            layer_name: the layer to call again.
            inputs: its new input tensor name(s).
            name: the new layer's name; a fresh ``<layer_name>_<n>`` when left out.

        Returns:
            The output tensor name(s), as :meth:`add` returns them.

        Raises:
            kif.KifError: no layer has that name, or the new call fails as :meth:`add` would.
        """
        original = self._by_name.get(layer_name)
        if original is None:
            known = ", ".join(layer.name for layer in self._layers) or "(none)"
            raise KifError(
                f"Expected the name of a layer to reuse, one of: {known}. Received: {layer_name!r}", code="graph-dangling-reference"
            )
        return self.add(
            original.type,
            inputs,
            name=name or self._fresh_name(layer_name),
            weights=dict(original.weights),
            num_outputs=len(original.outputs),
            **original.attributes,
        )

    def output(
        self, tensor: str, *, dtype: str | None = None, shape: Sequence[int | None] | None = None, meta: Mapping[str, Any] | None = None
    ) -> None:
        """Declare a tensor of the graph as a graph output.

        Args:
            tensor: a tensor name returned by :meth:`input`, :meth:`add` or :meth:`reuse`.
            dtype: its dtype; inferred by :meth:`build` when left out.
            shape: its shape; inferred by :meth:`build` when left out.
            meta: typed I/O metadata (labels, ...).

        Raises:
            kif.KifError: a tensor no layer produces, or one already declared as an output.
        """
        where = pointer("outputs", len(self._outputs))
        if tensor not in self._tensors:
            raise KifError(
                f"Expected a graph output to be a tensor of the graph. Received: {tensor!r}",
                code="graph-output-unproduced",
                pointer=where + "/name",
            )
        if any(spec.name == tensor for spec in self._outputs):
            raise KifError(
                f"Expected each graph output once. Received: {tensor!r} again", code="graph-duplicate-name", pointer=where + "/name"
            )
        self._outputs.append(TensorSpec(tensor, dtype or "", tuple(shape) if shape is not None else None, dict(meta or {})))  # type: ignore[arg-type]

    def build(self, **fields: Any) -> Model:
        """Return the Model built so far; the builder stays usable.

        Args:
            **fields: model fields to set: metadata, description, license, preprocessing,
                self_test (a :class:`kif.SelfTest`) or producer.

        Returns:
            A :class:`kif.Model` whose outputs have dtype and shape filled in by shape inference.

        Raises:
            kif.KifError: an unknown field, a self_test that is not a SelfTest, or an
                output whose dtype or shape cannot be inferred.
        """
        model = Model(self.name, list(self._inputs), list(self._outputs), list(self._layers), dict(self._weights))
        for key, value in fields.items():
            if key not in _MODEL_FIELDS:
                raise KifError(f"Expected model fields among {', '.join(_MODEL_FIELDS)}. Received: {key}={value!r}", code="builder")
            if key == "self_test" and not isinstance(value, SelfTest):
                raise KifError(f"Expected self_test to be a kif.SelfTest. Received: {type(value).__name__}", code="builder")
            setattr(model, key, value)
        _fill_output_specs(model)
        return model

    def _claim(self, tensor: str, where: str) -> None:
        if tensor in self._tensors:
            raise KifError(f"Expected a tensor name not used yet. Received: {tensor!r}", code="graph-duplicate-tensor", pointer=where)
        self._tensors.add(tensor)

    def _fresh_name(self, base: str) -> str:
        stem = base.split(":")[-1].lower()
        index = self._next_suffix.get(stem, 0)
        while f"{stem}_{index}" in self._by_name or f"{stem}_{index}" in self._tensors:
            index += 1
        self._next_suffix[stem] = index + 1
        return f"{stem}_{index}"

    @staticmethod
    def _canonical_attributes(layer_type: str, name: str, given: dict[str, Any], where: str) -> dict[str, Any]:
        given = {key: _plain(value) for key, value in given.items()}
        if catalog.is_custom(layer_type):
            return given
        definition = catalog.get(layer_type)
        prefix = f"Layer {name!r} ({layer_type})"
        unknown = sorted(set(given) - set(definition.attributes))
        if unknown:
            raise KifError(
                f"{prefix}: unknown attribute {unknown[0]!r}. Expected one of: {', '.join(sorted(definition.attributes)) or '(none)'}. "
                f"Received: {unknown[0]}={given[unknown[0]]!r}",
                code="layer-attribute-unknown",
                pointer=f"{where}/attributes" + pointer(unknown[0]),
            )
        full = {**definition.defaults, **given}
        missing = [a for a in definition.schema.get("required", []) if a not in full]
        if missing:
            raise KifError(
                f"{prefix}: expected a value for {missing[0]!r}, which has no default. Received: no {missing[0]} argument",
                code="layer-attribute-missing",
                pointer=f"{where}/attributes" + pointer(missing[0]),
            )
        full = {key: full[key] for key in definition.attributes if key in full}
        from kif.validate import rs_schema

        vouched = rs_schema.vouches(catalog.schema_path(layer_type), full)  # valid: jsonschema is not imported
        for error in [] if vouched else definition.validator.iter_errors(full):
            path = [str(p) for p in error.absolute_path]
            if not path or isinstance(full.get(path[0]), dict):
                continue  # nested layer configs (wrappers) are left to kif.validate, which checks them in depth
            raise KifError(
                f"{prefix}: expected {'.'.join(path)} to satisfy the {layer_type} schema ({error.message}). "
                f"Received: {'.'.join(path)}={error.instance!r}",
                code="layer-attribute-invalid",
                pointer=f"{where}/attributes" + pointer(*path),
            )
        return full


def _fill_output_specs(model: Model) -> None:
    """Outputs declared without dtype or shape take what shape inference finds."""
    if all(spec.dtype and spec.shape is not None for spec in model.outputs):
        return
    from kif.shapes import infer

    inferred = infer(model.inputs, model.layers, {n: tuple(a.shape) for n, a in model.weights.items()})
    for spec in model.outputs:
        found = inferred.get(spec.name)
        if found is None:
            raise KifError(
                f"Cannot infer dtype and shape of output {spec.name!r}; pass dtype= and shape=", code="builder", pointer=spec.name
            )
        if not spec.dtype:
            spec.dtype = found[0]
        if spec.shape is None:
            spec.shape = found[1]


def _plain(value: Any) -> Any:
    """Attributes as JSON has them: tuples become lists, NumPy scalars Python numbers."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@functools.cache
def _name_pattern() -> re.Pattern[str]:
    return re.compile(schemas.one("graph.schema.json")["$defs"]["name"]["pattern"])


def _check_name(name: str, where: str) -> None:
    """Names the graph schema would reject fail here, not later in kif.validate."""
    if not isinstance(name, str) or not _name_pattern().fullmatch(name) or len(name) > 256:
        raise KifError(
            f"Expected a name of letters, digits and _ . : / - (not starting with . : / -). Received: name={name!r}",
            code="schema-violation",
            pointer=where,
        )


__all__ = ["GraphBuilder", "Shape"]
