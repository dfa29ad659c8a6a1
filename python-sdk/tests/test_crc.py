"""kif.bundle.crc: the CRC-32 of a ZIP member, through libdeflate where the system has it, else zlib.

``zlib.crc32`` is the oracle for every value; ``zipfile`` and Info-ZIP's ``unzip -t`` re-read saved archives and
check every member's CRC-32.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import weakref
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.bundle import crc, safetensors_io
from kif.bundle.deferred import DeferredTensor

LENGTHS = [0, 1, 15, 16, 63, 64, 65, 255, 4095, 4096, (1 << 16) + 7, (1 << 20) + 3]


def _random(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture(params=["as-loaded", "zlib"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the implementation this system gives and with the zlib fallback forced."""
    if request.param == "zlib":
        monkeypatch.setattr(crc, "_libdeflate", lambda: None)
    return crc.implementation()


def test_the_implementation_is_named() -> None:
    assert crc.implementation() == ("zlib" if crc._libdeflate() is None else "libdeflate")


def test_crc32_is_zlibs(implementation: str) -> None:
    data = _random(max(LENGTHS) + 8)
    view = memoryview(data)
    for n in LENGTHS:
        for offset in (0, 1, 3, 7):  # unaligned starts: libdeflate's vector path has an unaligned head
            piece = view[offset : offset + n]
            assert crc.crc32(piece) == zlib.crc32(piece), (n, offset)
            assert crc.crc32(piece, 0xDEADBEEF) == zlib.crc32(piece, 0xDEADBEEF), (n, offset)
    assert crc.crc32(b"123456789") == 0xCBF43926  # the CRC-32 catalogue's check value


def test_crc32_of_read_only_and_array_buffers(implementation: str) -> None:
    array = np.arange(100_000, dtype="<f4")
    assert crc.crc32(memoryview(array).cast("B")) == zlib.crc32(array.tobytes())
    frozen = np.frombuffer(array.tobytes(), dtype=np.uint8)  # read-only
    assert not frozen.flags.writeable
    assert crc.crc32(frozen) == zlib.crc32(array.tobytes())


def test_running_crc_in_pieces_is_the_whole(implementation: str) -> None:
    data = _random(3 << 20, seed=1)
    value = 0
    for start in range(0, len(data), 700_001):
        value = crc.crc32(data[start : start + 700_001], value)
    assert value == zlib.crc32(data)


def test_a_library_that_gives_another_crc_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrong:
        def __init__(self, name: str) -> None:
            def libdeflate_crc32(value: int, address: int, length: int) -> int:
                return 12345

            self.libdeflate_crc32 = libdeflate_crc32

    crc._libdeflate.cache_clear()
    monkeypatch.setattr(crc.ctypes, "CDLL", Wrong)
    try:
        assert crc._libdeflate() is None
        assert crc.implementation() == "zlib"
        assert crc.crc32(b"123456789") == 0xCBF43926
    finally:
        crc._libdeflate.cache_clear()


def test_crc32_writer_passes_bytes_through_and_checksums_them(implementation: str) -> None:
    pieces = [b"head", _random(3 << 20, seed=2), memoryview(_random(5000, seed=3)), _random(1 << 16, seed=4), b""]
    out = io.BytesIO()
    with ThreadPoolExecutor(max_workers=1) as pool:
        stream = crc.Crc32Writer(out, pool)
        for piece in pieces:
            assert stream.write(piece) == len(piece)
        assert stream.tell() == out.tell()
    assert out.getvalue() == b"".join(bytes(p) for p in pieces)
    assert stream.crc == zlib.crc32(out.getvalue())


def test_a_failed_write_leaves_no_reference_to_the_buffer(implementation: str) -> None:
    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    array = np.ones(1 << 20, dtype="<f4")
    alive = weakref.ref(array)
    before = threading.active_count()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(OSError):
            crc.Crc32Writer(Full(), pool).write(memoryview(array).cast("B"))
        del array
        assert alive() is None  # the worker is done with it once write has returned, even by raising
    assert threading.active_count() == before


def test_at_most_two_made_tensors_alive_through_the_checksummed_stream(implementation: str) -> None:
    """The safetensors writer's bound (tests/test_writer_pipeline.py) holds with the CRC-32 taken in the stream."""
    alive: list[weakref.ref[np.ndarray]] = []
    most = 0

    def make(i: int) -> np.ndarray:
        nonlocal most
        array = np.full((512, 256), i, dtype="<f4")  # 512 KiB: each write of it goes to the worker
        alive.append(weakref.ref(array))
        most = max(most, sum(r() is not None for r in alive))
        return array

    tensors = {f"t{i}": DeferredTensor("<f4", (512, 256), lambda i=i: make(i)) for i in range(6)}
    out = io.BytesIO()
    with ThreadPoolExecutor(max_workers=1) as pool:
        stream = crc.Crc32Writer(out, pool)
        safetensors_io.write(stream, tensors, whole_file=False)  # type: ignore[arg-type]
    assert most <= 2, f"{most} made tensors were alive at once"
    assert stream.crc == zlib.crc32(out.getvalue())


def _model(width: int = 700) -> kif.Model:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, width))
    rng = np.random.default_rng(0)
    weights = {"kernel": rng.standard_normal((width, 300)).astype(np.float32), "bias": np.ones(300, np.float32)}
    b.output(b.add("Dense", x, name="d", units=300, weights=weights))
    return b.build()


def test_saved_archive_is_the_same_with_either_implementation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    first = kif.save(model, tmp_path / "a.kif", max_shard_bytes=400_000).read_bytes()
    monkeypatch.setattr(crc, "_libdeflate", lambda: None)
    assert first == kif.save(model, tmp_path / "b.kif", max_shard_bytes=400_000).read_bytes()
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.testzip() is None  # every member re-read and its CRC-32 checked by zipfile


def test_unzip_accepts_a_saved_archive(tmp_path: Path, implementation: str) -> None:
    """Info-ZIP's unzip, where installed (it is part of the development environment), tests every member's CRC-32."""
    path = kif.save(_model(), tmp_path / "m.kif", max_shard_bytes=400_000)
    unzip = shutil.which("unzip")
    if unzip is None:  # nothing to run; zipfile's check above still ran
        assert zipfile.ZipFile(path).testzip() is None
        return
    done = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


def test_interrupt_while_a_crc_is_running_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt from the file write while the worker checksums the same piece: no temporary file, no
    thread, no bundle."""
    from kif.bundle import writer

    class Interrupted:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def write(self, data: Any) -> int:
            if len(data) >= 1 << 16:
                raise KeyboardInterrupt
            return int(self.stream.write(data))

        def tell(self) -> int:
            return int(self.stream.tell())

    monkeypatch.setattr(writer, "EarlyWriteback", Interrupted)
    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        kif.save(_model(), tmp_path / "m.kif")
    assert list(tmp_path.iterdir()) == []
    assert threading.active_count() == before
