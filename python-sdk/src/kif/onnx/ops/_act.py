"""Activation functions (spec/layers/activations.md) as ONNX nodes, and small shared graph idioms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kif.onnx._context import Ctx
from kif.onnx.ops import _act_extra

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def activation(ctx: Ctx, name: str, like: str | np.dtype, x: str) -> str:
    """``name`` applied to ``x``; ``like`` is x's dtype or a typed tensor of that dtype (for constants)."""
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus", "softsign": "Softsign", "exponential": "Exp"}
    if name == "linear":
        return x
    if name in simple:
        return ctx.node(simple[name], [x])
    if name == "relu6":
        return ctx.node("Clip", [x, ctx.scalar(0.0, like), ctx.scalar(6.0, like)])
    if name == "leaky_relu":
        return ctx.node("LeakyRelu", [x], alpha=0.2)
    if name == "elu":
        return ctx.node("Elu", [x], alpha=1.0)
    if name == "selu":
        return ctx.node("Selu", [x], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
    if name == "gelu":
        return ctx.node("Gelu", [x], approximate="none")
    if name == "gelu_tanh":
        return ctx.node("Gelu", [x], approximate="tanh")
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return ctx.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if name == "hard_sigmoid_keras2":
        return ctx.node("HardSigmoid", [x], alpha=0.2, beta=0.5)
    if name == "hard_silu":
        return ctx.node("HardSwish", [x])
    if name == "silu":
        return ctx.node("Mul", [x, ctx.node("Sigmoid", [x])])
    if name == "softmax":
        return ctx.node("Softmax", [x], axis=-1)
    if name == "log_softmax":
        return ctx.node("LogSoftmax", [x], axis=-1)
    if name == "mish":
        return ctx.node("Mish", [x])
    if name in _act_extra.NAMES:
        return _act_extra.activation(ctx, name, like, x)
    raise ctx.refuse(f"activation {name!r} has no ONNX form here")


def to_first(ctx: Ctx, x: str, rank: int) -> str:
    """[N, *S, C] → [N, C, *S] for a tensor of total rank ``rank``."""
    return ctx.node("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])


def to_last(ctx: Ctx, x: str, rank: int) -> str:
    """[N, C, *S] → [N, *S, C]."""
    return ctx.node("Transpose", [x], perm=[0, *range(2, rank), 1])


def reduce(ctx: Ctx, op: str, x: str, axes: Sequence[int], keepdims: bool) -> str:
    return ctx.node(op, [x, ctx.ints(axes)], keepdims=int(keepdims))
