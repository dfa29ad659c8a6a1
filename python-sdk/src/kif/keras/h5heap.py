"""A pre-scan of an HDF5 file's global heap collections, before h5py reads any variable-length value.

HDF5 (2.0.0 included) parses a heap collection by walking its objects: a free-space
object advances the walk by its own declared size, so a damaged one of size 0 (or a
size that wraps the pointer) makes the library loop forever inside C, where no
Python timeout reaches. Keras stores every string attribute (layer_names,
weight_names, keras_version, model_config) in these heaps, so the walk is checked
here, on the raw bytes, and such a file is refused before h5py opens it.
"""

from __future__ import annotations

import io
import mmap
import struct
from typing import IO

from kif.keras.errors import ConversionError

_SIGNATURE = b"GCOL"
_CHUNK = 1 << 20
_LENGTH_FORMATS = {2: "<H", 4: "<I", 8: "<Q"}


def _length_size(head: bytes) -> int:
    """The superblock's "size of lengths" (heap sizes are encoded with it); 8 when unreadable."""
    version = head[8] if len(head) > 8 else 0
    index = 14 if version in (0, 1) else 10
    size = head[index] if len(head) > index else 8
    return size if size in _LENGTH_FORMATS else 8


def check_global_heaps(stream: IO[bytes], file: str) -> None:
    """Refuse a file holding a heap collection whose object walk would not terminate; leaves ``stream`` at 0."""
    stream.seek(0)
    length = _length_size(stream.read(16))
    for position in _signatures(stream):
        _check_collection(stream, position, length, file)
    stream.seek(0)


def _signatures(stream: IO[bytes]) -> list[int]:
    """Offsets of every heap signature: one scan of a memory map of the file (no copies), else chunked reads."""
    try:
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return _signatures_read(stream)
    with mapped:
        found: list[int] = []
        hit = mapped.find(_SIGNATURE)
        while hit >= 0:
            found.append(hit)
            hit = mapped.find(_SIGNATURE, hit + 1)
        return found


def _signatures_read(stream: IO[bytes]) -> list[int]:
    found: list[int] = []
    offset = 0
    tail = b""
    stream.seek(0)
    while True:
        block = stream.read(_CHUNK)
        if not block:
            return found
        data = tail + block
        base = offset - len(tail)
        start = 0
        while (hit := data.find(_SIGNATURE, start)) >= 0:
            found.append(base + hit)
            start = hit + 1
        tail = data[-(len(_SIGNATURE) - 1) :]
        offset += len(block)


def _check_collection(stream: IO[bytes], position: int, length: int, file: str) -> None:
    fmt = _LENGTH_FORMATS[length]
    stream.seek(position)
    header = stream.read(8 + length)
    if len(header) < 8 + length or header[4] != 1:
        return  # not a collection HDF5 would parse as one (version 1 is the only one)
    (size,) = struct.unpack_from(fmt, header, 8)
    end = position + size
    pointer = position + 8 + length
    object_header = 8 + length  # index (2), reference count (2), reserved (4), size (length)
    while pointer + object_header <= end:
        stream.seek(pointer)
        raw = stream.read(object_header)
        if len(raw) < object_header:
            return  # the collection runs past the end of the file: HDF5 refuses it when it reads it
        index = struct.unpack_from("<H", raw, 0)[0]
        (declared,) = struct.unpack_from(fmt, raw, 8)
        need = declared if index == 0 else object_header + ((declared + 7) // 8) * 8
        need %= 1 << 64  # HDF5 computes it in size_t
        if need == 0 or need > end - pointer:
            raise ConversionError(
                f"Damaged HDF5 global heap at byte {position}: object {index} at byte {pointer} declares size {declared}, "
                "which HDF5 would walk forever",
                code="convert-unreadable",
                file=file,
                pointer=f"global heap @{position}",
            )
        pointer += need
