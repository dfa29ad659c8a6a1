"""kif.bundle.zip_directory reads what zipfile reads: the oracle is the standard library's ``zipfile.ZipFile`` on the same
bytes, for archives zipfile writes (ZIP64 forced or not, comments, data prepended) and for those bytes mutated at
random. Either both refuse the archive, or both list the same members with the same fields."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kif.bundle.zip_directory import ZipFormatError, is_zip, read_directory

FIELDS = ("flag_bits", "compress_type", "CRC", "compress_size", "file_size", "header_offset", "extract_version", "external_attr")

names = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\\"), min_size=1, max_size=12)
members = st.lists(st.tuples(names, st.binary(max_size=64)), min_size=0, max_size=5, unique_by=lambda m: m[0])


def _archive(entries: list[tuple[str, bytes]], zip64: bool, comment: bytes, prefix: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            with archive.open(name, "w", force_zip64=zip64) as stream:
                stream.write(data)
        archive.comment = comment
    return prefix + buffer.getvalue()


class _File(io.BytesIO):
    """Bytes that seek as a file on disk does: before the start is an error (BytesIO would stop at 0, and zipfile
    then reads a ZIP64 locator out of the first bytes of an archive shorter than one, which it cannot on a file)."""

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.tell(), 2: len(self.getbuffer())}[whence]
        if base + offset < 0:
            raise OSError(22, "Invalid argument")
        return super().seek(offset, whence)


def _oracle(data: bytes) -> list[tuple[object, ...]] | None:
    """zipfile's reading: None when it refuses the archive."""
    try:
        with zipfile.ZipFile(_File(data), metadata_encoding="latin-1") as archive:
            return [(i.filename, *(getattr(i, f) for f in FIELDS)) for i in archive.infolist()]
    except (zipfile.BadZipFile, ValueError, struct.error, EOFError, OSError):
        return None
    except NotImplementedError:  # zipfile refuses a version above 6.3; the container reports it per member instead
        return ["version"]  # type: ignore[list-item]


def _ours(data: bytes) -> list[tuple[object, ...]] | None:
    try:
        entries = read_directory(io.BytesIO(data), len(data), 10_000)
    except (ZipFormatError, ValueError, struct.error):
        return None
    if any(e.extract_version > 63 for e in entries):
        return ["version"]  # type: ignore[list-item]
    # zipfile cuts a name at its first NUL (the container refuses such a name as unsafe instead)
    return [(e.filename.split("\0")[0], *(getattr(e, f) for f in FIELDS)) for e in entries]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members, st.booleans(), st.binary(max_size=40), st.binary(max_size=30))
def test_archives_zipfile_writes_read_the_same(entries: list[tuple[str, bytes]], zip64: bool, comment: bytes, prefix: bytes) -> None:
    data = _archive(entries, zip64, comment, prefix)  # a prefix may itself hold a record signature: compared as well
    assert _ours(data) == _oracle(data)
    assert is_zip(io.BytesIO(data), len(data)) is zipfile.is_zipfile(_File(data))  # a comment may hold "PK\x05\x06"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members, st.booleans(), st.data())
def test_mutated_archives_are_refused_or_read_as_zipfile_reads_them(
    entries: list[tuple[str, bytes]], zip64: bool, data: st.DataObject
) -> None:
    raw = bytearray(_archive(entries, zip64, b"", b""))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw) - 1))
        raw[where] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    mutated = bytes(raw)
    expected = _oracle(mutated)
    if expected == ["version"]:  # zipfile stops at the version; the same archive may fail a later check of ours
        assert _ours(mutated) in (None, ["version"])
    else:
        assert _ours(mutated) == expected
    assert is_zip(io.BytesIO(mutated), len(mutated)) is zipfile.is_zipfile(_File(mutated))


@pytest.mark.parametrize("data", [b"", b"PK", b"PK\x05\x06", b"PK\x05\x06" + b"\0" * 17, b"x" * 70_000])
def test_files_that_are_not_archives(data: bytes) -> None:
    assert not is_zip(io.BytesIO(data), len(data))
    with pytest.raises(ZipFormatError, match="not a zip file"):
        read_directory(io.BytesIO(data), len(data), 10)


def test_the_walk_stops_one_entry_past_the_limit() -> None:
    """A directory of millions of records is not walked: one past the limit is enough to refuse the archive."""
    data = _archive([(f"m{i}", b"") for i in range(30)], False, b"", b"")
    entries = read_directory(io.BytesIO(data), len(data), 7)
    assert [e.filename for e in entries] == [f"m{i}" for i in range(8)]
    broken = bytearray(data)
    twentieth = [i for i in range(len(data)) if data.startswith(b"PK\x01\x02", i)][19]
    broken[twentieth] = ord("X")  # a record the walk does not reach with the limit at 7
    assert len(read_directory(io.BytesIO(bytes(broken)), len(broken), 7)) == 8
    with pytest.raises(ZipFormatError, match="Bad magic number"):
        read_directory(io.BytesIO(bytes(broken)), len(broken), 30)


def test_a_directory_declared_past_the_end_reads_only_the_file() -> None:
    """The central directory's size comes from the file: a lie is read as far as the file goes, then refused."""
    data = bytearray(_archive([("a", b"1")], False, b"", b""))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<L", data, end + 12, 0x7FFFFFFF)  # directory size
    struct.pack_into("<L", data, end + 16, 0)
    assert _oracle(bytes(data)) is None
    with pytest.raises(ZipFormatError):
        read_directory(io.BytesIO(bytes(data)), len(data), 10)


def test_an_archive_with_data_prepended_keeps_its_members_offsets() -> None:
    plain = _archive([("a", b"hello")], False, b"", b"")
    entries = read_directory(io.BytesIO(b"#!stub\n" + plain), len(plain) + 7, 10)
    (entry,) = entries
    assert (b"#!stub\n" + plain)[entry.header_offset : entry.header_offset + 4] == b"PK\x03\x04"


def _with_zip64_end(plain: bytes, disks: int) -> bytes:
    """``plain`` with a ZIP64 end record and locator inserted before its end record (what a >4 GiB writer adds)."""
    end = plain.rfind(b"PK\x05\x06")
    count, dir_size, dir_offset = struct.unpack_from("<H2L", plain, end + 10)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, dir_size, dir_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, disks)
    return plain[:end] + record + locator + plain[end:]


def test_a_zip64_end_record_is_read_as_zipfile_reads_it() -> None:
    data = _with_zip64_end(_archive([("a", b"x"), ("b", b"yz")], False, b"", b""), disks=1)
    assert _ours(data) == _oracle(data) is not None
    assert [e.filename for e in read_directory(io.BytesIO(data), len(data), 10)] == ["a", "b"]


def test_a_multi_disk_zip64_locator_is_refused() -> None:
    data = _with_zip64_end(_archive([("a", b"x")], False, b"", b""), disks=2)
    assert _oracle(data) is None
    with pytest.raises(ZipFormatError, match="span multiple disks"):
        read_directory(io.BytesIO(bytes(data)), len(data), 10)
