"""Element-wise activation functions (spec/layers/activations.md) and the Activation layer.

Formulas follow Keras 3; where Keras generations disagree the name says which
(``hard_sigmoid`` is Keras 3's relu6(x+3)/6, ``hard_sigmoid_keras2`` is 0.2x+0.5 clipped).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import TensorType, register_layer

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _erf(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf; math.erf per element is exact to the ulp, vectorised via frompyfunc.
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float64)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, 0.0).astype(x.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (np.tanh(0.5 * x) + 1.0)).astype(x.dtype)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x).astype(x.dtype),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype),
    "selu": lambda x: (_SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))).astype(x.dtype),
    "gelu": lambda x: (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype),
    "gelu_tanh": lambda x: (0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))).astype(x.dtype),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: (np.clip(x + 3.0, 0, 6) / 6.0).astype(x.dtype),
    "hard_sigmoid_keras2": lambda x: np.clip(0.2 * x + 0.5, 0, 1).astype(x.dtype),
    "hard_silu": lambda x: (x * np.clip(x + 3.0, 0, 6) / 6.0).astype(x.dtype),
    "silu": lambda x: (x * _sigmoid(x)).astype(x.dtype),
    "tanh": np.tanh,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "softplus": _softplus,
    "softsign": lambda x: (x / (1.0 + np.abs(x))).astype(x.dtype),
    "exponential": np.exp,
    "mish": lambda x: (x * np.tanh(_softplus(x))).astype(x.dtype),
}


def apply(name: str, x: np.ndarray) -> np.ndarray:
    return ACTIVATIONS[name](x)


@register_layer("Activation")
class Activation:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        return [only(inputs)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [apply(attrs["activation"], inputs[0])]
