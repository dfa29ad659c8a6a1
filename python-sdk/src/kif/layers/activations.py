"""Element-wise activation functions (spec/layers/activations.md) and the Activation layer.

Formulas follow Keras 3; where Keras generations disagree the name says which
(``hard_sigmoid`` is Keras 3's relu6(x+3)/6, ``hard_sigmoid_keras2`` is 0.2x+0.5 clipped).

Every function is computed in float32 for 16-bit inputs (float64 for float64) and
returned in the input dtype. The forms are chosen so that no finite input
overflows: sigmoid and softplus never exponentiate a positive number, softmax
subtracts the maximum, and overflow to inf where inf is the true result
(``exponential``, the cube in ``gelu_tanh``) raises no warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer

try:  # NumPy >= 2: the error state is an immutable object in a ContextVar (np.seterr and np.errstate set a new one)
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE

    _ERRSTATE.get()  # its default value: .get() never raises (.get(None) would return None where no value was set)
except (ImportError, LookupError):  # pragma: no cover - another NumPy: np.errstate on every call
    _ERRSTATE = None

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_FLOATS = ("float16", "bfloat16", "float32", "float64")

# Cephes ndtr.c (S. L. Moshier) rational approximations, relative error ~1e-16 in float64:
# erf(x) = x T(x^2)/U(x^2) for |x| <= 1; erfc(x) = exp(-x^2) P(x)/Q(x) for 1 <= x < 8, exp(-x^2) R(x)/S(x) for x >= 8.
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3, 2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (
    2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
    1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2,
)  # fmt: skip
_Q = (
    1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2, 9.75708501743205489753e2,
    1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3, 5.57535340817727675546e2,
)  # fmt: skip
_R = (
    5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
    6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0,
)  # fmt: skip
_S = (
    1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
    1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0,
)  # fmt: skip


def _poly(x: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """Horner's rule, highest power first; in place, so a long polynomial allocates one array."""
    if len(coefficients) == 1:
        return np.full_like(x, coefficients[0])
    result = x * coefficients[0]
    result += coefficients[1]
    for c in coefficients[2:]:
        result *= x
        result += c
    return result


def _erfc_nonneg(a: np.ndarray) -> np.ndarray:
    """erfc for a >= 0 (float64).

    The a < 1 expression is evaluated over the whole array, in place; the others only on the
    (flat-indexed) elements they apply to, which costs less than boolean-mask gathers.
    """
    a = np.ascontiguousarray(a)
    with np.errstate(all="ignore"):  # the a < 1 expression may overflow where it does not apply; those values are replaced
        s2 = a * a
        out = _poly(s2, _T)  # 1 - a T(a²)/U(a²)
        out *= a
        out /= _poly(s2, _U)
        np.subtract(1.0, out, out=out)
        flat, flat_out = a.reshape(-1), out.reshape(-1)
        rest = ~(a < 1.0)  # includes NaN, which the exp branch propagates
        for branch, numerator, denominator in ((rest, _P, _Q), (a >= 8.0, _R, _S)):
            index = np.flatnonzero(branch)
            if index.size == 0:
                continue
            m = flat[index] if numerator is _P else np.minimum(flat[index], 30.0)  # erfc(30) underflows to 0: the clip keeps it finite
            e = np.negative(m)  # exp(-m²) P(m)/Q(m) for 1 <= a < 8, exp(-m²) R(m)/S(m) for a >= 8
            e *= m
            np.exp(e, out=e)
            e *= _poly(m, numerator)
            e /= _poly(m, denominator)
            flat_out[index] = e
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function in float64, accurate to about 1e-15 (Cephes)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    inner = np.abs(x) <= 1.0
    s = x[inner]
    out[inner] = s * _poly(s * s, _T) / _poly(s * s, _U)
    o = x[~inner]
    with np.errstate(under="ignore"):
        out[~inner] = np.copysign(1.0 - _erfc_nonneg(np.abs(o)), o)
    return out


