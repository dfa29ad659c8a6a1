"""The load-time layout plan: keep channels_last data in torch's NC* layout between layers that work in NC*.

KIF data is channels-last; torch convolutions, pooling and batch norm work on NC*. Without a plan each such
layer moves the channel axis in and back out; with it a run of NC*-capable layers hands NC* tensors along and
the channel axis is moved only where a layer outside that run reads the tensor, and at the graph outputs.

The rule table is deliberately short. A layer type not in it is layout-sensitive: its NC* inputs are moved
back to the canonical layout first, so correctness never depends on the table being complete.

* NATIVE (convolutions, pooling): a channels_last layer is built as its channels_first twin (same weights,
  same arithmetic) and its input is moved to NC* if it is not there already; its output is NC*.
* BatchNormalization on the last axis: with an NC* input it is built with ``axis=1``; its output is NC*.
* ELEMENTWISE (identities, ReLU, Activation with an element-wise function) and MERGES (Add, Multiply, ...):
  when every input is NC* of one rank the layer runs unchanged on NC* data and its output is NC*.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kif.graph import Layer

NATIVE = frozenset(
    [f"Conv{n}D" for n in (1, 2, 3)]
    + [f"Conv{n}DTranspose" for n in (1, 2, 3)]
    + ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]
    + [f"{kind}Pooling{n}D" for kind in ("Max", "Average") for n in (1, 2, 3)]
)
ELEMENTWISE = frozenset(
    ["Identity", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
     "GaussianDropout", "AlphaDropout", "ActivityRegularization", "ReLU"]
)  # fmt: skip
MERGES = frozenset(["Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average"])
# activations that act on each element alone (softmax, log_softmax, glu, sparsemax act along the last axis)
POINTWISE_ACTIVATIONS = frozenset(
    ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid", "hard_sigmoid",
     "hard_sigmoid_keras2", "hard_silu", "silu", "tanh", "softplus", "softsign", "exponential", "mish", "celu",
     "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "squareplus",
     "tanh_shrink"]
)  # fmt: skip

TO_FIRST, TO_LAST = "to_first", "to_last"  # movedim(-1, 1) / movedim(1, -1) on one input


@dataclass(frozen=True)
class Step:
    layer: Layer  # the layer to build (the original, or its NC* twin)
    moves: tuple[tuple[int, str], ...]  # (input slot, TO_FIRST | TO_LAST) applied before the call
    nc_output: bool  # the single output is NC* (else every output is canonical)


def _rank(layer: Layer) -> int:
    a = layer.attributes
    return len(a.get("kernel_size") or a.get("pool_size")) + 2


def _native_twin(layer: Layer) -> Layer | None:
    a = layer.attributes
    if a.get("data_format") != "channels_last" or a.get("activation", "linear") not in POINTWISE_ACTIVATIONS:
        return None
    return replace(layer, attributes={**a, "data_format": "channels_first"})


def plan(layers: list[Layer], graph_outputs: list[str]) -> tuple[list[Step], list[str]]:
    """One Step per layer, and the graph outputs that must be moved back to channels-last at the end."""
    nc: dict[str, int] = {}  # tensor -> rank, for tensors held in NC*
    steps: list[Step] = []
    for layer in layers:
        present = [(i, t) for i, t in enumerate(layer.inputs) if t is not None]
        single = len(layer.outputs) == 1
        ranks = {nc.get(t) for _, t in present}
        step: Step | None = None
        if single and layer.type in NATIVE and len(present) == 1:
            twin = _native_twin(layer)
            if twin is not None:
                slot, t = present[0]
                moves = () if t in nc else ((slot, TO_FIRST),)
                step = Step(twin, moves, True)
        elif single and layer.type == "BatchNormalization" and len(present) == 1 and present[0][1] in nc:
            rank, axis = nc[present[0][1]], layer.attributes["axis"]
            if isinstance(axis, int) and axis % rank == rank - 1:
                step = Step(replace(layer, attributes={**layer.attributes, "axis": 1}), (), True)
        elif single and present and len(ranks) == 1 and None not in ranks:
            pointwise = layer.type == "Activation" and layer.attributes["activation"] in POINTWISE_ACTIVATIONS
            if layer.type in ELEMENTWISE or layer.type in MERGES or pointwise:
                step = Step(layer, (), True)
        if step is None:  # layout-sensitive: every NC* input goes back to channels-last
            step = Step(layer, tuple((i, TO_LAST) for i, t in present if t in nc), False)
        if step.nc_output:
            nc[layer.outputs[0]] = _rank(layer) if layer.type in NATIVE else nc[present[0][1]]
        else:
            for t in layer.outputs:
                nc.pop(t, None)
        steps.append(step)
    return steps, [t for t in dict.fromkeys(graph_outputs) if t in nc]
