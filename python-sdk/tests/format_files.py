"""One file of each model format, written by the library that owns the format (or from its published layout).

Shared by test_sniff.py and test_cli_messages.py.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
from safetensors.numpy import save_file

import kif

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
