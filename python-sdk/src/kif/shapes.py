"""Shape inference over a graph with the layers' shape rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kif import cost
from kif.errors import GraphError, KifError
from kif.graph import Layer, Shape, TensorSpec
from kif.layers import ShapeError, TensorType, kernels


def infer(
    inputs: Sequence[TensorSpec],
    layers: Sequence[Layer],
    weight_shapes: Mapping[str, tuple[int, ...]],
    *,
    strict: bool = True,
) -> dict[str, TensorType]:
    """Tensor name → TensorType for every tensor whose type can be inferred.

    A layer with no kernel (custom or not implemented) leaves its outputs unknown,
    and so do the layers depending on them. A shape rule that rejects its inputs
    raises GraphError naming the layer (with ``strict``), or leaves it unknown; so does
    a layer whose outputs, work or scratch exceed the limits (kif.cost, code
    ``limit-exceeded``), unknown dimensions counting as 1.
    """
    known: dict[str, TensorType] = {s.name: TensorType(s.dtype, tuple(s.shape)) for s in inputs}
    registry = kernels()
    for index, layer in enumerate(layers):
        kernel = registry.get(layer.type)
        if kernel is None or any(t is not None and t not in known for t in layer.inputs):
            continue
        ins = [known[t] if t is not None else None for t in layer.inputs]
        weights = {role: tuple(weight_shapes[t]) for role, t in layer.weights.items() if t in weight_shapes}
        try:
            outs = kernel.infer(layer.attributes, ins, weights)
            if len(outs) < len(layer.outputs):
                raise ShapeError(f"expected at most {len(outs)} outputs. Received: {len(layer.outputs)}")
        except (ShapeError, ValueError, TypeError, KeyError, IndexError) as exc:
            # Any failure of a shape rule on a schema-valid layer is a finding at that layer, never a traceback.
            if strict:
                raise GraphError(f"Layer {layer.name!r} ({layer.type}): {exc}", code="shape-mismatch", pointer=f"/layers/{index}") from None
            continue
        try:
            cost.check(layer.type, layer.name, layer.attributes, ins, outs, weights, pointer=f"/layers/{index}")
        except KifError as exc:
            if strict:
                raise GraphError(exc.message, code=exc.code, pointer=exc.pointer) from None
            continue
        # Trailing optional outputs (e.g. Masking's mask) may be left undeclared.
        known.update(zip(layer.outputs, outs[: len(layer.outputs)], strict=True))
    return known


def compatible(declared: Shape, inferred: Shape) -> bool:
    """Same rank, and every dimension known on both sides agrees."""
    return len(declared) == len(inferred) and all(a is None or b is None or a == b for a, b in zip(declared, inferred, strict=False))
