"""A bundle's container: a directory or a STORED ZIP archive, opened safely.

Opening reads only directory listings or the ZIP central directory and local
headers. Every safety rule broken becomes a finding, and the offending member is
left out of ``members``, so nothing unsafe can be read later by mistake.
"""

from __future__ import annotations

import itertools
import os
import stat
import struct
import sys
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from kif._lean import Frozen, Record
from kif.bundle.zip_directory import Entry, ZipFormatError, is_zip, read_directory
from kif.errors import BundleError
from kif.validate.report import Finding

if TYPE_CHECKING:  # mmap is imported when a tensor is first read, not by the open
    import mmap
    from pathlib import PurePath

# A local bundle's paths are strings (no pathlib on the open path: with what it imports, ~6 ms of a fresh process in
# a plain virtual environment); a remote one's are PurePosixPath labels (kif.bundle.remote).
FilePath: TypeAlias = "str | PurePath"

DOCUMENT = "model.json"
MAX_MEMBERS = 4096
MAX_EXTRACT_VERSION = 45  # 4.5: STORED and ZIP64; later versions add compression, encryption or patching
# A safe name is [A-Za-z0-9_][A-Za-z0-9_.-]*, checked without a regex (one less compile per fresh process):
# stripping the allowed characters leaves nothing, and the first one is not "." or "-".
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = "".join(sorted(_NAME_FIRST)) + ".-"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"


def safe_name(name: str) -> bool:
    """A member name at the archive root: no separator, no "..", not starting with "." or "-", ASCII only."""
    return name[:1] in _NAME_FIRST and not name.strip(_NAME_CHARS)


class Member(Frozen):
    __match_args__ = ("name", "path", "offset", "size", "source")
    __slots__ = __match_args__
    name: str
    path: FilePath  # the file on disk that holds the member's bytes
    offset: int  # where the member's bytes start in that file
    size: int
    source: Any  # a remote.RangeReader for a bundle read from a URL; None on disk

    def __init__(self, name: str, path: FilePath, offset: int, size: int, source: Any = None) -> None:
        self._assign(name, path, offset, size, source)


class Container(Record):
    __match_args__ = ("path", "is_archive", "members", "findings", "_maps", "url", "source")
    __slots__ = __match_args__

    def __init__(
        self,
        path: FilePath,
        is_archive: bool,
        members: dict[str, Member] | None = None,
        findings: list[Finding] | None = None,
        _maps: dict[FilePath, mmap.mmap] | None = None,
        url: str | None = None,  # set when read from an fsspec URL (kif.bundle.remote)
        source: Any = None,  # the archive's remote.RangeReader, for a remote archive
    ) -> None:
        self.path = path
        self.is_archive = is_archive
        self.members: dict[str, Member] = {} if members is None else members
        self.findings: list[Finding] = [] if findings is None else findings
        self._maps: dict[FilePath, mmap.mmap] = {} if _maps is None else _maps
        self.url = url
        self.source = source

    @property
    def label(self) -> str:
        return self.url if self.url is not None else str(self.path)

    def member_label(self, name: str) -> str:
        if self.url is not None:
            return f"{self.url}!{name}" if self.is_archive else f"{self.url}/{name}"
        return f"{self.path}!{name}" if self.is_archive else os.path.join(self.path, name)

    def read(self, name: str, start: int = 0, length: int | None = None) -> bytes:
        """Read ``length`` bytes of a member from ``start`` (the rest of it if None)."""
        member = self.members[name]
        end = member.size if length is None else min(member.size, start + length)
        if member.source is not None:
            return bytes(member.source.read(member.offset + start, max(0, end - start)))
        with open(member.path, "rb") as stream:
            stream.seek(member.offset + start)
            return stream.read(max(0, end - start))

    def view(self, name: str) -> memoryview:
        """A read-only memory map of a member's bytes (no data is read until touched).

        For a remote member: a ``remote.RemoteSpan`` whose slices are ranged reads (``len`` and slicing only).
        """
        member = self.members[name]
        if member.source is not None:
            from kif.bundle.remote import RemoteSpan

            return RemoteSpan(member.source, member.offset, member.size)  # type: ignore[return-value]
        if member.size == 0:
            return memoryview(b"")
        mapped = self._maps.get(member.path)
        if mapped is None:
            import mmap

            with open(member.path, "rb") as stream:
                mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
            self._maps[member.path] = mapped
        return memoryview(mapped)[member.offset : member.offset + member.size]

    def span(self, name: str, start: int, length: int) -> memoryview | bytes:
        """A member's bytes ``[start, start + length)`` as a buffer: a slice of the memory map, or one ranged read."""
        if self.members[name].source is not None:
            return self.read(name, start, length)
        return self.view(name)[start : start + length]

    def prefetch(self, name: str, start: int, length: int) -> None:
        """Fault a mapped span in with one call before it is read whole (hashing it), not one fault per page.

        Linux's MADV_POPULATE_READ (5.14+); elsewhere, or where the kernel refuses it, the pages fault in as read.
        """
        member = self.members[name]
        mapped = self._maps.get(member.path)
        if mapped is None or length < _PREFETCH_MIN or not _LINUX:
            return
        begin = member.offset + start
        aligned = begin - begin % _PAGE
        try:
            mapped.madvise(_MADV_POPULATE_READ, aligned, begin + length - aligned)
        except (OSError, ValueError, OverflowError):
            return  # an old kernel (EINVAL) or a span the map no longer covers: reading still works, page by page

    def add(self, code: str, message: str, member: str | None = None) -> None:
        file = self.member_label(member) if member else self.label
        self.findings.append(Finding(code, message, file))


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PREFETCH_MIN = 1 << 20  # below a MiB the faults cost less than the call
_MADV_POPULATE_READ = 22  # <linux/mman.h>; Python's mmap module names it only when built against new headers
_LINUX = sys.platform.startswith("linux")  # the advice number means something else (or nothing) elsewhere


