"""The central directory of a ZIP archive, read without the ``zipfile`` module.

``zipfile`` imports ``pathlib``, ``shutil``, ``threading``, ``bz2``, ``lzma`` and ``importlib.util``: ~7 ms of a
fresh process's open in a plain virtual environment, for a reader that needs only the end record and the central
directory (benchmarks/results/open.md). This reads exactly what ``zipfile.ZipFile`` reads, with its rules
(APPNOTE 4.3.12-4.3.16; the archive's position after data prepended to it, the ZIP64 end record and extra field),
and is tested against it on generated and hostile archives (tests/test_zip_directory.py). Every read is bounded by
the archive's size, which the caller states; nothing is decompressed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from kif._lean import Frozen

_END = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator, 20 bytes
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record, 56 bytes
_END64_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header, 46 bytes
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
_UTF8_NAME = 0x800
_ALL_ONES_32 = 0xFFFFFFFF


class ZipFormatError(ValueError):
    """The archive cannot be read as a ZIP archive (the message says where it breaks)."""


class Entry(Frozen):
    """One central-directory record, with zipfile.ZipInfo's attribute names for the fields a reader checks."""

    __match_args__ = (
        "filename", "raw_name", "flag_bits", "compress_type", "CRC", "compress_size", "file_size", "header_offset",
        "extract_version", "external_attr",
    )  # fmt: skip
    __slots__ = __match_args__
    filename: str  # UTF-8 when flag bit 11 is set, else latin-1 (byte for byte); see container._shown_name
    raw_name: bytes
    flag_bits: int
    compress_type: int
    CRC: int
    compress_size: int
    file_size: int
    header_offset: int  # where the local header starts in the file (data prepended to the archive accounted for)
    extract_version: int
    external_attr: int

    def __init__(self, *values: object) -> None:
        self._assign(*values)


def _read_at(raw: BinaryIO, offset: int, length: int) -> bytes:
    raw.seek(offset)
    return raw.read(length)


def _end_record(raw: BinaryIO, size: int) -> tuple[list[int], int] | None:
    """The end record's fields and its offset, or None when the file is not a ZIP archive.

    As zipfile's ``_EndRecData``: the last 22 bytes when they are a record with no comment, else the last
    signature in the final 64 KiB + 22 bytes, which must be followed by a complete record."""
    if size < _END.size:
        return None
    tail = _read_at(raw, size - _END.size, _END.size)
    if len(tail) == _END.size and tail[:4] == _END_SIGNATURE and tail[-2:] == b"\0\0":
        return list(_END.unpack(tail)), size - _END.size
    window_start = max(size - _MAX_COMMENT - _END.size, 0)
    window = _read_at(raw, window_start, size - window_start)
    found = window.rfind(_END_SIGNATURE)
    if found < 0 or len(window) - found < _END.size:
        return None
    return list(_END.unpack_from(window, found)), window_start + found


def is_zip(raw: BinaryIO, size: int) -> bool:
    """True when the file holds an end-of-central-directory record where spec/bundle.md (and zipfile) look for it."""
    try:
        return _end_record(raw, size) is not None
    except (OSError, ValueError):
        return False


def _zip64_end(raw: BinaryIO, end_offset: int, fields: list[int]) -> bool:
    """Replace the end record's counts, size and offset by the ZIP64 record's when a locator precedes the record."""
    if end_offset < _LOCATOR.size:
        return False
    locator = _read_at(raw, end_offset - _LOCATOR.size, _LOCATOR.size)
    if len(locator) != _LOCATOR.size:
        return False
    signature, disk, _, disks = _LOCATOR.unpack(locator)
    if signature != _LOCATOR_SIGNATURE:
        return False
    if disk != 0 or disks > 1:
        raise ZipFormatError("zipfiles that span multiple disks are not supported")
    start = end_offset - _LOCATOR.size - _END64.size
    if start < 0:
        return False
    record = _read_at(raw, start, _END64.size)
    if len(record) != _END64.size:
        return False
    signature, _, _, _, disk_number, disk_start, this_disk, total, dir_size, dir_offset = _END64.unpack(record)
    if signature != _END64_SIGNATURE:
        return False
    fields[1:7] = [disk_number, disk_start, this_disk, total, dir_size, dir_offset]
    return True


def read_directory(raw: BinaryIO, size: int, max_entries: int) -> list[Entry]:
    """The archive's entries in central-directory order; past ``max_entries`` one more is read and the walk stops
    (the caller refuses the archive: a directory of millions of records is not walked).

    ``size`` is the archive's length; raises ZipFormatError when the file is not a ZIP archive or its central
    directory, ZIP64 records or extra fields are unreadable."""
    found = _end_record(raw, size)
    if found is None:
        raise ZipFormatError("File is not a zip file")
    fields, end_offset = found
    dir_size, dir_offset = fields[5], fields[6]
    # Data prepended to the archive (a self-extractor stub) moves every offset by the same amount, as zipfile reads it.
    shift = end_offset - dir_size - dir_offset
    if _zip64_end(raw, end_offset, fields):
        dir_size, dir_offset = fields[5], fields[6]
        shift = end_offset - dir_size - dir_offset - _END64.size - _LOCATOR.size
    start = dir_offset + shift
    if start < 0:
        raise ZipFormatError("Bad offset for central directory")
    directory = _read_at(raw, start, min(dir_size, size))  # a declared size past the end reads what is there
    entries: list[Entry] = []
    position = 0
    while position < dir_size and len(entries) <= max_entries:
        if len(directory) - position < _CENTRAL.size:
            raise ZipFormatError("Truncated central directory")
        header = _CENTRAL.unpack_from(directory, position)
        if header[0] != _CENTRAL_SIGNATURE:
            raise ZipFormatError("Bad magic number for central directory")
        name_length, extra_length, comment_length = header[12:15]
        body = position + _CENTRAL.size
        raw_name = directory[body : body + name_length]
        extra = directory[body + name_length : body + name_length + extra_length]
        position = body + name_length + extra_length + comment_length
        entries.append(_entry(header, raw_name, extra, shift))
    return entries


def _entry(header: tuple[int | bytes, ...], raw_name: bytes, extra: bytes, shift: int) -> Entry:
    flags = int(header[5])
    filename = raw_name.decode("utf-8") if flags & _UTF8_NAME else raw_name.decode("latin-1")
    crc, compressed, file_size = int(header[9]), int(header[10]), int(header[11])
    offset = int(header[18])
    file_size, compressed, offset = _zip64_extra(extra, file_size, compressed, offset)
    return Entry(filename, raw_name, flags, int(header[6]), crc, compressed, file_size, offset + shift, int(header[3]), int(header[17]))


def _zip64_extra(extra: bytes, file_size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit values of a ZIP64 extra field (id 1) for the fields set to all ones, in APPNOTE's order."""
    position = 0
    while len(extra) - position >= 4:
        kind, length = struct.unpack_from("<2H", extra, position)
        if position + 4 + length > len(extra):
            raise ZipFormatError(f"Corrupt extra field {kind:04x} (size={length})")
        if kind == 1:
            body = extra[position + 4 : position + 4 + length]
            values = iter([v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])])
            file_size = _wide(file_size, values, "File size")
            compressed = _wide(compressed, values, "Compress size")
            offset = _wide(offset, values, "Header offset")
        position += 4 + length
    return file_size, compressed, offset


def _wide(value: int, values: Iterator[int], field: str) -> int:
    if value != _ALL_ONES_32:
        return value
    try:
        return next(values)
    except StopIteration:
        raise ZipFormatError(f"Corrupt zip64 extra field. {field} not found.") from None
