"""``kif.load(path, verify=False)`` reads headers and model.json, never tensor data.

Shown two ways: by counting every byte read through ``open`` while loading, and by
corrupting tensor bytes on disk, which only the checksum pass (verify=True) notices.
"""

from __future__ import annotations

import builtins
import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif

FORMS = ["directory", "archive"]
DATA_BYTES = 4 * 4 * 512 * 1024  # four float32 tensors of 2 MiB each


def _model() -> kif.Model:
    b = kif.GraphBuilder("wide")
    x = b.input("x", "float32", (None, 1024))
    w1 = {"kernel": np.full((1024, 512), 0.5, "float32"), "bias": np.ones(512, "float32")}
    w2 = {"kernel": np.full((512, 1024), 0.25, "float32"), "bias": np.ones(1024, "float32")}
    y = b.add("Dense", b.add("Dense", x, name="d1", units=512, weights=w1), name="d2", units=1024, weights=w2)
    b.output(y)
    return b.build()


def _save(tmp_path: Path, form: str, digests: str = "tensor") -> Path:
    return kif.save(_model(), tmp_path / ("m.kif" if form == "archive" else "m"), digests=digests)


class _Counting:
    """A file object that records how many bytes are read through it."""

    def __init__(self, stream: Any, log: list[int]) -> None:
        self._stream = stream
        self._log = log

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self._log.append(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self._stream.readinto(buffer)
        self._log.append(count)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


def _count_reads(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[int]:
    log: list[int] = []
    real_open = builtins.open

    def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        stream = real_open(file, mode, *args, **kwargs)
        inside = isinstance(file, (str, Path)) and str(Path(file).resolve()).startswith(str(root.resolve()))
        return _Counting(stream, log) if inside else stream

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)  # zipfile and pathlib call io.open
    return log


def _overhead(path: Path) -> int:
    """What a lazy open may read: model.json, each weight file's header, and ZIP bookkeeping."""
    if path.is_dir():
        document = (path / "model.json").stat().st_size
        files = [p.read_bytes()[:8] for p in path.glob("*.safetensors")]
        zip_bytes = 0
    else:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            document = archive.getinfo("model.json").file_size
            files = [archive.open(i).read(8) for i in infos if i.filename.endswith(".safetensors")]
        zip_bytes = path.stat().st_size - sum(i.file_size for i in infos)  # local headers, central directory
    headers = sum(8 + int.from_bytes(prefix, "little") for prefix in files)
    return document + headers + zip_bytes


@pytest.mark.parametrize("form", FORMS)
def test_lazy_open_reads_only_headers_and_document(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path, form)
    overhead = _overhead(path)
    log = _count_reads(monkeypatch, tmp_path)
    model = kif.load(path, verify=False)
    read = sum(log)
    monkeypatch.undo()
    assert read > 0, "the counter saw no reads: the patch did not take"
    assert read <= overhead + 1024, f"read {read} bytes; headers, model.json and ZIP records are {overhead}"
    assert read * 100 < DATA_BYTES
    assert model.weights["d1/kernel"].shape == (1024, 512)  # mapped, usable, yet never read while opening


@pytest.mark.parametrize("form", FORMS)
def test_verified_open_reads_only_headers_and_document(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path, form)  # per-tensor digests: the header digests are checked at open, each tensor on first read
    overhead = _overhead(path)
    log = _count_reads(monkeypatch, tmp_path)
    model = kif.load(path)
    read = sum(log)
    monkeypatch.undo()
    assert 0 < read <= overhead + 1024, f"a verified open read {read} bytes; headers, model.json and ZIP records are {overhead}"
    assert model.weights.unverified() == sorted(model.weights)


@pytest.mark.parametrize("form", FORMS)
def test_tensor_data_is_touched_only_by_the_checksum_pass(tmp_path: Path, form: str) -> None:
    path = _save(tmp_path, form, digests="file")  # spec 0.1's whole-file digest: checked in one pass at open
    _flip_last_data_byte(path)
    model = kif.load(path, verify=False)  # no tensor byte read: the corruption goes unseen
    assert model.weights["d2/kernel"].reshape(-1)[-1] != np.float32(0.25)  # the map shows the bytes on disk
    with pytest.raises(kif.ValidationError) as caught:
        kif.load(path)
    assert caught.value.code == "weights-checksum-mismatch"
    assert caught.value.pointer == "/weights/files/0/sha256"
    assert [f.code for f in kif.validate(path).errors] == ["weights-checksum-mismatch"]
    assert kif.validate(path, verify_checksums=False).ok


def _flip_last_data_byte(path: Path) -> None:
    """Change the last byte of the weight file: tensor data (d2/kernel sorts last), not its header."""
    if path.is_dir():
        target, offset = path / "weights.safetensors", (path / "weights.safetensors").stat().st_size - 1
    else:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("weights.safetensors")
        raw = path.read_bytes()
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
        target, offset = path, info.header_offset + 30 + name_len + extra_len + info.file_size - 1
    with open(target, "r+b") as stream:
        stream.seek(offset)
        byte = stream.read(1)
        stream.seek(offset)
        stream.write(bytes([byte[0] ^ 0x40]))
