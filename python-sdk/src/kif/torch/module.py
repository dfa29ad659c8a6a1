"""KifModule: a KIF graph as an ``nn.Module`` (one converted submodule per layer, run in graph order)."""

from __future__ import annotations

import numpy as np
from torch import Tensor, nn

from kif.errors import UnsupportedLayerError
from kif.graph import Model
from kif.torch import layout
from kif.torch.layers import converters
from kif.torch.layers._util import tensor as as_tensor

__all__ = ["KifModule", "as_tensor"]


class KifModule(nn.Module):
    """``forward(*inputs)`` takes the graph inputs positionally, in graph-input order.

    Returns one tensor for a one-output graph, else a tuple in graph-output order.
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        model = model.inlined()  # composite calls become their bodies (spec/composites.md)
        table = converters()
        unsupported = [layer for layer in model.layers if layer.type not in table]
        if unsupported:
            listed = ", ".join(f"{layer.name!r} ({layer.type})" for layer in unsupported)
            raise UnsupportedLayerError(
                f"kif.torch cannot convert layer {listed}: no torch converter for this type. Supported: {', '.join(sorted(table))}",
                code="layer-unsupported",
                pointer=unsupported[0].name,
            )
        steps, self.nc_outputs = layout.plan(model.layers, [spec.name for spec in model.outputs])
        self.moves = [step.moves for step in steps]
        self.input_names = [spec.name for spec in model.inputs]
        self.output_names = [spec.name for spec in model.outputs]
        self.plan = [(list(layer.inputs), list(layer.outputs)) for layer in model.layers]
        self.layer_names = [layer.name for layer in model.layers]
        self.release = _release_plan(self.plan, self.output_names)
        modules = []
        for step in steps:  # each layer, or its NC* twin under the layout plan
            layer = step.layer
            weights = {role: np.asarray(model.weights[name]) for role, name in layer.weights.items()}
            modules.append(table[layer.type](layer, weights))
        self.layers = nn.ModuleList(modules)
        self.eval()

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise TypeError(f"expected {len(self.input_names)} inputs ({', '.join(self.input_names)}). Received: {len(inputs)}")
        values: dict[str, Tensor] = dict(zip(self.input_names, inputs, strict=True))
        for module, (ins, outs), moves, dead in zip(self.layers, self.plan, self.moves, self.release, strict=True):
            args = [values[t] if t is not None else None for t in ins]
            for slot, move in moves:  # layout-plan boundaries: views, no copies
                x = args[slot]
                assert x is not None
                args[slot] = x.movedim(-1, 1) if move == layout.TO_FIRST else x.movedim(1, -1)
            results = module(*args)
            values.update(zip(outs, results[: len(outs)], strict=True))
            for name in dead:  # free each intermediate after its last reader, so torch's allocator can reuse it
                del values[name]
        for name in self.nc_outputs:
            values[name] = values[name].movedim(1, -1)
        if len(self.output_names) == 1:
            return values[self.output_names[0]]
        return tuple(values[name] for name in self.output_names)


def _release_plan(plan: list[tuple[list[str | None], list[str]]], keep: list[str]) -> list[list[str]]:
    """Per layer, the tensors no later layer reads (graph outputs excepted): dropped right after that layer."""
    last: dict[str, int] = {}
    for i, (ins, outs) in enumerate(plan):
        for name in [*ins, *outs]:
            if name is not None:
                last[name] = i
    release: list[list[str]] = [[] for _ in plan]
    for name, i in last.items():
        if name not in keep:
            release[i].append(name)
    return release
