"""The dtype table shared by every module: KIF name, safetensors code, NumPy dtype.

bfloat16 has no NumPy builtin; it comes from ``ml_dtypes`` (the same package
JAX and Keras use), so a bfloat16 tensor is a real ``bfloat16`` array, not a view.
"""

from __future__ import annotations

import functools

import numpy as np

from kif._lean import Frozen
from kif.errors import KifError


class DType(Frozen):
    __match_args__ = ("name", "safetensors", "spelling")
    __slots__ = __match_args__
    name: str  # the KIF spelling used in model.json
    safetensors: str  # the code in a safetensors header
    spelling: str  # the little-endian NumPy dtype string; "bfloat16" resolves through ml_dtypes

    def __init__(self, name: str, safetensors: str, spelling: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "safetensors", safetensors)
        object.__setattr__(self, "spelling", spelling)

    @property
    def numpy(self) -> np.dtype:
        return _numpy_dtype(self.spelling)

    @property
    def itemsize(self) -> int:
        return int(self.numpy.itemsize)


@functools.cache
def _numpy_dtype(spelling: str) -> np.dtype:
    if spelling == "bfloat16":  # ml_dtypes costs about 0.5 s to import: only files that hold bfloat16 pay for it
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(spelling)


_TABLE = [
    DType("float64", "F64", "<f8"),
    DType("float32", "F32", "<f4"),
    DType("float16", "F16", "<f2"),
    DType("bfloat16", "BF16", "bfloat16"),
    DType("int64", "I64", "<i8"),
    DType("int32", "I32", "<i4"),
    DType("int16", "I16", "<i2"),
    DType("int8", "I8", "i1"),
    DType("uint8", "U8", "u1"),
    DType("bool", "BOOL", "?"),
]

BY_NAME: dict[str, DType] = {d.name: d for d in _TABLE}
BY_SAFETENSORS: dict[str, DType] = {d.safetensors: d for d in _TABLE}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def by_name(name: str) -> DType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KifError(
            f"Expected a KIF dtype, one of {', '.join(NAMES)}. Received: dtype={name!r}",
            code="dtype-unknown",
        ) from None


def from_numpy(dtype: np.dtype) -> DType:
    """The KIF dtype of a NumPy dtype (byte order ignored: KIF data is little-endian)."""
    dtype = np.dtype(dtype)
    for entry in _TABLE:
        if entry.spelling == "bfloat16" and dtype.name != "bfloat16":
            continue  # only an ml_dtypes array is bfloat16, and ml_dtypes is then already imported
        if entry.numpy == dtype.newbyteorder("<") or entry.numpy == dtype:
            return entry
    raise KifError(
        f"Expected an array of a KIF dtype ({', '.join(NAMES)}). Received: dtype={dtype}",
        code="dtype-unknown",
    )
