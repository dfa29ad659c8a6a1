"""The HDF5 global-heap pre-scan finds the same collections on each of its three paths (memmem on a thread, mmap.find,
chunked reads of a stream) and refuses a collection whose object walk HDF5 would never finish, wherever it lies."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest

from kif.keras import h5heap, h5safe
from kif.keras.errors import ConversionError

_CHUNK = 1 << 20  # h5heap's read size on the stream path: signatures straddling it must still be found


def _collection(size: int = 4096, object_size: int = 0) -> bytes:
    """A version-1 collection (8-byte lengths) whose first object is a free-space object of ``object_size`` bytes."""
    head = b"GCOL" + bytes([1, 0, 0, 0]) + struct.pack("<Q", size)
    first = struct.pack("<HHI", 0, 0, 0) + struct.pack("<Q", object_size)
    return (head + first).ljust(size, b"\0")


def _layout() -> tuple[bytes, list[int]]:
    """Bytes with signatures at the start, across the chunk boundary, overlapping, at the very end; and decoys."""
    data = bytearray(3 * _CHUNK)
    places = [0, _CHUNK - 2, _CHUNK + 100, 2 * _CHUNK + 7, len(data) - 5]
    for at in places:
        data[at : at + 5] = b"GCOL\x01"
    data[_CHUNK + 95 : _CHUNK + 100] = b"GCOLG"  # "GCOLGCOL\x01": only the second is a signature
    data[500:505] = b"GCOL\x02"  # a version HDF5 refuses before walking: not a collection
    data[600:604] = b"GCO\x01"
    return bytes(data), places


@pytest.fixture(params=["memmem", "mmap.find", "stream"])
def scan_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "memmem" and h5heap._memmem() is None:
        pytest.fail("libc memmem is expected on this platform")
    if request.param == "mmap.find":
        monkeypatch.setattr(h5heap, "_memmem", lambda: None)
    return str(request.param)


def _opened(data: bytes, tmp_path: Path, how: str) -> io.BufferedReader | io.BytesIO:
    if how == "stream":
        return io.BytesIO(data)  # no file descriptor: chunked reads
    path = tmp_path / "f.h5"
    path.write_bytes(data)
    return open(path, "rb")  # closed by the caller


def test_every_path_finds_the_same_signatures(scan_path: str, tmp_path: Path) -> None:
    data, places = _layout()
    with _opened(data, tmp_path, scan_path) as stream:
        assert h5heap._signatures(stream)() == places
    expected = [m.start() for m in re.finditer(b"(?=GCOL\x01)", data)]  # the oracle: a regular expression search
    assert places == expected


@pytest.mark.parametrize("where", [4096, _CHUNK - 3, 2 * _CHUNK + 1])
def test_a_walk_that_would_not_end_is_refused_wherever_it_lies(scan_path: str, tmp_path: Path, where: int) -> None:
    data = bytearray(3 * _CHUNK)
    data[where : where + 4096] = _collection(object_size=0)
    with _opened(bytes(data), tmp_path, scan_path) as stream, pytest.raises(ConversionError) as caught:
        h5heap.check_global_heaps(stream, "model.h5")
    assert caught.value.code == "convert-unreadable"
    assert caught.value.pointer == f"global heap @{where}"
    assert "walk forever" in caught.value.message


def test_a_well_formed_collection_passes_and_leaves_the_stream_at_zero(scan_path: str, tmp_path: Path) -> None:
    data = bytearray(2 * _CHUNK)
    data[8192 : 8192 + 4096] = _collection(object_size=4096 - 16)  # one free-space object filling the collection
    with _opened(bytes(data), tmp_path, scan_path) as stream:
        stream.seek(123)
        h5heap.check_global_heaps(stream, "model.h5")
        assert stream.tell() == 0


def test_a_failed_search_thread_is_one_conversion_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> int:
        raise OSError("simulated failure inside the search")

    monkeypatch.setattr(h5heap, "_memmem", lambda: broken)
    path = tmp_path / "f.h5"
    path.write_bytes(bytes(4096))
    with pytest.raises(ConversionError) as caught:
        h5safe.open_file(path, str(path))
    assert caught.value.code == "convert-unreadable"
    assert caught.value.file == str(path)
    assert "simulated failure" in caught.value.message



@pytest.mark.parametrize("offset", [-6, -5, -4, -1, 0])  # wholly before, ending on, straddling, starting on a boundary
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_the_search_split_across_threads_finds_each_signature_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int, offset: int
) -> None:
    """Split into parts (one thread each), a signature at the same offset from every boundary, overlapping ones and
    one at each end are found exactly once, in order; the regular expression search is the oracle."""
    if h5heap._memmem() is None:
        pytest.fail("libc memmem is expected on this platform")
    size = 1 << 16
    monkeypatch.setattr(h5heap, "_SPLIT_MIN", 1)
    monkeypatch.setattr(h5heap.os, "cpu_count", lambda: parts)
    data = bytearray(size)
    for edge in (size * i // parts for i in range(1, parts)):
        data[edge + offset : edge + offset + 5] = b"GCOL\x01"
    data[0:5] = b"GCOL\x01"
    data[size - 5 :] = b"GCOL\x01"
    data[100:109] = b"GCOLGCOL\x01"
    path = tmp_path / "f.h5"
    path.write_bytes(bytes(data))
    expected = [m.start() for m in re.finditer(b"(?=GCOL\x01)", bytes(data))]
    assert len(expected) == 3 + (parts - 1)
    with open(path, "rb") as stream:
        assert h5heap._signatures(stream)() == expected
