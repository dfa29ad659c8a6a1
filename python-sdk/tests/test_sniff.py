"""kif.sniff names a file's format from its content: every file here has a misleading name (``.bin``).

Real files come from the libraries that write them (torch, onnx, h5py, numpy, safetensors) or from the
committed Keras fixtures; the TFLite and SavedModel headers are built from their published layouts.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import kif
from kif.sniff import KINDS, describe, sniff
from tests.format_files import K3, TFK, WRITERS, _hdf5_userblock, _kif_model, _onnx, _pb_field, _saved_model_pb, _torch_legacy, _varint


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_file_kinds_by_content(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "model.bin"  # the name says nothing
    WRITERS[kind](path)
    assert sniff(path) == kind
    assert describe(kind) == KINDS[kind]


def test_keras2_save_weights_file() -> None:
    assert sniff(TFK / "weights.h5") == "keras-weights-h5"


def test_legacy_torch_pickle(tmp_path: Path) -> None:
    _torch_legacy(tmp_path / "old.pt")
    assert sniff(tmp_path / "old.pt") == "pytorch"


def test_hdf5_behind_a_user_block(tmp_path: Path) -> None:
    _hdf5_userblock(tmp_path / "u.h5")
    assert sniff(tmp_path / "u.h5") == "hdf5"


def test_kif_bundle_archive_and_directory(tmp_path: Path) -> None:
    assert sniff(kif.save(_kif_model(), tmp_path / "a.bin", archive=True)) == "kif-bundle"
    assert sniff(kif.save(_kif_model(), tmp_path / "d")) == "kif-bundle"


def test_directories(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(_saved_model_pb())
    assert sniff(saved) == "savedmodel"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with zipfile.ZipFile(K3 / "model.keras") as archive:
        archive.extractall(unpacked)
    assert sniff(unpacked) == "keras-dir"
    (tmp_path / "plain").mkdir()
    assert sniff(tmp_path / "plain") == "directory"
    assert sniff(tmp_path / "absent") == "missing"


def test_zip_of_nothing_known(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.bin", "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert sniff(tmp_path / "z.bin") == "zip"


def test_truncated_onnx_is_not_onnx(tmp_path: Path) -> None:
    _onnx(tmp_path / "m.onnx")
    data = (tmp_path / "m.onnx").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])  # the graph field's length now runs past the end
    assert sniff(tmp_path / "cut.bin") == "unknown"


def test_onnx_graph_is_skipped_not_read(tmp_path: Path) -> None:
    # A 2 GiB sparse file whose graph field covers all of it: recognised from its first bytes.
    graph_len = 2 << 30
    head = _pb_field(1, 0, 8) + _pb_field(2, 2, b"x") + _varint(7 << 3 | 2) + _varint(graph_len)
    path = tmp_path / "big.bin"
    with open(path, "wb") as stream:
        stream.write(head)
        stream.truncate(stream.tell() + graph_len)
    assert sniff(path) == "onnx"


def test_protobuf_that_is_neither(tmp_path: Path) -> None:
    (tmp_path / "p.bin").write_bytes(_pb_field(1, 0, 1) + _pb_field(3, 2, b"abc"))
    assert sniff(tmp_path / "p.bin") == "unknown"


def test_corrupt_hdf5_is_still_named_hdf5(tmp_path: Path) -> None:
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    assert sniff(tmp_path / "bad.h5") == "hdf5"
