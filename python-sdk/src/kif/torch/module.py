"""KifModule: a KIF graph as an ``nn.Module`` (one converted submodule per layer, run in graph order)."""

from __future__ import annotations

import numpy as np
from torch import Tensor, nn

from kif.errors import UnsupportedLayerError
from kif.graph import Model
from kif.torch import layout
from kif.torch.layers import converters
from kif.torch.layers._util import tensor as as_tensor
from kif.torch.program import Program

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
        self.layer_names = [layer.name for layer in model.layers]
        modules = []
        for step in steps:  # each layer, or its NC* twin under the layout plan
            layer = step.layer
            weights = {role: np.asarray(model.weights[name]) for role, name in layer.weights.items()}
            modules.append(table[layer.type](layer, weights))
        self.layers = nn.ModuleList(modules)
        self.program = Program(steps, modules, self.input_names, self.output_names)
        self.fused = nn.ModuleList(self.program.folded)  # their folded weights follow .to() and tracing
        nc = set(self.nc_outputs)
        self.back = [name in nc for name in self.output_names]  # outputs held in NC*: moved to channels-last
        self.eval()

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise TypeError(f"expected {len(self.input_names)} inputs ({', '.join(self.input_names)}). Received: {len(inputs)}")
        outs = self.program.run(inputs)
        results = tuple(x.movedim(1, -1) if back else x for x, back in zip(outs, self.back, strict=True))  # type: ignore[union-attr]
        return results[0] if len(results) == 1 else results  # type: ignore[return-value]
