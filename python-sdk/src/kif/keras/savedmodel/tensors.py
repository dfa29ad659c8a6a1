"""A TensorFlow checkpoint (TensorBundle: ``variables.index`` + ``variables.data-NNNNN-of-NNNNN``), read
tensor by tensor with every record checked against its shard before anything is converted.

A tensor is read when the bundle writer asks for it (one tensor in memory), and its bytes must match the
masked CRC-32C of its entry. A partitioned tensor (``slices``: TF's sharding policies split variables
larger than a shard) is assembled from the slice entries, whose keys TensorFlow encodes with OrderedCode:
0 (NumIncreasing), the name (String), the rank, then per dimension start and length (-1 = whole dimension;
SignedNumIncreasing). Strings (DT_STRING) are stored as varint lengths, the masked CRC-32C of the lengths
(as uint32), then the bytes; only the scalar object-graph string is ever read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kif import limits
from kif.errors import KifError
from kif.keras.savedmodel import wire
from kif.keras.savedmodel.bundle_entry import DT_STRING, Entry, Header, parse_entry, parse_header
from kif.keras.savedmodel.crc32c import crc32c, mask, unmask
from kif.keras.savedmodel.sstable import read_table

CHUNK = 16 * 1024 * 1024
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _corrupt(message: str, file: Path | str, key: str | None = None) -> KifError:
    return KifError(message, code="convert-unreadable", file=str(file), pointer=key)


def _num_increasing(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(raw)]) + raw


def _signed_num_increasing(value: int) -> bytes:
    magnitude = ~value if value < 0 else value
    length = 1
    while magnitude >= 1 << (7 * length - 1):
        length += 1
    header = ((1 << length) - 1) << (8 * length - length)
    return ((value & ((1 << 8 * length) - 1)) ^ header).to_bytes(length, "big")


def slice_key(name: str, extents: list[tuple[int, int]]) -> bytes:
    """TensorFlow's EncodeTensorNameSlice: the index key of one slice of tensor ``name``."""
    escaped = name.encode("utf-8").replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff")
    out = _num_increasing(0) + escaped + b"\x00\x01" + _num_increasing(len(extents))
    for start, length in extents:
        out += _signed_num_increasing(start) + _signed_num_increasing(length)
    return out


