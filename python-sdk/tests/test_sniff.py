"""kif.sniff names a file's format from its content: every file here has a misleading name (``.bin``).

Real files come from the libraries that write them (torch, onnx, h5py, numpy, safetensors) or from the
committed Keras fixtures; the TFLite and SavedModel headers are built from their published layouts.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors.numpy import save_file

import kif
from kif.sniff import KINDS, describe, sniff

KERAS = Path(__file__).parent / "fixtures" / "keras"
K3 = KERAS / "keras3" / "mlp_activations"
TFK = KERAS / "tf_keras" / "mlp_activations"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _pb_field(field: int, wire: int, payload: bytes | int) -> bytes:
    head = _varint(field << 3 | wire)
    return head + (_varint(payload) if isinstance(payload, int) else _varint(len(payload)) + payload)


def _saved_model_pb() -> bytes:
    # SavedModel: saved_model_schema_version = 1, then one MetaGraphDef (meta_info_def with tags ["serve"]).
    meta_graph = _pb_field(1, 2, _pb_field(4, 2, b"serve"))
    return _pb_field(1, 0, 1) + _pb_field(2, 2, meta_graph)


def _tflite() -> bytes:
    # A flatbuffer: the root table offset (uint32), then the file identifier "TFL3".
    return struct.pack("<I", 16) + b"TFL3" + bytes(24)


def _torch(path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(3, 2).state_dict(), path)


def _torch_legacy(path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(3, 2).state_dict(), path, _use_new_zipfile_serialization=False)


def _torchscript(path: Path) -> None:
    import torch

    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), path)


def _onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph, producer_name="test"), path)


def _kif_model() -> kif.Model:
    b = kif.GraphBuilder("m")
    b.output(
        b.add(
            "Dense", b.input("x", "float32", (None, 3)), name="d", units=2, weights={"kernel": np.ones((3, 2), "float32")}, use_bias=False
        )
    )
    return b.build()


def _npz() -> bytes:
    stream = io.BytesIO()
    np.savez(stream, x=np.zeros(3))
    return stream.getvalue()


def _npy() -> bytes:
    stream = io.BytesIO()
    np.save(stream, np.zeros(3))
    return stream.getvalue()


def _hdf5_userblock(path: Path) -> None:
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=np.zeros(3))


WRITERS: dict[str, Callable[[Path], object]] = {
    "keras-zip": lambda p: shutil.copy(K3 / "model.keras", p),
    "keras-h5": lambda p: shutil.copy(K3 / "model.h5", p),
    "keras-weights-h5": lambda p: shutil.copy(K3 / "model.weights.h5", p),
    "keras-json": lambda p: shutil.copy(K3 / "architecture.json", p),
    "pytorch": _torch,
    "torchscript": _torchscript,
    "onnx": _onnx,
    "tflite": lambda p: p.write_bytes(_tflite()),
    "savedmodel-pb": lambda p: p.write_bytes(_saved_model_pb()),
    "safetensors": lambda p: save_file({"w": np.zeros(3, "float32")}, str(p)),
    "npz": lambda p: p.write_bytes(_npz()),
    "npy": lambda p: p.write_bytes(_npy()),
    "hdf5": lambda p: h5py.File(p, "w").close(),
    "pickle": lambda p: p.write_bytes(pickle.dumps({"a": 1}, protocol=4)),
    "json": lambda p: p.write_text(json.dumps({"hello": "world"})),
    "kif-document": lambda p: p.write_text(json.dumps({"kif_version": "0.1.0", "layers": []})),
    "empty": lambda p: p.write_bytes(b""),
    "unknown": lambda p: p.write_bytes(b"KIF? no: plain text, not a model"),
}


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
