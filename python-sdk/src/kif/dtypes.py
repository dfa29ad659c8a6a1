"""The dtype table shared by every module: KIF name, safetensors code, NumPy dtype.

bfloat16 has no NumPy builtin; it comes from ``ml_dtypes`` (the same package
JAX and Keras use), so a bfloat16 tensor is a real ``bfloat16`` array, not a view.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from kif.errors import KifError


@dataclass(frozen=True)
class DType:
    name: str  # the KIF spelling used in model.json
    safetensors: str  # the code in a safetensors header
    numpy: np.dtype  # little-endian NumPy dtype

    @property
    def itemsize(self) -> int:
        return int(self.numpy.itemsize)


_TABLE = [
    DType("float64", "F64", np.dtype("<f8")),
    DType("float32", "F32", np.dtype("<f4")),
    DType("float16", "F16", np.dtype("<f2")),
    DType("bfloat16", "BF16", np.dtype(ml_dtypes.bfloat16)),
    DType("int64", "I64", np.dtype("<i8")),
    DType("int32", "I32", np.dtype("<i4")),
    DType("int16", "I16", np.dtype("<i2")),
    DType("int8", "I8", np.dtype("i1")),
    DType("uint8", "U8", np.dtype("u1")),
    DType("bool", "BOOL", np.dtype("?")),
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
        if entry.numpy == dtype.newbyteorder("<") or entry.numpy == dtype:
            return entry
    raise KifError(
        f"Expected an array of a KIF dtype ({', '.join(NAMES)}). Received: dtype={dtype}",
        code="dtype-unknown",
    )
