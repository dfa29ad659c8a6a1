"""The inputs bound and checked, and the shape rules and resource limits on their concrete shapes, before an engine
runs: the shape and limit check once per input signature and limits in force.

The checks and messages are the reference runtime's (``kif.runtime``): the inputs are bound by
``kif.runtime.Binder`` (``run-inputs`` naming the input), a shape a layer cannot take is ``run-failed``
naming the layer, and outputs, work or scratch beyond ``kif.limits`` are ``limit-exceeded``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from kif import cost, limits
from kif.errors import KifError
from kif.graph import Model
from kif.layers import ShapeError, TensorType

_MAX_SIGNATURES = 256  # distinct input signatures remembered per session


class Guarded:
    """``runner`` behind the input binding and the per-signature shape and limit check. Holds no reference to the
    model (the session cache drops a session when its Model is collected), only the layer list it checks."""

    def __init__(self, model: Model, runner: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
        from kif.runtime import Binder, _kernel_for

        self.runner = runner
        self.bind = Binder(model.inputs)
        self.layers = model.layers  # the list the session was built from (a list of layers: not the model)
        self.table = _kernel_for(model)  # every type has a shape rule (the reference kernels')
        self.shapes = {name: tuple(np.shape(array)) for name, array in model.weights.items()}
        self.seen: set[tuple[Any, limits.Limits]] = set()
        self.last: tuple[Any, Any] = (None, None)

    def __call__(self, inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
        bound, signature = self.bind(inputs)
        bounds = limits.current()
        last = self.last
        if last[0] is not bounds or last[1] != signature:  # not the call before's limits object and signature
            if (signature, bounds) not in self.seen:
                self.check(bound)
                if len(self.seen) >= _MAX_SIGNATURES:
                    self.seen.clear()
                self.seen.add((signature, bounds))
            self.last = (bounds, signature)
        return self.runner(bound)

    def check(self, bound: dict[str, np.ndarray]) -> None:
        types: dict[str, TensorType] = {n: TensorType(a.dtype.name, tuple(a.shape)) for n, a in bound.items()}
        for layer in self.layers:
            ins = [None if t is None else types[t] for t in layer.inputs]
            shapes = {role: self.shapes[t] for role, t in layer.weights.items()}
            try:
                outs = self.table[layer.name].infer(layer.attributes, ins, shapes)
            except (ShapeError, ValueError, TypeError, KeyError, IndexError) as exc:
                message = f"Layer {layer.name!r} ({layer.type}) cannot run on these inputs: {exc}"
                raise KifError(message, code="run-failed", pointer=layer.name) from None
            cost.check(layer.type, layer.name, layer.attributes, ins, outs, shapes)
            types.update(zip(layer.outputs, outs[: len(layer.outputs)], strict=True))
