"""kif.save builds model.json once (placeholder digests checked before writing, the written ones filled in after),
and a document that cannot be encoded is refused before any byte is written."""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.graph import Model


def _model() -> Model:
    rng = np.random.default_rng(0)
    b = kif.GraphBuilder("once")
    x = b.input("x", "float32", (None, 3))
    x = b.add(
        "Dense", x, name="d0", units=4, weights={"kernel": rng.standard_normal((3, 4), dtype="float32"), "bias": np.zeros(4, "float32")}
    )
    x = b.add(
        "Dense", x, name="d1", units=2, weights={"kernel": rng.standard_normal((4, 2), dtype="float32"), "bias": np.ones(2, "float32")}
    )
    b.output(x)
    return b.build()


def _members(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _tensor_digests(data: bytes) -> tuple[str, dict[str, str]]:
    """The header and per-tensor SHA-256 of a safetensors file, parsed here independently of kif (spec/integrity.md)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    tensors = {
        k: hashlib.sha256(body[v["data_offsets"][0] : v["data_offsets"][1]]).hexdigest() for k, v in header.items() if k != "__metadata__"
    }
    return hashlib.sha256(data[: 8 + n]).hexdigest(), tensors


@pytest.mark.parametrize("name", ["m.kif", "m"])
@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("digests", ["tensor", "both"])
def test_document_built_once_with_the_written_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, check: bool, digests: str
) -> None:
    model = _model()
    calls = []
    real = Model.header_json
    monkeypatch.setattr(Model, "header_json", lambda self: calls.append(1) or real(self))
    path = kif.save(model, tmp_path / name, check=check, digests=digests, max_shard_bytes=64, progress=False)
    assert len(calls) == 1
    members = _members(Path(path))
    doc = json.loads(members["model.json"])
    files = doc["weights"]["files"]
    assert len(files) == 2  # the shard limit split the weights: each file's entry is its own
    for entry in files:
        data = members[entry["path"]]
        header_sha, tensors = _tensor_digests(data)
        assert entry["size"] == len(data)
        assert entry["header_sha256"] == header_sha
        assert entry.get("sha256") == (hashlib.sha256(data).hexdigest() if digests == "both" else None)
        for tensor, digest in tensors.items():
            assert doc["weights"]["tensors"][tensor] == {**doc["weights"]["tensors"][tensor], "file": entry["path"], "sha256": digest}
    assert "0" * 64 not in members["model.json"].decode()
    np.testing.assert_array_equal(kif.load(path).weights["d1/bias"], np.ones(2, "float32"))


@pytest.mark.parametrize("name", ["m.kif", "m"])
def test_unencodable_document_refused_before_writing(tmp_path: Path, name: str) -> None:
    model = _model()
    model.description = "bad \udc80 text"  # a lone surrogate: not Unicode text, so not UTF-8 JSON
    with pytest.raises(KifError) as caught:
        kif.save(model, tmp_path / name, check=False, progress=False)
    assert caught.value.code == "document-invalid-json"
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left