def erfc(x: np.ndarray) -> np.ndarray:
    """Vectorised complementary error function in float64 (keeps relative accuracy for large x)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        tail = _erfc_nonneg(np.abs(x))
    np.subtract(2.0, tail, out=tail, where=x < 0)
    return tail


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never exp of a positive number: no overflow, full relative accuracy in both tails
    d = 1.0 + e
    return np.where(x >= 0, 1.0 / d, e / d).astype(x.dtype, copy=False)  # (a masked divide is slower on RNN-step sizes)


def softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, x.dtype.type(0))  # log(1 + exp(x)) without overflow


_GELU_CHUNK = 16384  # elements per block: the float64 temporaries of one block stay in cache across the ~50 passes


def gelu(x: np.ndarray) -> np.ndarray:
    """float32: kif.layers._gelu32 (float32 arithmetic, about 2 ulp). float64: Cephes erfc, blockwise over the
    flattened input (the same operations as one whole-array pass, so the same values)."""
    if x.dtype == np.float32:
        from kif.layers import _gelu32

        return _gelu32.gelu(x, _gelu_block)
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.size <= _GELU_CHUNK:
        return _gelu_block(flat).reshape(x.shape)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _GELU_CHUNK):
        out[start : start + _GELU_CHUNK] = _gelu_block(flat[start : start + _GELU_CHUNK])
    return out.reshape(x.shape)


def _gelu_block(x: np.ndarray) -> np.ndarray:
    # 0.5 x (1 + erf(x/√2)) = 0.5 x erfc(-x/√2): the erfc form keeps relative accuracy for negative x.
    wide = x.astype(np.float64)
    z = np.negative(wide)
    z /= math.sqrt(2.0)
    y = 0.5 * wide
    y *= erfc(z)
    return y.astype(x.dtype)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + np.tanh(inner))


def leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    return np.where(x >= 0, x, x * x.dtype.type(negative_slope))


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))  # -softplus(-x) without overflow


def squareplus(x: np.ndarray, b: float = 4.0) -> np.ndarray:
    # (x + sqrt(x² + b)) / 2 as x/2 + r/2 with r = hypot(x, √b), which never overflows; for x < 0 the equal
    # form (b/4) / (r/2 + |x|/2) avoids the cancellation that returns 0 where the true value is about b / (4|x|).
    half_root = np.hypot(x, x.dtype.type(math.sqrt(b))) / 2
    half_x = x / 2
    return np.where(x >= 0, half_x + half_root, (b / 4) / (half_root + np.abs(half_x))).astype(x.dtype, copy=False)


def glu(x: np.ndarray) -> np.ndarray:
    a, gate = np.split(x, 2, axis=-1)  # the shape rule has checked that the last axis is even
    return a * sigmoid(gate)


def sparsemax(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of the last axis onto the simplex (Martins & Astudillo 2016), Keras's sorted form.

    The maximum is subtracted first (sparsemax is shift-invariant), which keeps the cumulative sums exact
    for large logits. Tied values are all in the support or all out, so ties need no rule.
    """
    z = x - np.max(x, axis=-1, keepdims=True)
    ordered = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = ordered - (np.cumsum(ordered, axis=-1) - 1) / k > 0
    size = np.sum(support, axis=-1, keepdims=True)
    # τ from the sum of the sorted values over the support (= the k-th cumulative sum; Keras <= 3.15 sums the
    # cumulative sums instead, keras-team/keras#23425).
    tau = (np.sum(np.where(support, ordered, 0), axis=-1, keepdims=True) - 1) / size.astype(z.dtype)
    return np.maximum(z - tau, 0)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0, 6) / 6.0,
    "hard_sigmoid_keras2": lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    "hard_silu": lambda x: x * (np.clip(x + 3.0, 0, 6) / 6.0),
    "silu": lambda x: x * sigmoid(x),
    "tanh": np.tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softplus": softplus,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(softplus(x)),
    # Since KIF 0.2.0; Keras 3 defaults for the parameters (celu alpha=1, shrink threshold=0.5, squareplus b=4).
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "glu": glu,
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0).astype(x.dtype, copy=False),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "log_sigmoid": log_sigmoid,
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)).astype(x.dtype, copy=False),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)).astype(x.dtype, copy=False),
    "sparse_sigmoid": lambda x: np.clip(0.5 * (x + 1), 0, 1),
    "sparsemax": sparsemax,
    "squareplus": squareplus,
    "tanh_shrink": lambda x: x - np.tanh(x),
}