class Checkpoint:
    """The entries of a checkpoint, validated against its shards on open."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.index = prefix.with_name(prefix.name + ".index")
        if not self.index.is_file():
            raise _corrupt("The SavedModel has no variables/variables.index (a checkpoint is required)", self.index)
        entries: dict[str, Entry] = {}
        slices: dict[bytes, Entry] = {}
        self.slice_extents: dict[str, list[list[tuple[int, int]]]] = {}
        header: Header | None = None
        for key, value in read_table(self.index):
            if key == b"":
                header = parse_header(value, str(self.index))
                continue
            if key.startswith(b"\x00"):
                slices[key] = parse_entry(repr(key), value, str(self.index))
                continue
            try:
                name = key.decode("utf-8")
            except UnicodeDecodeError:
                raise _corrupt(f"Corrupt index: key {key!r} is not UTF-8", self.index) from None
            entries[name] = parse_entry(name, value, str(self.index))
            if entries[name].sliced:
                self.slice_extents[name] = self._extents(name, value, entries[name].shape)
        if header is None:
            raise _corrupt("Corrupt index: no bundle header (the entry with the empty key)", self.index)
        if header.big_endian:
            raise _corrupt("The checkpoint was written big-endian; KIF reads little-endian checkpoints only", self.index)
        self.header, self.entries, self.slices = header, entries, slices
        self._check_shards()

    def shard_path(self, shard: int) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}.data-{shard:05d}-of-{self.header.num_shards:05d}")

    def _extents(self, name: str, value: memoryview, shape: tuple[int, ...]) -> list[list[tuple[int, int]]]:
        what = f"{self.index}: slices of {name!r}"
        out = []
        for piece in wire.messages(wire.parse(value, what), 7, what, 0):
            extents = wire.messages(piece, 1, what, 1)
            if len(extents) != len(shape):
                raise _corrupt(f"A slice of {name!r} has {len(extents)} extents for a rank-{len(shape)} tensor", self.index, name)
            out.append([(wire.integer(e, 1, what), wire.integer(e, 2, what, default=-1) if 2 in e else -1) for e in extents])
        return out

    def _check_shards(self) -> None:
        sizes: dict[int, int] = {}
        for entry in [*self.entries.values(), *self.slices.values()]:
            if entry.sliced:
                continue
            if entry.shard_id >= self.header.num_shards:
                raise _corrupt(f"Tensor {entry.key} names shard {entry.shard_id} of {self.header.num_shards}", self.index, entry.key)
            if entry.shard_id not in sizes:
                path = self.shard_path(entry.shard_id)
                if not path.is_file():
                    raise KifError(
                        f"The checkpoint shard {path.name} is missing (the index names {self.header.num_shards} shards)",
                        code="convert-missing-weights",
                        file=str(path),
                    )
                sizes[entry.shard_id] = path.stat().st_size
            if entry.offset + entry.size > sizes[entry.shard_id]:
                shard = self.shard_path(entry.shard_id)
                raise _corrupt(
                    f"Tensor {entry.key} needs bytes [{entry.offset}, {entry.offset + entry.size}) of {shard.name},"
                    f" which has {sizes[entry.shard_id]}: the shard is truncated",
                    shard,
                    entry.key,
                )

    def _bytes(self, entry: Entry) -> bytes:
        if entry.size > limits.current().max_tensor_bytes:
            raise _corrupt(f"Tensor {entry.key} declares {entry.size} bytes, more than the tensor limit", self.index, entry.key)
        path = self.shard_path(entry.shard_id)
        with open(path, "rb") as stream:
            stream.seek(entry.offset)
            data = stream.read(entry.size)
        if len(data) != entry.size:
            raise _corrupt(f"Tensor {entry.key} is cut short by the end of {path.name}", path, entry.key)
        if entry.dtype != DT_STRING and crc32c(data) != unmask(entry.crc32c):
            raise _corrupt(f"Tensor {entry.key} fails its CRC-32C check: {path.name} is corrupt", path, entry.key)
        return data

    def _plain(self, entry: Entry) -> np.ndarray:
        dtype = entry.numpy_dtype(str(self.index))
        count = int(np.prod(entry.shape, dtype=np.int64))
        if count * dtype.itemsize != entry.size:
            raise _corrupt(
                f"Tensor {entry.key} of shape {list(entry.shape)} needs {count * dtype.itemsize} bytes; its entry says {entry.size}",
                self.index,
                entry.key,
            )
        return np.frombuffer(self._bytes(entry), dtype=dtype).reshape(entry.shape)

    def read(self, key: str) -> np.ndarray:
        entry = self.entries.get(key)
        if entry is None:
            raise KifError(f"The checkpoint has no tensor {key!r}", code="convert-missing-weights", file=str(self.index), pointer=key)
        if not entry.sliced:
            return self._plain(entry)
        out = np.empty(entry.shape, dtype=entry.numpy_dtype(str(self.index)))
        covered = np.zeros(entry.shape, dtype=bool)
        for extents in self.slice_extents[key]:
            part = self.slices.get(slice_key(key, extents))
            if part is None:
                raise _corrupt(f"A slice {extents} of tensor {key} is missing from the index", self.index, key)
            window = tuple(
                slice(0, dim) if length < 0 else slice(start, start + length)
                for (start, length), dim in zip(extents, entry.shape, strict=True)
            )
            if any(w.start < 0 or w.stop > dim for w, dim in zip(window, entry.shape, strict=True)) or covered[window].any():
                raise _corrupt(f"A slice {extents} of tensor {key} overlaps another or lies outside the tensor", self.index, key)
            data = self._plain(part)
            if data.shape != covered[window].shape:
                raise _corrupt(f"A slice {extents} of tensor {key} has shape {list(data.shape)}", self.index, key)
            out[window] = data
            covered[window] = True
        if not covered.all():
            raise _corrupt(f"The slices of tensor {key} leave part of it unwritten", self.index, key)
        return out

    def read_string(self, key: str) -> bytes:
        """The one element of a scalar string tensor, its length checksum and its CRC-32C checked."""
        entry = self.entries.get(key)
        if entry is None:
            raise _corrupt(f"The checkpoint has no {key} entry; it was not written by TensorFlow 2", self.index, key)
        if entry.dtype != DT_STRING or entry.shape != () or entry.sliced:
            raise _corrupt(f"{key} should be a scalar string tensor", self.index, key)
        if entry.size > limits.current().max_document_bytes:
            raise _corrupt(f"{key} declares {entry.size} bytes, more than the document limit", self.index, key)
        data = self._bytes(entry)
        length, pos = wire.read_varint(data, 0, key)
        if length.bit_length() > 32 or pos + 4 + length != len(data):
            raise _corrupt(
                f"{key}: its declared length {length} disagrees with its {len(data)}-byte entry", self.shard_path(entry.shard_id), key
            )
        lengths_crc = crc32c(length.to_bytes(4, "little"))
        stored = data[pos : pos + 4]
        if int.from_bytes(stored, "little") != mask(lengths_crc) or crc32c(data[pos + 4 :], crc32c(stored, lengths_crc)) != unmask(
            entry.crc32c
        ):
            raise _corrupt(
                f"{key} fails its CRC-32C check: {self.shard_path(entry.shard_id).name} is corrupt", self.shard_path(entry.shard_id), key
            )
        return data[pos + 4 :]


class CheckpointTensor:
    """A checkpoint tensor that reads itself when indexed (h5py dataset-like: dtype, shape, [()])."""

    def __init__(self, checkpoint: Checkpoint, key: str) -> None:
        entry = checkpoint.entries[key]
        self.checkpoint, self.key = checkpoint, key
        self.dtype = entry.numpy_dtype(str(checkpoint.index))
        self.shape = entry.shape

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.checkpoint.read(self.key)[index])