def open_container(path: str | os.PathLike[str]) -> Container:
    """Open a bundle directory or archive, or an fsspec URL of one; raise BundleError if it is neither."""
    if isinstance(path, str) and "://" in path:  # only a URL pays for importing the remote reader
        from kif.bundle import remote

        if remote.is_url(path):
            return remote.open_remote(path)
    path = _display(path)
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        message = "Expected a bundle directory or .kif archive. The path does not exist"
        raise BundleError(message, code="bundle-not-found", file=path) from None
    if stat.S_ISDIR(info.st_mode):
        return _open_directory(path)
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device: reading it could block or never end
        raise BundleError(
            "Expected a bundle directory or a ZIP (.kif) archive. Received: a special file (FIFO, device or socket)",
            code="bundle-unreadable",
            file=path,
        )
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if is_zip(raw, size):
                container = Container(path, is_archive=True)
                scan_archive(container, raw, size)
                return container
    except OSError as exc:
        raise BundleError(f"Expected a readable file. {exc.strerror}", code="bundle-unreadable", file=path) from None
    raise BundleError(
        "Expected a bundle directory or a ZIP (.kif) archive. Received: a file that is neither",
        code="bundle-unreadable",
        file=path,
    )


def _display(path: str | os.PathLike[str]) -> str:
    """The path as a string, shown as pathlib shows it (no trailing separator, no leading "./")."""
    text = os.fsdecode(path)
    while len(text) > 1 and text.endswith(os.sep):
        text = text[:-1]
    while text.startswith("." + os.sep) and len(text) > 2:
        text = text[2:].lstrip(os.sep) or "."
    return text


def _open_directory(path: str) -> Container:
    container = Container(path, is_archive=False)
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_symlink():
            container.add("bundle-symlink", "Expected regular files. Received: a symbolic link", entry.name)
        elif entry.is_file():
            container.members[entry.name] = Member(entry.name, entry.path, 0, entry.stat().st_size)
        else:
            container.add("bundle-unlisted-file", "A directory inside a bundle is not part of it", entry.name)
    return container


def scan_archive(container: Container, raw: BinaryIO, archive_size: int) -> None:
    """Fill ``container.members`` from the archive readable through ``raw`` (a local file, or a remote RangeFile)."""
    try:
        infos = read_directory(raw, archive_size, MAX_MEMBERS)
        if len(infos) > MAX_MEMBERS:
            message = f"Expected at most {MAX_MEMBERS} members. Received: more (the central directory is read no further)"
            container.add("archive-too-many-members", message)
            return
        spans: list[tuple[int, int, str]] = []
        for info in infos:
            member = _check_member(container, info, raw, archive_size, spans)
            if member is not None:
                container.members[member.name] = member
        _check_overlaps(container, spans)
    except (ZipFormatError, OSError, struct.error, ValueError) as exc:
        raise BundleError(f"Expected a readable ZIP archive. {exc}", code="archive-corrupt", file=container.label) from None