# Activations that are not element-wise act on the last axis; glu also halves it.
LAST_AXIS = frozenset({"softmax", "log_softmax", "glu", "sparsemax"})


def output_type(name: str, t: TensorType) -> TensorType:
    """The type of ``name`` applied to a tensor of type ``t``: ``t`` itself, except that glu halves the last axis."""
    if name != "glu":
        return t
    if not t.shape:
        raise ShapeError("glu splits the last axis in two halves: expected an input of rank >= 1. Received: a scalar")
    last = t.shape[-1]
    if last is not None and last % 2:
        raise ShapeError(f"glu splits the last axis in two halves: expected an even size. Received: last axis {last}")
    return TensorType(t.dtype, (*t.shape[:-1], None if last is None else last // 2))


def apply(name: str, x: np.ndarray) -> np.ndarray:
    """Activation ``name`` of a floating array, in the array's dtype (softmax/log_softmax on the last axis)."""
    if name == "linear":
        return x
    wide = x.astype(_compute_dtype(x.dtype), copy=False)
    with np.errstate(over="ignore", under="ignore"):
        y = ACTIVATIONS[name](wide)
    return np.asarray(y).astype(x.dtype, copy=False)


def apply_fresh(name: str, y: np.ndarray) -> np.ndarray:
    """``apply`` for an array nothing else holds (a kernel's own fresh result): relu and softmax in place, the
    same operations on the same values; other activations (and other dtypes) as ``apply``."""
    if y.dtype not in (np.float32, np.float64) or name not in ("relu", "softmax"):
        return apply(name, y)
    if name == "relu":
        return np.maximum(y, 0, out=y)
    return softmax_fresh(y)


def softmax_fresh(y: np.ndarray) -> np.ndarray:
    """Softmax on the last axis of a float32/float64 array nothing else holds, in place: max subtracted, exp (an
    underflow to 0 raises no warning or error whatever NumPy's error state), divided by the sum."""
    y -= y.max(axis=-1, keepdims=True)
    if (_ERRSTATE is not None and _ERRSTATE.get() is _QUIET[0]) or _underflow_ignored():  # the first test: inline
        np.exp(y, out=y)
    else:
        with np.errstate(under="ignore"):
            np.exp(y, out=y)
    y /= _SUM(y, -1, keepdims=True)  # y.sum(axis=-1, keepdims=True) without the method's Python wrapper (the same reduction)
    return y


_SUM = np.add.reduce
_QUIET: list[object] = [object()]  # an error state seen to ignore underflow (held, so no other object gets its id)


def _underflow_ignored() -> bool:
    """Whether NumPy's error state in this context ignores underflow (its default): read once per state object,
    then known by identity (~50 ns; ``np.errstate`` costs ~2.5 µs per call, ``np.geterr`` ~1.8 µs)."""
    if _ERRSTATE is None:
        return False
    state = _ERRSTATE.get()
    if state is _QUIET[0]:
        return True
    if np.geterr()["under"] != "ignore":
        return False
    _QUIET[0] = state
    return True


def require_float(t: TensorType) -> None:
    if t.dtype not in _FLOATS:
        raise ShapeError(f"expected a floating input ({', '.join(_FLOATS)}). Received: dtype {t.dtype}")


@register_layer("Activation")
class Activation:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        require_float(x)
        return [output_type(attrs["activation"], x)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [apply(attrs["activation"], inputs[0])]
