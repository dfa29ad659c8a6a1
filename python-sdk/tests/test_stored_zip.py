"""kif.bundle.stored_zip writes the bytes zipfile writes, with CRC-32s computed off the writing thread.

zipfile is the oracle twice over: the archives must be byte-identical to what it writes for the same
members (small, non-ASCII names, forced ZIP64, and, with the limit lowered in both, ZIP64 sizes,
offsets and end records), and ``ZipFile.testzip`` re-reads every member and checks its CRC.
"""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.bundle import safetensors_io, stored_zip

DATE = (1980, 1, 1, 0, 0, 0)
ATTR = 0o100644 << 16

MEMBERS = [
    ("weights.safetensors", bytes(range(256)) * 9, b"\x35\xd9\x04\x00\x00\x00\x00\x00", False),
    ("model.json", b'{"a": 1}\n', b"", False),
    ("wéights-2.safetensors", b"x" * 70, b"", True),  # non-ASCII name: the UTF-8 flag; ZIP64 asked for a small member
    ("empty", b"", b"", False),
]


def _with_zipfile(members: list[tuple[str, bytes, bytes, bool]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data, extra, zip64 in members:
            info = zipfile.ZipInfo(name, date_time=DATE)
            info.external_attr = ATTR
            info.extra = extra
            with archive.open(info, "w", force_zip64=zip64) as stream:
                stream.write(data)
    return out.getvalue()


def _with_stored_zip(members: list[tuple[str, bytes, bytes, bool]]) -> bytes:
    out = io.BytesIO()
    archive = stored_zip.StoredZipWriter(out, DATE, ATTR)
    for name, data, extra, zip64 in members:
        archive.start(name, extra, zip64)
        out.write(data)
        archive.finish(len(data), zlib.crc32(data))
    archive.close()
    return out.getvalue()


def test_bytes_equal_zipfiles() -> None:
    assert _with_stored_zip(MEMBERS) == _with_zipfile(MEMBERS)


def test_bytes_equal_zipfiles_beyond_the_zip64_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the limit at 100 bytes in both writers: ZIP64 sizes (local and central), offsets and end records."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    monkeypatch.setattr(stored_zip, "ZIP64_LIMIT", 100)
    members = [("a", b"1" * 150, b"", True), ("b", b"2" * 60, b"", False), ("c", b"3" * 10, b"", False)]
    data = _with_stored_zip(members)
    assert data == _with_zipfile(members)
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data


def test_write_member_is_writestr() -> None:
    out = io.BytesIO()
    archive = stored_zip.StoredZipWriter(out, DATE, ATTR)
    archive.write_member("model.json", b"{}\n", zlib.crc32(b"{}\n"))
    archive.close()
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        info = zipfile.ZipInfo("model.json", date_time=DATE)
        info.external_attr = ATTR
        z.writestr(info, b"{}\n")
    assert out.getvalue() == expected.getvalue()


def test_misuse_is_refused() -> None:
    archive = stored_zip.StoredZipWriter(io.BytesIO(), DATE, ATTR)
    with pytest.raises(RuntimeError):
        archive.finish(0, 0)
    archive.start("a")
    with pytest.raises(RuntimeError):
        archive.start("b")
    with pytest.raises(RuntimeError):
        archive.close()
    with pytest.raises(ValueError, match="zip64"):
        archive.finish(stored_zip.ZIP64_LIMIT + 1, 0)


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    big = rng.standard_normal((300, 700)).astype(np.float32)
    return {
        "contiguous": big,
        "strided": big[:, ::3],  # bytes made for the write
        "big_endian": np.arange(5, dtype=">i4"),
        "empty": np.zeros((0, 4), np.float32),
    }


def test_running_crc_is_the_crc_of_the_bytes_written() -> None:
    stream = io.BytesIO()
    found = safetensors_io.write(stream, _tensors(), whole_file=False, crc=True)
    assert found.crc32 == zlib.crc32(stream.getvalue())
    assert safetensors_io.write(io.BytesIO(), _tensors()).crc32 is None


class _Failing(io.BytesIO):
    def write(self, data: object) -> int:
        if self.tell() > 1000:
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_failed_write_leaves_no_thread() -> None:
    before = threading.active_count()
    with pytest.raises(OSError):
        safetensors_io.write(_Failing(), _tensors(), crc=True)
    assert threading.active_count() == before


@pytest.mark.parametrize("digests", ["tensor", "file", "both"])
def test_saved_archives_pass_zipfiles_crc_check(tmp_path: Path, digests: str) -> None:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 700))
    rng = np.random.default_rng(0)
    weights = {"kernel": rng.standard_normal((700, 300)).astype(np.float32), "bias": np.ones(300, np.float32)}
    b.output(b.add("Dense", x, name="d", units=300, weights=weights))
    path = kif.save(b.build(), tmp_path / "m.kif", digests=digests, max_shard_bytes=400_000)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every member re-read and its CRC-32 checked
        assert len(archive.namelist()) >= 3
    assert np.array_equal(kif.load(path).weights["d/kernel"], weights["kernel"])
