"""Load-time fusions of the torch importer, the counterparts of the reference runtime's (kif/plan_fuse.py).

* **BatchNormalization folded** into the Conv1D/2D/3D or Dense right before it (linear activation, the BN on the
  head's channel axis, one float dtype for every weight): kernel' = kernel s, bias' = (bias - moving_mean) s + beta
  per output channel, s = gamma / sqrt(moving_variance + epsilon), computed in float64 and rounded once. The same
  math in another rounding order (a few ulp of the terms summed), inside Conv's and Dense's tolerances. The folded
  path runs only where no gradient is recorded (``torch.no_grad``/``inference_mode``) and the input has the
  weights' dtype; otherwise the two layers run as they are, so training and mixed dtypes see the unfused math.
  The folded weights are recomputed when a source weight changed since (``load_state_dict``, in-place edits, ``.to``;
  for a module built under ``inference_mode`` only a replaced tensor is seen: inference tensors keep no version).
* **ReLU in place**: a default ReLU (or Activation relu) whose input only it reads, made by a layer that writes a new tensor (a
  convolution, Dense, a normalisation, attention, Add), runs as ``relu_`` when no gradient needs that input.
* **Add in place**: a two-input Add writes into an input of that kind when, at run time, both inputs have one
  shape and dtype and no gradient is recorded (IEEE addition commutes, so the values are the same bits).

A link is fused only when the tensor between the layers has that one reader and is not a graph output.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from kif.torch.layout import Step

HEADS = frozenset({"Conv1D", "Conv2D", "Conv3D", "Dense"})
# converters whose output is a tensor of its own (never a view of an input or a weight): a ReLU or Add may overwrite it
FRESH = frozenset(
    {*HEADS, "BatchNormalization", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
     "LayerNormalization", "MultiHeadAttention", "Add"}
)  # fmt: skip
_FLOATS = (torch.float32, torch.float64)


def _channel_axis(step: Step) -> int | None:
    """The head's output channel axis as BatchNormalization must name it, or None when it cannot be told statically."""
    a = step.layer.attributes
    if step.layer.type == "Dense":
        return -1
    rank = len(a["kernel_size"]) + 2
    return 1 if a["data_format"] == "channels_first" else rank - 1


def can_fold(head: Step, bn: Step, sole: set[str]) -> bool:
    h, b = head.layer, bn.layer
    if h.type not in HEADS or b.type != "BatchNormalization" or bn.moves or len(h.outputs) != 1:
        return False
    if h.attributes.get("activation") != "linear" or h.outputs[0] not in sole or b.inputs != [h.outputs[0]]:
        return False
    axis, channel = b.attributes["axis"], _channel_axis(head)
    if not isinstance(axis, int) or channel is None:
        return False
    if channel == -1:
        return axis == -1
    rank = len(h.attributes["kernel_size"]) + 2
    return axis % rank == channel


class Folded(nn.Module):
    """Head + BatchNormalization as one call; the folded weights are non-persistent buffers (not in state_dict)."""

    def __init__(self, head: nn.Module, bn: nn.Module, epsilon: float) -> None:
        super().__init__()
        self.parts = (head, bn)  # a tuple: not registered as children (they are the KifModule's own layers)
        self.epsilon = epsilon
        self.register_buffer("weight", None, persistent=False)
        self.register_buffer("bias", None, persistent=False)
        self.key: tuple[object, ...] = ()
        self.refold()

    def _sources(self) -> list[Tensor | None]:
        head, bn = self.parts
        lin = head.linear if hasattr(head, "linear") else head.conv
        return [lin.weight, lin.bias, bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta]

    def _key(self) -> tuple[object, ...]:
        # inference tensors (a module built under inference_mode) keep no version counter: their storage is the stamp
        return tuple(None if t is None else (t.data_ptr(), t.dtype, None if t.is_inference() else t._version) for t in self._sources())

    def refold(self) -> None:
        weight, bias, mean, var, gamma, beta = self._sources()
        assert weight is not None and mean is not None and var is not None
        dtype = weight.dtype
        if dtype not in _FLOATS or any(t is not None and t.dtype != dtype for t in (bias, mean, var, gamma, beta)):
            self.weight = self.bias = None  # mixed or low-precision weights: the layers run unfused
        else:
            with torch.no_grad():
                eps = torch.tensor(self.epsilon, dtype=dtype).double()  # the epsilon the unfused layer adds
                s = torch.rsqrt(var.double() + eps)
                if gamma is not None:
                    s = s * gamma.double()
                shift = ((bias.double() if bias is not None else torch.zeros_like(s)) - mean.double()) * s
                if beta is not None:
                    shift = shift + beta.double()
                folded = torch.empty_like(weight)  # the source's memory layout (Dense keeps [in, units] memory)
                self.weight = folded.copy_(weight.double() * s.reshape(-1, *[1] * (weight.dim() - 1)))
                self.bias = shift.to(dtype)
        self.key = self._key()

    def forward(self, x: Tensor) -> list[Tensor]:
        head, bn = self.parts
        if self.weight is None or x.dtype != self.weight.dtype or torch.is_grad_enabled() or torch.compiler.is_compiling():
            return bn(*head(x))  # the documented two layers
        if self._key() != self.key:  # a source weight changed since the fold
            self.refold()
            return self.forward(x)
        return [head.run(x, self.weight, self.bias)]


def relu_in_place(step: Step, producer: str | None, sole: set[str]) -> bool:
    a, x = step.layer.attributes, step.layer.inputs[0] if step.layer.inputs else None
    if step.layer.type == "ReLU":
        plain = a.get("max_value") is None and a.get("negative_slope", 0) == 0 and a.get("threshold", 0) == 0
    else:
        plain = step.layer.type == "Activation" and a.get("activation") == "relu"
    return plain and not step.moves and x in sole and producer in FRESH


def relu_(x: Tensor) -> list[Tensor]:
    return [torch.relu_(x) if not x.requires_grad else torch.relu(x)]


def add_in_place(step: Step, producers: list[str | None], sole: set[str]) -> int | None:
    """The input slot an Add may write into, or None."""
    ins = step.layer.inputs
    if step.layer.type != "Add" or len(ins) != 2 or None in ins or ins[0] == ins[1] or step.moves:
        return None
    for slot in (0, 1):
        if ins[slot] in sole and producers[slot] in FRESH:
            return slot
    return None


def adder(slot: int) -> Callable[[Tensor, Tensor], list[Tensor]]:
    def add(a: Tensor, b: Tensor) -> list[Tensor]:
        target, other = (a, b) if slot == 0 else (b, a)
        if target.shape == other.shape and target.dtype == other.dtype and not (target.requires_grad or other.requires_grad):
            return [target.add_(other)]
        return [torch.add(a, b)]

    return add
