"""Strict safetensors header parsing (the writer: :mod:`kif.bundle.safetensors_write`).

KIF reads safetensors itself instead of through the ``safetensors`` package so
that it can (a) read tensors straight out of a STORED zip member by offset and
(b) report each header rule broken with its own finding code. The rules are the
format's: an 8-byte little-endian header length, a UTF-8 JSON header, and data
offsets that cover the data section exactly, in order, without gaps or overlap.
"""

from __future__ import annotations

import math
import struct
from typing import BinaryIO

from kif import dtypes, limits, sizes, strict_json
from kif._lean import Frozen
from kif.errors import WeightsError
from kif.validate.report import pointer

MAX_HEADER_BYTES = limits.Limits().max_header_bytes  # the default, as the reference safetensors reader applies


class TensorEntry(Frozen):
    __match_args__ = ("name", "dtype", "shape", "begin", "end")
    __slots__ = __match_args__
    name: str
    dtype: dtypes.DType
    shape: tuple[int, ...]
    begin: int  # offset in the data section
    end: int

    def __init__(self, name: str, dtype: dtypes.DType, shape: tuple[int, ...], begin: int, end: int) -> None:
        self._assign(name, dtype, shape, begin, end)

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class Header(Frozen):
    __match_args__ = ("tensors", "metadata", "data_start", "total_size")
    __slots__ = __match_args__
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]
    data_start: int  # offset of the data section from the start of the file
    total_size: int  # size of the whole safetensors file

    def __init__(self, tensors: dict[str, TensorEntry], metadata: dict[str, str], data_start: int, total_size: int) -> None:
        self._assign(tensors, metadata, data_start, total_size)


def _fail(code: str, message: str, file: str, *where: str) -> WeightsError:
    """``where``: the path in the header JSON (tensor name, key), reported as a JSON pointer into that file's header."""
    return WeightsError(message, code=code, file=file, pointer=pointer(*where) if where else None)


def header_limit() -> int:
    return limits.current().max_header_bytes


def parse_header(prefix: bytes, total_size: int, file: str) -> Header:
    """Parse and check a header from the first bytes of a safetensors file.

    ``prefix`` must hold at least the 8 length bytes and the header itself;
    ``total_size`` is the size of the whole file (or zip member).
    """
    if total_size < 8 or len(prefix) < 8:
        raise _fail("weights-truncated", f"Expected at least 8 bytes. Received: size={total_size}", file)
    (header_len,) = struct.unpack("<Q", prefix[:8])
    if header_len > header_limit():
        raise _fail(
            "weights-header-too-large",
            f"Expected a header of at most {header_limit()} bytes (the max_header_bytes limit). Received: header_len={header_len}",
            file,
        )
    if 8 + header_len > total_size:
        raise _fail(
            "weights-header-invalid",
            f"Header length {header_len} runs past the end of the file (size={total_size})",
            file,
        )
    raw = prefix[8 : 8 + header_len]
    if len(raw) < header_len:
        raise _fail("weights-truncated", "File ends inside the header", file)
    try:
        header = strict_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail("weights-header-invalid", f"Expected a UTF-8 JSON header. {exc}", file) from None
    if not isinstance(header, dict):
        raise _fail("weights-header-invalid", "Expected the header to be a JSON object", file)
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _fail("weights-header-invalid", "Expected __metadata__ to map strings to strings", file)
    data_start = 8 + header_len
    entries = [_parse_entry(name, info, file) for name, info in header.items()]
    _check_offsets(entries, total_size - data_start, file)
    return Header({e.name: e for e in entries}, dict(metadata), data_start, total_size)


def _parse_entry(name: str, info: object, file: str) -> TensorEntry:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise _fail(
            "weights-header-invalid",
            "Expected exactly the keys dtype, shape and data_offsets",
            file,
            name,
        )
    dtype = dtypes.BY_SAFETENSORS.get(info["dtype"]) if isinstance(info["dtype"], str) else None
    if dtype is None:
        raise _fail("weights-header-invalid", f"Unsupported dtype {info['dtype']!r}", file, name, "dtype")
    shape, offsets = info["shape"], info["data_offsets"]
    if not (isinstance(shape, list) and all(_is_uint(d) for d in shape)):
        raise _fail(
            "weights-header-invalid", f"Expected a list of non-negative integers as shape. Received: {shape!r}", file, name, "shape"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_uint(o) for o in offsets)):
        raise _fail("weights-header-invalid", f"Expected data_offsets [begin, end]. Received: {offsets!r}", file, name, "data_offsets")
    problem = sizes.shape_problem(shape)
    if problem is not None:
        raise _fail("weights-header-invalid", f"Expected a shape within the format's bounds: {problem}", file, name, "shape")
    begin, end = offsets
    expected = math.prod(shape) * dtype.itemsize
    if end < begin or end - begin != expected:
        raise _fail(
            "weights-offsets-invalid",
            f"Expected {expected} bytes for shape {shape} {dtype.name}. Received: data_offsets={offsets}",
            file,
            name,
            "data_offsets",
        )
    return TensorEntry(name, dtype, tuple(shape), begin, end)


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_offsets(entries: list[TensorEntry], data_size: int, file: str) -> None:
    position = 0
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        if entry.begin != position:
            kind = "overlaps the previous tensor" if entry.begin < position else "leaves a gap"
            raise _fail(
                "weights-offsets-invalid",
                f"Expected data to start at byte {position}; tensor {kind} (data_offsets begin={entry.begin})",
                file,
                entry.name,
                "data_offsets",
            )
        position = entry.end
    if position > data_size:
        raise _fail(
            "weights-truncated",
            f"Expected a data section of {position} bytes. Received: {data_size} bytes",
            file,
        )
    if position < data_size:
        raise _fail(
            "weights-offsets-invalid",
            f"Data section has {data_size - position} trailing bytes no tensor covers",
            file,
        )


def read_header(stream: BinaryIO, total_size: int, file: str) -> Header:
    """Read only the header bytes from ``stream`` (positioned at the file start)."""
    prefix = stream.read(8)
    if len(prefix) == 8:
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len <= header_limit() and 8 + header_len <= total_size:
            prefix += stream.read(header_len)
    return parse_header(prefix, total_size, file)


_WRITER = frozenset({"plan_header", "file_size", "Digests", "write", "MAPPED_AHEAD"})


def __getattr__(name: str) -> object:
    """The writer's names, from :mod:`kif.bundle.safetensors_write`, imported when a writer first asks for them
    (``safetensors_io.write``): an open never loads the writer."""
    if name in _WRITER:
        from kif.bundle import safetensors_write

        return getattr(safetensors_write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
