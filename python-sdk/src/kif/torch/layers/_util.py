"""Helpers shared by the torch converters: a function-backed module, weights as buffers, activations, layouts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

Outputs = list[Tensor]
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class Fn(nn.Module):
    """A stateless layer: ``forward`` is a plain function of the inputs (and of this module's buffers)."""

    def __init__(self, fn: Callable[..., Any], **buffers: np.ndarray | Tensor | None) -> None:
        super().__init__()
        self.fn = fn
        for name, value in buffers.items():
            self.register_buffer(name, None if value is None else tensor(value))

    def forward(self, *inputs: Tensor | None) -> Outputs:
        out = self.fn(self, *inputs)
        return list(out) if isinstance(out, (list, tuple)) else [out]


def tensor(value: np.ndarray | Tensor) -> Tensor:
    """A torch tensor owning its memory (bundle weights are read-only memory maps)."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    array = np.array(value, copy=True)
    if array.dtype.name == "bfloat16":  # ml_dtypes bfloat16: reinterpret the bits
        return torch.from_numpy(array.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(array)


def like(w: Tensor, x: Tensor) -> Tensor:
    """The spec's compute-dtype rule: weights are cast to the input's floating dtype."""
    return w if w.dtype == x.dtype else w.to(x.dtype)


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda x: x,
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": F.elu,
    "selu": lambda x: _SELU_SCALE * torch.where(x > 0, x, _SELU_ALPHA * torch.expm1(torch.clamp(x, max=0))),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": F.hardsigmoid,
    "hard_sigmoid_keras2": lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
    "hard_silu": F.hardswish,
    "silu": F.silu,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "softplus": lambda x: torch.logaddexp(x, torch.zeros((), dtype=x.dtype)),
    "softsign": F.softsign,
    "exponential": torch.exp,
    "mish": lambda x: x * torch.tanh(torch.logaddexp(x, torch.zeros((), dtype=x.dtype))),
    "celu": F.celu,
    "glu": lambda x: F.glu(x, dim=-1),
    "hard_shrink": lambda x: F.hardshrink(x, 0.5),
    "hard_tanh": F.hardtanh,
    "log_sigmoid": F.logsigmoid,
    "soft_shrink": lambda x: F.softshrink(x, 0.5),
    "sparse_plus": lambda x: torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x)),
    "sparse_sigmoid": lambda x: torch.clamp(0.5 * (x + 1), 0, 1),
    "sparsemax": lambda x: _sparsemax(x),
    "squareplus": lambda x: _squareplus(x),
    "tanh_shrink": F.tanhshrink,
}


def _sparsemax(x: Tensor) -> Tensor:
    """Projection of the last axis onto the simplex (spec/layers/activations.md; not Keras 3.15's, keras#23425)."""
    z = x - x.amax(dim=-1, keepdim=True)
    ordered = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    support = (ordered - (torch.cumsum(ordered, dim=-1) - 1) / k > 0).to(z.dtype)
    tau = ((ordered * support).sum(dim=-1, keepdim=True) - 1) / support.sum(dim=-1, keepdim=True)
    return torch.clamp(z - tau, min=0)


def _squareplus(x: Tensor) -> Tensor:
    """(x + sqrt(x² + 4)) / 2 without overflow, and without cancellation for x < 0."""
    half_root = torch.hypot(x, torch.full_like(x, 2.0)) / 2
    half_x = x / 2
    return torch.where(x >= 0, half_x + half_root, 1.0 / (half_root + half_x.abs()))


def activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation function ``name`` (spec/layers/activations.md); KeyError for an unknown name."""
    return _ACTIVATIONS[name]


_IN_PLACE: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu_, "sigmoid": torch.sigmoid_, "tanh": torch.tanh_}


def fresh_activation(name: str) -> Callable[[Tensor], Tensor]:
    """``activation(name)`` for a tensor its caller just created and nothing else holds: written in place (the same
    values, no second buffer) unless autograd records the tensor."""
    f, in_place = _ACTIVATIONS[name], _IN_PLACE.get(name)
    if in_place is None:
        return f

    def apply(x: Tensor) -> Tensor:
        return f(x) if x.requires_grad else in_place(x)

    return apply


def to_last(x: Tensor, data_format: str) -> Tensor:
    return x.movedim(1, -1) if data_format == "channels_first" else x


def from_last(x: Tensor, data_format: str) -> Tensor:
    return x.movedim(-1, 1) if data_format == "channels_first" else x


def to_first(x: Tensor, data_format: str) -> Tensor:
    """Torch's NC* layout from the layer's data_format."""
    return x.movedim(-1, 1) if data_format == "channels_last" else x


def from_first(x: Tensor, data_format: str) -> Tensor:
    return x.movedim(1, -1) if data_format == "channels_last" else x


def pad_spec(pads: Sequence[tuple[int, int]]) -> list[int]:
    """F.pad's argument (last axis first) from per-spatial-axis (before, after) pairs."""
    return [p for pair in reversed(pads) for p in pair]


def axes(axis: int | Sequence[int], rank: int) -> list[int]:
    given = [axis] if isinstance(axis, int) else list(axis)
    return sorted(a % rank for a in given)


def on_axes(w: Tensor, kept: Sequence[int], rank: int) -> Tensor:
    """A weight laid out over ``kept`` axes, reshaped to broadcast against a rank-``rank`` tensor."""
    shape = [1] * rank
    for a, d in zip(kept, w.shape, strict=True):
        shape[a] = d
    return w.reshape(shape)


def prod(values: Sequence[int]) -> int:
    return math.prod(values)
