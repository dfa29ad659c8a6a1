"""TensorBundle records: the header (key "") and one BundleEntryProto per tensor (tensor_bundle.proto).

BundleHeaderProto: num_shards = 1 (int32), endianness = 2 (0 little, 1 big), version = 3.
BundleEntryProto: dtype = 1 (DataType enum), shape = 2 (TensorShapeProto: repeated Dim dim = 2 {int64
size = 1}, bool unknown_rank = 3), shard_id = 3, offset = 4, size = 5 (int64), crc32c = 6 (fixed32,
masked), slices = 7 (a partitioned variable, whose data lives under other keys).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kif.errors import KifError
from kif.keras.savedmodel import wire

# tensorflow/core/framework/types.proto DataType → NumPy (little-endian); bfloat16 via ml_dtypes.
DTYPES: dict[int, str] = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "float16",
    22: "uint32",
    23: "uint64",
}
DT_STRING = 7


@dataclass(frozen=True)
class Header:
    num_shards: int
    big_endian: bool


@dataclass(frozen=True)
class Entry:
    key: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    sliced: bool

    def numpy_dtype(self, file: str) -> np.dtype:
        name = DTYPES.get(self.dtype)
        if name is None:
            raise KifError(
                f"Tensor {self.key!r} has TensorFlow DataType {self.dtype}, which KIF cannot store",
                code="convert-unsupported",
                file=file,
                pointer=self.key,
            )
        if name == "bfloat16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(name).newbyteorder("<")


def parse_header(value: memoryview, file: str) -> Header:
    what = f"{file}: bundle header"
    fields = wire.parse(value, what)
    shards = wire.integer(fields, 1, what, bits=32)
    if not 1 <= shards <= 100_000:
        raise KifError(f"The checkpoint header declares {shards} data shards", code="convert-unreadable", file=file)
    return Header(shards, wire.integer(fields, 2, what) == 1)


def parse_entry(key: str, value: memoryview, file: str) -> Entry:
    what = f"{file}: entry {key!r}"
    fields = wire.parse(value, what)
    shape_fields = wire.submessage(fields, 2, what, 0)
    if wire.integer(shape_fields, 3, what):
        raise KifError(f"Tensor {key!r} has an unknown rank", code="convert-unreadable", file=file, pointer=key)
    shape = tuple(wire.integer(dim, 1, what) for dim in wire.messages(shape_fields, 2, what, 1))
    entry = Entry(
        key=key,
        dtype=wire.integer(fields, 1, what, bits=32),
        shape=shape,
        shard_id=wire.integer(fields, 3, what, bits=32),
        offset=wire.integer(fields, 4, what),
        size=wire.integer(fields, 5, what),
        crc32c=wire.unsigned(fields, 6, what),
        sliced=bool(fields.get(7)),
    )
    if any(d < 0 for d in shape) or entry.offset < 0 or entry.size < 0 or entry.shard_id < 0:
        raise KifError(
            f"Tensor {key!r} has a negative dimension, offset, size or shard", code="convert-unreadable", file=file, pointer=key
        )
    return entry
