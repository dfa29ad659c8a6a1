"""A STORED ZIP writer that takes each member's CRC-32 from the caller.

``zipfile`` computes the CRC-32 inside ``write``, on the thread that writes, so an archive save
cost the write plus a CRC pass (~0.3 s per GiB here) that the directory form does not pay. This
writer lays out exactly the bytes ``zipfile.ZipFile(f, "w", ZIP_STORED, allowZip64=True)`` writes
for the same members (tests/test_stored_zip.py compares them byte for byte), but the CRC of a
member is handed in when the member ends, so it can be computed on another core while the data is
written (kif.bundle.crc.Crc32Writer). Like zipfile on a seekable file, each local
header is written first and rewritten with the CRC and size once the member's data is out.

Hand-written because no maintained library offers "STORED member with a precomputed CRC";
it supports only what KIF archives use (STORED, no comments, no data descriptors).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

ZIP64_LIMIT = (1 << 31) - 1  # zipfile.ZIP64_LIMIT: beyond it sizes and offsets move to ZIP64 fields
_FILECOUNT_LIMIT = (1 << 16) - 1
_VERSION, _ZIP64_VERSION = 20, 45
_UNIX = 3  # create_system zipfile writes on POSIX
_UTF8_NAME = 0x800
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")


@dataclass
class _Member:
    name: bytes
    flags: int
    extra: bytes  # the caller's extra field (zipfile's ZipInfo.extra); a ZIP64 field is added where needed
    offset: int
    zip64: bool  # the local header carries a ZIP64 field (decided when the member starts, as zipfile does)
    size: int = 0
    crc: int = 0


def _dos(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    return h << 11 | mi << 5 | s // 2, (y - 1980) << 9 | mo << 5 | d


class StoredZipWriter:
    """Members one after another: ``start(name, extra, zip64)``, write the data to ``raw``, ``finish(size, crc)``;
    then ``close()`` writes the central directory. ``raw`` must be seekable and positioned at 0."""

    def __init__(self, raw: BinaryIO, date_time: tuple[int, int, int, int, int, int], external_attr: int) -> None:
        self.raw = raw
        self.time, self.date = _dos(date_time)
        self.external_attr = external_attr
        self.members: list[_Member] = []
        self.open: _Member | None = None

    def start(self, name: str, extra: bytes = b"", zip64: bool = False) -> None:
        if self.open is not None:
            raise RuntimeError("the previous member is not finished")
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), _UTF8_NAME
        self.open = _Member(encoded, flags, extra, self.raw.tell(), zip64)
        self.raw.write(self._local_header(self.open))

    def finish(self, size: int, crc: int) -> None:
        member, self.open = self.open, None
        if member is None:
            raise RuntimeError("no member is open")
        if size > ZIP64_LIMIT and not member.zip64:
            raise ValueError(f"member {member.name!r} is {size} bytes: it needed zip64=True when it started")
        member.size, member.crc = size, crc
        end = self.raw.tell()
        self.raw.seek(member.offset)
        self.raw.write(self._local_header(member))  # same length: the ZIP64 decision was made at start
        self.raw.seek(end)
        self.members.append(member)

    def write_member(self, name: str, data: bytes, crc: int, extra: bytes = b"") -> None:
        self.start(name, extra, zip64=len(data) * 1.05 > ZIP64_LIMIT)  # zipfile.writestr's rule
        self.raw.write(data)
        self.finish(len(data), crc)

    def close(self) -> None:
        if self.open is not None:
            raise RuntimeError("a member is not finished")
        start = self.raw.tell()
        for m in self.members:
            self.raw.write(self._central_header(m))
        end = self.raw.tell()
        count, size, offset = len(self.members), end - start, start
        if count > _FILECOUNT_LIMIT or offset > ZIP64_LIMIT or size > ZIP64_LIMIT:
            self.raw.write(_END64.pack(b"PK\x06\x06", 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0, count, count, size, offset))
            self.raw.write(_LOCATOR64.pack(b"PK\x06\x07", 0, end, 1))
            count, size, offset = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(offset, 0xFFFFFFFF)
        self.raw.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0))

    def _local_header(self, m: _Member) -> bytes:
        extra, size, version = m.extra, m.size, _VERSION
        if m.zip64:
            extra = extra + struct.pack("<HHQQ", 1, 16, m.size, m.size)
            size = 0xFFFFFFFF  # zipfile: a local ZIP64 field always carries the sizes
            version = _ZIP64_VERSION
        fields = (b"PK\x03\x04", version, 0, m.flags, 0, self.time, self.date, m.crc, size, size, len(m.name), len(extra))
        return _LOCAL.pack(*fields) + m.name + extra

    def _central_header(self, m: _Member) -> bytes:
        wide: list[int] = []
        size, offset = m.size, m.offset
        if m.size > ZIP64_LIMIT:
            wide += [m.size, m.size]
            size = 0xFFFFFFFF
        if m.offset > ZIP64_LIMIT:
            wide.append(m.offset)
            offset = 0xFFFFFFFF
        extra = m.extra
        version = _ZIP64_VERSION if wide or m.zip64 else _VERSION  # zipfile keeps the version the local header raised
        if wide:
            extra = struct.pack("<HH" + "Q" * len(wide), 1, 8 * len(wide), *wide) + extra
        fields = (
            b"PK\x01\x02", version, _UNIX, version, 0, m.flags, 0, self.time, self.date, m.crc, size, size,
            len(m.name), len(extra), 0, 0, 0, self.external_attr, offset,
        )  # fmt: skip
        return _CENTRAL.pack(*fields) + m.name + extra
