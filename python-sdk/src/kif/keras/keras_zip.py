"""Reading a ``.keras`` zip without extracting it: checked members, bounded reads, a window for h5py.

Before any member is read, the members the converter needs are checked: a unique
name, a local header that agrees with the central directory (name, method), data
inside the archive, no encryption, STORED or DEFLATED, and a declared size within
``max_document_bytes`` (JSON) or ``max_weights_bytes`` (weights) and within what
deflate can produce from the compressed bytes (a ratio beyond 1032:1 is a lie).

``model.weights.h5`` is opened in place: Keras stores it STORED, so h5py reads a
window of the archive itself and nothing is extracted. A DEFLATED copy (a re-zipped
file) is inflated, bounded by its checked declared size, into an anonymous spooled
temporary file that the OS deletes however the process ends.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from kif import limits
from kif.keras.errors import ConversionError, too_large

_LOCAL = struct.Struct("<4s5H3L2H")
_DEFLATE_MAX_RATIO = 1032  # the most deflate expands: 258 bytes from 2 bits, rounded up
_SPOOL_BYTES = 64 * 1024**2
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError)


def _corrupt(message: str, file: str, member: str | None = None) -> ConversionError:
    return ConversionError(f"Corrupt .keras archive: {message}", code="convert-unreadable", file=file, pointer=member)


class Window(io.RawIOBase):
    """``length`` bytes of ``raw`` from ``start``, as a read-only seekable file (what h5py's fileobj driver needs)."""

    def __init__(self, raw: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self.raw, self.start, self.length, self.position = raw, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self.length - self.position))
        if count == 0:
            return 0
        self.raw.seek(self.start + self.position)
        got = self.raw.readinto(view[:count]) or 0
        self.position += got
        return got

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


class KerasZip:
    """The members of a ``.keras`` archive that the converter reads, checked before reading."""

    def __init__(self, path: Path) -> None:
        self.path, self.file = path, str(path)
        try:
            self.archive = zipfile.ZipFile(path)
            infos = self.archive.infolist()
        except _READ_ERRORS as exc:
            raise _corrupt(str(exc), self.file) from None
        self.size = path.stat().st_size
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in self.members:
                self.archive.close()
                raise _corrupt(f"two members are named {info.filename!r}", self.file, info.filename)
            self.members[info.filename] = info

    def close(self) -> None:
        self.archive.close()

    def _data_offset(self, info: zipfile.ZipInfo, budget: int, limit_name: str) -> int:
        """Check one member against its local header, the archive's size and the limit; return where its data starts."""
        name = info.filename
        if info.flag_bits & 0x1:
            raise _corrupt("the member is encrypted", self.file, name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt(f"expected STORED or DEFLATED. Received: compression method {info.compress_type}", self.file, name)
        try:
            with open(self.path, "rb") as raw:
                raw.seek(info.header_offset)
                fields = _LOCAL.unpack(raw.read(_LOCAL.size))
                local_name = raw.read(fields[9])
        except _READ_ERRORS as exc:
            raise _corrupt(f"unreadable local header ({exc})", self.file, name) from None
        if fields[0] != b"PK\x03\x04" or local_name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
            raise _corrupt("the local header disagrees with the central directory (name)", self.file, name)
        if fields[3] != info.compress_type:
            raise _corrupt("the local header disagrees with the central directory (method)", self.file, name)
        start = info.header_offset + _LOCAL.size + fields[9] + fields[10]
        if start + info.compress_size > self.size:
            raise _corrupt(
                f"the member's data ends past the end of the archive ({start + info.compress_size} > {self.size} bytes)", self.file, name
            )
        if info.file_size > budget:
            raise too_large(f"Archive member {name}", info.file_size, limit_name, budget, file=self.file, pointer=name)
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.file_size != info.compress_size) or info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO:
            raise ConversionError(
                f"Archive member {name} declares {info.file_size:,} bytes from {info.compress_size:,} compressed bytes, "
                "more than its method can produce (a zip bomb or a corrupt archive)",
                code="convert-unreadable",
                file=self.file,
                pointer=name,
            )
        return start

    def read_document(self, name: str) -> bytes | None:
        """A JSON member's bytes (None when absent), bounded by max_document_bytes."""
        info = self.members.get(name)
        if info is None:
            return None
        budget = limits.current().max_document_bytes
        self._data_offset(info, budget, "max_document_bytes")
        try:
            with self.archive.open(info) as stream:
                data = stream.read(budget + 1)
        except _READ_ERRORS as exc:
            raise _corrupt(str(exc), self.file, name) from None
        if len(data) > budget:
            raise too_large(f"Archive member {name}", len(data), "max_document_bytes", budget, file=self.file, pointer=name)
        return data

    def open_binary(self, name: str) -> IO[bytes]:
        """A seekable reader of a binary member: a window on the archive if STORED, else an inflated anonymous spool."""
        info = self.members[name]
        budget = limits.current().max_weights_bytes
        start = self._data_offset(info, budget, "max_weights_bytes")
        if info.compress_type == zipfile.ZIP_STORED:
            return io.BufferedReader(Window(open(self.path, "rb"), start, info.file_size), 1024 * 1024)
        if info.file_size > _SPOOL_BYTES and shutil.disk_usage(tempfile.gettempdir()).free < info.file_size:
            raise ConversionError(
                f"Archive member {name} is DEFLATED and inflates to {info.file_size:,} bytes, more than $TMPDIR has free",
                code="convert-too-large",
                file=self.file,
                pointer=name,
            )
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, prefix="kif-keras-")  # noqa: SIM115 (returned open; unnamed on disk)
        try:
            with self.archive.open(info) as src:  # stops at the declared size, checks the CRC at the end
                while chunk := src.read(1024 * 1024):
                    spool.write(chunk)
            spool.seek(0)
        except _READ_ERRORS as exc:
            spool.close()
            raise _corrupt(str(exc), self.file, name) from None
        except BaseException:
            spool.close()
            raise
        return spool  # type: ignore[return-value]
