"""Element-wise ops (spec/ops/elementwise.md) from real .keras files: runtime, torch and ONNX against Keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tests.ops._harness import check, types

RNG = np.random.default_rng(7)
X = (RNG.standard_normal((2, 3, 4)) * 3).astype("float32")
Y = (RNG.standard_normal((2, 3, 4)) * 3).astype("float32")
POS = np.abs(X) + 0.1

UNARY = {
    "abs": (ops.abs, X), "neg": (ops.negative, X), "exp": (ops.exp, X), "log": (ops.log, POS), "log1p": (ops.log1p, POS),
    "sqrt": (ops.sqrt, POS), "rsqrt": (ops.rsqrt, POS), "square": (ops.square, X), "reciprocal": (ops.reciprocal, POS),
    "sin": (ops.sin, X), "cos": (ops.cos, X), "tan": (ops.tan, X / 3), "erf": (ops.erf, X), "floor": (ops.floor, X),
    "ceil": (ops.ceil, X), "round": (ops.round, np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 2.4]], "float32")), "sign": (ops.sign, X),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name: str, tmp_path: Path) -> None:
    fn, x = UNARY[name]
    model = check(lambda t: fn(t), [x], tmp_path, rtol=2e-6, atol=2e-6)
    assert types(model) == ({"Activation"} if name == "exp" else {f"op.{name}"})  # ops.exp is the exponential activation


BINARY = {
    "add": ops.add, "subtract": ops.subtract, "divide": ops.divide,
    "floor_divide": ops.floor_divide, "mod": ops.mod, "power": lambda a, b: ops.power(ops.abs(a) + 0.5, b / 3),
    "equal": lambda a, b: ops.equal(ops.round(a), ops.round(b)), "not_equal": lambda a, b: ops.not_equal(ops.round(a), ops.round(b)),
    "less": ops.less, "less_equal": ops.less_equal, "greater": ops.greater, "greater_equal": ops.greater_equal,
    "logical_and": lambda a, b: ops.logical_and(a > 0, b > 0), "logical_or": lambda a, b: ops.logical_or(a > 0, b > 0),
    "logical_xor": lambda a, b: ops.logical_xor(a > 0, b > 0), "where": lambda a, b: ops.where(a > b, a, b),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasting(name: str, tmp_path: Path) -> None:
    """The second input (1, 4) broadcasts against (batch, 3, 4)."""
    model = check(BINARY[name], [X, Y[:, :1]], tmp_path, rtol=2e-6, atol=2e-6)
    merge = {"add": "Add", "subtract": "Subtract"}.get(name)  # two-tensor ops.add/subtract stay merge layers
    assert (merge or f"op.{name}") in types(model)


def test_numbers_become_constants(tmp_path: Path) -> None:
    build = lambda x: [x**3, 2.0 / x, ops.maximum(x, 0.5), ops.minimum(-1.0, x), x % 2.0, x > 0, ops.where(x > 0, x, 0.0)]  # noqa: E731
    model = check(build, [POS], tmp_path, rtol=2e-6, atol=2e-6)
    assert {"op.constant", "op.power", "op.divide", "op.maximum", "op.minimum", "op.mod", "op.greater", "op.where"} <= types(model)


def test_integer_ops(tmp_path: Path) -> None:
    """Python floor semantics for negative integers: -7 // 2 = -4, -7 % 2 = 1, 7 % -2 = -1."""
    a = np.array([[-7, 7, -8, 5, 0, 9]], "int32")
    b = np.array([[2, -2, 3, -3, 4, 4]], "int32")
    check(lambda x, y: [ops.floor_divide(x, y), ops.mod(x, y), x * y, ops.abs(x), ops.square(x), ops.sign(x)], [a, b], tmp_path)


def test_logical_not_cast_clip(tmp_path: Path) -> None:
    x = np.array([[-2.7, -0.5, 0.0, 0.4, 1.9, 300.0]], "float32")
    build = lambda t: [ops.logical_not(t > 0), ops.cast(t, "int32"), ops.cast(t, "bool"), ops.cast(t > 0, "float32"), ops.clip(t, -1, 1)]  # noqa: E731
    model = check(build, [x], tmp_path)
    assert {"op.logical_not", "op.cast", "op.clip"} <= types(model)
