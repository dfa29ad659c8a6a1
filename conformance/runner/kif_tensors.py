"""Read and write the suite's safetensors files with NumPy alone (``ml_dtypes`` for BF16 only).

``safetensors.numpy`` cannot hold bfloat16 (NumPy has no such dtype); this reader maps ``BF16`` to
``ml_dtypes.bfloat16``, imported only when a file holds one. The format: an 8-byte little-endian
header length, a JSON header ``{name: {dtype, shape, data_offsets: [begin, end]}}`` (plus an optional
``__metadata__``), then the data, little-endian, C order.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

_CODES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
_MAX_HEADER = 100_000_000


def _bfloat16() -> np.dtype:
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def _dtype(code: str) -> np.dtype:
    if code == "BF16":
        return _bfloat16()
    if code not in _CODES:
        raise ValueError(f"Expected a safetensors dtype among {', '.join([*_CODES, 'BF16'])}. Received: {code!r}")
    return np.dtype(_CODES[code])


def _code(dtype: np.dtype) -> str:
    if dtype.name == "bfloat16":
        return "BF16"
    little = dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype
    for code, spelling in _CODES.items():
        if np.dtype(spelling) == little:
            return code
    raise ValueError(f"Expected an array of a safetensors dtype. Received: dtype {dtype}")


def load_tensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every tensor of the file, by name, as a NumPy array (BF16 as ``ml_dtypes.bfloat16``)."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(_MAX_HEADER, len(data) - 8):
        raise ValueError(f"{path}: header length {length} runs past the file")
    header: dict[str, Any] = json.loads(data[8 : 8 + length].decode("utf-8"))
    body = memoryview(data)[8 + length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = _dtype(entry["dtype"]), tuple(int(d) for d in entry["shape"])
        begin, end = (int(v) for v in entry["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= begin <= end <= len(body) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name!r} has offsets {[begin, end]} that do not fit shape {list(shape)} {entry['dtype']}")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()
    return tensors


def save_tensors(tensors: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write ``tensors`` sorted by name, contiguous, little-endian, the header padded to 8 bytes."""
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name], order="C")  # ascontiguousarray would make a 0-d array 1-d
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        raw = array.tobytes()
        header[name] = {"dtype": _code(array.dtype), "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


__all__ = ["load_tensors", "save_tensors"]
