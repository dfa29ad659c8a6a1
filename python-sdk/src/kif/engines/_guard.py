"""Shape rules and resource limits on the concrete input shapes, once per input signature, before an engine runs.

The checks and messages are the reference runtime's (``kif.runtime``): a shape a layer cannot take is
``run-failed`` naming the layer, and outputs, work or scratch beyond ``kif.limits`` are ``limit-exceeded``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kif import cost
from kif.errors import KifError
from kif.graph import Model
from kif.layers import ShapeError, TensorType

Signature = tuple[tuple[str, tuple[int, ...]], ...]
_MAX_SIGNATURES = 256  # distinct input shapes remembered per session


class Guarded:
    """``runner`` behind the per-signature shape and limit check."""

    def __init__(self, model: Model, runner: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
        from kif.runtime import _kernel_for

        self.model = model
        self.runner = runner
        self.table = _kernel_for(model)  # every type has a shape rule (the reference kernels')
        self.shapes = {name: tuple(np.shape(array)) for name, array in model.weights.items()}
        self.seen: set[Signature] = set()

    def __call__(self, bound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        signature = tuple((a.dtype.str, a.shape) for a in bound.values())
        if signature not in self.seen:
            self.check(bound)
            if len(self.seen) >= _MAX_SIGNATURES:
                self.seen.clear()
            self.seen.add(signature)
        return self.runner(bound)

    def check(self, bound: dict[str, np.ndarray]) -> None:
        types: dict[str, TensorType] = {n: TensorType(a.dtype.name, tuple(a.shape)) for n, a in bound.items()}
        for layer in self.model.layers:
            ins = [None if t is None else types[t] for t in layer.inputs]
            shapes = {role: self.shapes[t] for role, t in layer.weights.items()}
            try:
                outs = self.table[layer.name].infer(layer.attributes, ins, shapes)
            except (ShapeError, ValueError, TypeError, KeyError, IndexError) as exc:
                message = f"Layer {layer.name!r} ({layer.type}) cannot run on these inputs: {exc}"
                raise KifError(message, code="run-failed", pointer=layer.name) from None
            cost.check(layer.type, layer.name, layer.attributes, ins, outs, shapes)
            types.update(zip(layer.outputs, outs[: len(layer.outputs)], strict=True))
