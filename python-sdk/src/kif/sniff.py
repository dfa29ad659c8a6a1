"""Which kind of model file is this? Decided by content, never by the file name.

``sniff(path)`` reads a few bytes (a ZIP central directory, the top of an HDF5 file,
the first fields of a protobuf) and returns a kind from ``KINDS``. It never raises
and never reads a whole file: the CLI uses it to tell a user what they passed
(a PyTorch checkpoint, an ONNX model, a bundle that is already KIF) and which
command would work, before any reader fails with a message about its own format.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

# kind → what it is, phrased to follow "PATH is".
KINDS: dict[str, str] = {
    "kif-bundle": "a KIF bundle",
    "kif-document": "a KIF graph document (model.json) without its bundle",
    "keras-zip": "a Keras .keras archive",
    "keras-dir": "an unpacked .keras directory (config.json + model.weights.h5)",
    "keras-h5": "a Keras HDF5 model (.h5)",
    "keras-weights-h5": "a Keras weights file without architecture (.weights.h5 / save_weights)",
    "keras-json": "a Keras architecture JSON (model.to_json())",
    "savedmodel": "a TensorFlow SavedModel directory",
    "savedmodel-pb": "a bare TensorFlow SavedModel graph (saved_model.pb)",
    "pytorch": "a PyTorch checkpoint (torch.save)",
    "torchscript": "a TorchScript archive (torch.jit.save)",
    "pickle": "a Python pickle",
    "onnx": "an ONNX model",
    "tflite": "a TensorFlow Lite flatbuffer",
    "safetensors": "a safetensors file (tensors without architecture)",
    "npz": "a NumPy .npz archive of arrays",
    "npy": "a NumPy .npy array",
    "hdf5": "an HDF5 file that is not a Keras model (no model_config, no Keras weight layout)",
    "json": "a JSON file that is not a Keras architecture (no class_name and config at the top)",
    "zip": "a ZIP archive of no known model layout",
    "directory": "a directory that is not a KIF bundle (no model.json)",
    "empty": "an empty file",
    "missing": "a path that does not exist",
    "unknown": "a file of no known model format",
}

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # HDF5 allows a user block of 512·2^k bytes before the superblock
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"  # pickle of torch's MAGIC_NUMBER, protocol 2
_MAX_JSON = 64 << 20
_MAX_ZIP_MEMBERS = 1 << 16
_MAX_FIELDS = 64  # protobuf fields walked at the top level; ONNX's graph comes within the first few
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}  # ModelProto field → wire type


def describe(kind: str) -> str:
    return KINDS.get(kind, KINDS["unknown"])


def sniff(path: str | os.PathLike[str]) -> str:
    """The kind of ``path`` (a key of ``KINDS``); ``unknown`` when nothing matches, never an exception."""
    path = Path(path)
    try:
        if path.is_dir():
            return _sniff_dir(path)
        if not path.exists():
            return "missing"
        with open(path, "rb") as stream:
            return _sniff_file(path, stream)
    except (OSError, ValueError, RuntimeError):
        return "unknown"


def _sniff_dir(path: Path) -> str:
    if (path / "model.json").is_file():
        return "kif-bundle"
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        return "savedmodel"
    if (path / "config.json").is_file() and (path / "model.weights.h5").is_file():
        return "keras-dir"
    return "directory"


def _sniff_file(path: Path, stream: BinaryIO) -> str:
    size = os.fstat(stream.fileno()).st_size
    head = stream.read(16)
    if not head:
        return "empty"
    if _is_hdf5(stream, head):
        return _sniff_hdf5(path)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(stream)
    if head[4:8] == b"TFL3":
        return "tflite"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "pytorch"
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        return "pickle"
    if _is_safetensors(stream, head, size):
        return "safetensors"
    if head.lstrip()[:1] in (b"{", b"["):
        return _sniff_json(stream, size)
    return _sniff_protobuf(stream, size)


def _is_hdf5(stream: BinaryIO, head: bytes) -> bool:
    if head.startswith(HDF5_MAGIC):
        return True
    for offset in _HDF5_OFFSETS[1:]:
        stream.seek(offset)
        if stream.read(8) == HDF5_MAGIC:
            return True
    return False


def _sniff_hdf5(path: Path) -> str:
    try:
        import h5py
    except ImportError:
        return "hdf5"
    try:
        with h5py.File(path, "r") as handle:
            # Only attribute names and top-level link names: nothing is resolved or read.
            attrs = set(handle.attrs.keys())
            keys = set(handle.keys())
    except Exception:  # h5py raises OSError, KeyError or its own errors on a damaged file
        return "hdf5"
    if "model_config" in attrs:
        return "keras-h5"
    if "layer_names" in attrs or "layers" in keys or "vars" in keys:
        return "keras-weights-h5"
    return "hdf5"


def _sniff_zip(stream: BinaryIO) -> str:
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_ZIP_MEMBERS:
                return "zip"
            names = [i.filename for i in infos]
    except (zipfile.BadZipFile, NotImplementedError, EOFError):
        return "zip"
    found = set(names)
    if "model.json" in found:
        return "kif-bundle"
    if "config.json" in found and ("model.weights.h5" in found or "metadata.json" in found):
        return "keras-zip"
    base = {n.rsplit("/", 1)[-1] for n in names}
    if "data.pkl" in base:
        return "torchscript" if "constants.pkl" in base or any("/code/" in n for n in names) else "pytorch"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    return "zip"


def _is_safetensors(stream: BinaryIO, head: bytes, size: int) -> bool:
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= min(size - 8, 100 << 20)


def _sniff_json(stream: BinaryIO, size: int) -> str:
    if size > _MAX_JSON:
        return "json"
    stream.seek(0)
    try:
        doc = json.loads(stream.read())
    except ValueError:  # not JSON after all (or not UTF-8)
        return "unknown"
    if isinstance(doc, dict) and "kif_version" in doc and "layers" in doc:
        return "kif-document"
    if isinstance(doc, dict) and isinstance(doc.get("class_name"), str) and "config" in doc:
        return "keras-json"
    return "json"


def _varint(stream: BinaryIO) -> int | None:
    value = 0
    for shift in range(0, 70, 7):
        byte = stream.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    return None


def _fields(stream: BinaryIO, size: int) -> list[tuple[int, int, int]] | None:
    """The first top-level (field, wire type, varint value or length) triples, or None if not protobuf.

    Length-delimited fields are skipped by seeking, so a multi-GB ONNX graph costs a few reads.
    """
    stream.seek(0)
    out: list[tuple[int, int, int]] = []
    while len(out) < _MAX_FIELDS and stream.tell() < size:
        tag = _varint(stream)
        if tag is None or tag >> 3 == 0:
            return None
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value = _varint(stream)
        elif wire == 2:
            value = _varint(stream)
            if value is None or stream.tell() + value > size:
                return None
            stream.seek(value, os.SEEK_CUR)
        elif wire in (1, 5):
            value = 8 if wire == 1 else 4
            if stream.tell() + value > size:
                return None
            stream.seek(value, os.SEEK_CUR)
        else:
            return None
        if value is None:
            return None
        out.append((field, wire, value))
    return out


def _sniff_protobuf(stream: BinaryIO, size: int) -> str:
    stream.seek(0)
    if stream.read(1) != b"\x08":
        return "unknown"  # both ONNX ModelProto and SavedModel start with field 1 (a varint)
    fields = _fields(stream, size)
    if not fields or fields[0][:2] != (1, 0):
        return "unknown"
    seen = {(f, w) for f, w, _ in fields}
    if 1 <= fields[0][2] <= 64 and (7, 2) in seen and all(_ONNX_FIELDS.get(f) == w for f, w in seen):
        return "onnx"  # ir_version, then a graph
    if seen <= {(1, 0), (2, 2)} and (2, 2) in seen:
        return "savedmodel-pb"  # saved_model_schema_version, then meta_graphs
    return "unknown"