def _check_member(container: Container, info: Entry, raw, archive_size: int, spans) -> Member | None:
    name = info.filename
    if not safe_name(name):
        container.add(
            "archive-unsafe-path",
            f"Expected a member name at the archive root without '/', '\\\\' or '..'. Received: name={_shown_name(info)!r}",
        )
        return None
    if name in container.members or any(s[2] == name for s in spans):
        container.add("archive-duplicate-member", f"Member {name!r} appears more than once", name)
        container.members.pop(name, None)
        return None
    if info.extract_version > MAX_EXTRACT_VERSION:  # the low byte of "version needed to extract"
        container.add("archive-corrupt", f"Member needs ZIP version {info.extract_version / 10:.1f} to extract; at most 4.5 is read", name)
        return None
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        container.add("bundle-symlink", "Expected regular files. Received: a symbolic link", name)
        return None
    if info.flag_bits & 0x1:
        container.add("archive-encrypted-member", "Expected unencrypted members", name)
        return None
    if info.file_size > archive_size or info.compress_size > archive_size:
        container.add(
            "archive-bomb",
            f"Declared size {info.file_size} exceeds the archive's own size {archive_size}",
            name,
        )
        return None
    if info.compress_type != 0:  # STORED
        container.add(
            "archive-compressed-member",
            f"Expected STORED members so tensors can be memory-mapped. Received: compress_type={info.compress_type}",
            name,
        )
        return None
    raw.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    local_name = raw.read(fields[10])
    disagreement = _local_disagreement(info, fields, local_name, raw.read(fields[11]))
    if disagreement is not None:
        container.add("archive-corrupt", f"Local header does not match the central directory: {disagreement}", name)
        return None
    offset = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11]
    if offset + info.file_size > archive_size:
        container.add("archive-bomb", "Member data runs past the end of the archive", name)
        return None
    spans.append((info.header_offset, offset + info.file_size, name))
    return Member(name, container.path, offset, info.file_size, source=container.source)


def _shown_name(info: Entry) -> str:
    """The member's name as zipfile decodes it by default: UTF-8 when flagged (bit 11), else cp437."""
    return info.filename if info.flag_bits & 0x800 else info.filename.encode("latin-1").decode("cp437")


def _local_disagreement(info: Entry, fields: tuple, local_name: bytes, extra: bytes) -> str | None:
    """What the local header says differently from the central directory (two readers must see one archive)."""
    if fields[0] != _LOCAL_SIGNATURE:
        return "no local header signature at the member's offset"
    if local_name != info.raw_name:
        return f"name {local_name!r}"
    if fields[3] != info.flag_bits:
        return f"flags {fields[3]:#06x}, central {info.flag_bits:#06x}"
    if fields[4] != info.compress_type:
        return f"compression method {fields[4]}, central {info.compress_type}"
    crc, compressed, size = fields[7], fields[8], fields[9]
    if compressed == 0xFFFFFFFF or size == 0xFFFFFFFF:
        size, compressed = _zip64_sizes(extra, size, compressed)
    if info.flag_bits & 0x8 and crc == compressed == size == 0:
        return None  # sizes deferred to a data descriptor: the central directory alone has them
    if (crc, compressed, size) != (info.CRC, info.compress_size, info.file_size):
        return f"crc/compressed/size {crc}/{compressed}/{size}, central {info.CRC}/{info.compress_size}/{info.file_size}"
    return None


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    """The 64-bit sizes of a local zip64 extra field (id 1), in the order the 0xFFFFFFFF fields appear."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if kind == 1:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        position += 4 + length
    return size, compressed


def _check_overlaps(container: Container, spans: list[tuple[int, int, str]]) -> None:
    """Overlapping members are how a STORED archive multiplies its size (a 'zip bomb')."""
    spans.sort()
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            container.add("archive-bomb", f"Member data overlaps member {name!r}", other)  # the later member is blamed
            container.members.pop(name, None)
            container.members.pop(other, None)
