"""The safetensors writer overlaps a made tensor's hashing with making and writing the next one, but never holds
more than two made tensors; the digests stay those of hashlib over the bytes written (the oracle)."""

from __future__ import annotations

import hashlib
import io
import weakref
import zlib
from pathlib import Path

import numpy as np
import pytest

from kif.bundle import safetensors_io, safetensors_write
from kif.bundle.deferred import DeferredTensor


def test_at_most_two_made_tensors_alive_and_digests_exact() -> None:
    alive: list[weakref.ref[np.ndarray]] = []
    most = 0

    def make(i: int) -> np.ndarray:
        nonlocal most
        array = np.full((256, 256), i, dtype="<f4")
        alive.append(weakref.ref(array))
        most = max(most, sum(r() is not None for r in alive))
        return array

    tensors = {f"t{i}": DeferredTensor("<f4", (256, 256), lambda i=i: make(i)) for i in range(6)}
    stream = io.BytesIO()
    found = safetensors_io.write(stream, tensors, whole_file=False, crc=True)
    assert most <= 2, f"{most} made tensors were alive at once"
    data = stream.getvalue()
    header = safetensors_io.parse_header(data, len(data), "mem")
    for name, entry in header.tensors.items():
        raw = data[header.data_start + entry.begin : header.data_start + entry.end]
        assert found.tensors[name] == hashlib.sha256(raw).hexdigest()
        assert np.frombuffer(raw, "<f4")[0] == int(name[1:])
    assert found.crc32 == zlib.crc32(data)


def test_early_writeback_passes_bytes_through(tmp_path: Path) -> None:
    from kif.bundle.writeback import EarlyWriteback

    pieces = [b"head", bytes(range(256)) * (5 * 4096), b"tail"]  # the middle one is large enough to start writeback
    with open(tmp_path / "out.bin", "wb") as stream:
        wrapped = EarlyWriteback(stream)
        for piece in pieces:
            assert wrapped.write(piece) == len(piece)
        assert wrapped.tell() == sum(map(len, pieces))
    assert (tmp_path / "out.bin").read_bytes() == b"".join(pieces)


@pytest.mark.parametrize("ahead", [safetensors_io.MAPPED_AHEAD, 2])
def test_mapped_deferred_tensors_are_made_once_and_hashed_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: int) -> None:
    """A mapped tensor (a view of a file, like kif.keras.h5direct's) is made before writing starts, so its hashing
    overlaps earlier writes; each is loaded once and the digests and CRC-32 are hashlib's and zlib's."""
    source = tmp_path / "src.bin"
    values = [np.full((64, 64), i, dtype="<f4") for i in range(5)]
    source.write_bytes(b"".join(v.tobytes() for v in values))
    loads: list[int] = []
    order: list[str] = []

    def load(i: int) -> np.ndarray:
        loads.append(i)
        mapped = np.memmap(source, dtype="<f4", mode="r", offset=i * 64 * 64 * 4, shape=(64, 64))
        return np.asarray(mapped)

    class Recording(io.BytesIO):
        def write(self, data: object) -> int:
            order.append(f"write after {len(loads)} loads")
            return super().write(data)  # type: ignore[arg-type]

    monkeypatch.setattr(safetensors_write, "MAPPED_AHEAD", ahead)  # the writer's own global
    tensors = {f"t{i}": DeferredTensor("<f4", (64, 64), lambda i=i: load(i), mapped=True) for i in range(5)}
    stream = Recording()
    found = safetensors_io.write(stream, tensors, whole_file=False, crc=True)
    assert sorted(loads) == list(range(5)), loads  # each mapped once
    if ahead >= 5:  # the header, then every tensor's bytes after all were made
        assert order[1:] == ["write after 5 loads"] * 5
    else:  # at most `ahead` made early (a process has a bounded number of mappings); the rest in their turn
        assert order[1:] == [f"write after {n} loads" for n in (2, 2, 3, 4, 5)], order
    data = stream.getvalue()
    header = safetensors_io.parse_header(data, len(data), "mem")
    for name, entry in header.tensors.items():
        raw = data[header.data_start + entry.begin : header.data_start + entry.end]
        assert raw == values[int(name[1:])].tobytes()
        assert found.tensors[name] == hashlib.sha256(raw).hexdigest()
    assert found.crc32 == zlib.crc32(data)
