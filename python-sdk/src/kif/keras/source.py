"""Opening a Keras model file without Keras or TensorFlow: json, zipfile and h5py only.

The reader is chosen by magic bytes, never by extension (an HDF5 file named
``.keras`` exists in the wild). What comes out is the model config, the Keras
version that wrote it, and a reader for its weights.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kif.errors import KifError
from kif.keras.weights import WeightReader, open_weights

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_WEIGHTS_BYTES = 64 * 1024**3  # refuse absurd declared sizes in a .keras zip before extracting


class ConversionError(KifError):
    """A Keras file cannot be converted; the message names the layer and why."""


@dataclass
class KerasSource:
    path: Path
    format: str  # "keras-zip", "legacy-h5", "json"
    config: dict[str, Any]  # {"class_name": ..., "config": ...}
    keras_version: str
    weights: WeightReader
    _cleanup: list[Path] = field(default_factory=list, repr=False)

    @property
    def generation(self) -> int:
        """2 for Keras 2 / tf.keras writers, 3 for Keras 3 (decides e.g. hard_sigmoid's meaning)."""
        return 3 if self.keras_version.split(".")[0] == "3" else 2

    def close(self) -> None:
        self.weights.close()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)


def sniff(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except OSError as exc:
        raise ConversionError(f"Cannot read the Keras file: {exc.strerror}", code="convert-unreadable", file=str(path)) from None
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    raise ConversionError(
        "Expected a Keras file (.keras zip, HDF5 .h5, or architecture JSON). Received: unknown magic bytes " + head.hex(),
        code="convert-unreadable",
        file=str(path),
    )


def _json(text: str | bytes, file: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConversionError(f"Expected JSON: {exc}", code="convert-unreadable", file=file) from None


def _version_of(config: dict[str, Any], fallback: str | None) -> str:
    if fallback:
        return fallback
    version = config.get("keras_version")
    if isinstance(version, str):
        return version
    # Keras 3 configs carry "module" keys; Keras 2 configs never do.
    return "3" if "module" in config else "2"


def open_source(path: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None) -> KerasSource:
    path = Path(path)
    kind = sniff(path)
    if kind == "zip":
        return _open_keras_zip(path)
    if kind == "hdf5":
        if weights is not None:
            raise ConversionError(
                "--weights goes with an architecture JSON, not with an HDF5 model file", code="convert-usage", file=str(path)
            )
        return _open_legacy_h5(path)
    if weights is None:
        raise ConversionError(
            "An architecture JSON needs its weights: pass --weights FILE (.h5 or .weights.h5)", code="convert-usage", file=str(path)
        )
    config = _json(path.read_bytes(), str(path))
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConversionError("Expected a model config with class_name at the top", code="convert-unreadable", file=str(path))
    reader = open_weights(Path(weights))
    return KerasSource(path, "json", config, _version_of(config, reader.keras_version), reader)


def _open_legacy_h5(path: Path) -> KerasSource:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ConversionError(f"Corrupt HDF5 file: {exc}", code="convert-unreadable", file=str(path)) from None
    with contextlib.ExitStack() as stack:
        stack.callback(handle.close)
        raw = handle.attrs.get("model_config")
        if raw is None:
            raise ConversionError(
                "This HDF5 file holds weights only (no model_config); convert the architecture JSON with --weights THIS_FILE",
                code="convert-usage",
                file=str(path),
            )
        config = _json(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw), str(path))
        version = handle.attrs.get("keras_version")
        version = version.decode() if isinstance(version, bytes) else (str(version) if version is not None else None)
        reader = open_weights(path, handle=handle)
        stack.pop_all()
    return KerasSource(path, "legacy-h5", config, _version_of(config, version), reader)


def _open_keras_zip(path: Path) -> KerasSource:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ConversionError(f"Corrupt .keras archive: {exc}", code="convert-unreadable", file=str(path)) from None
    with archive:
        names = set(archive.namelist())
        for required in ("config.json", "model.weights.h5"):
            if required not in names:
                raise ConversionError(f"Expected {required} in the .keras archive", code="convert-unreadable", file=str(path))
        for name in ("config.json", "metadata.json"):
            if name in names and archive.getinfo(name).file_size > MAX_CONFIG_BYTES:
                raise ConversionError(f"{name} is larger than {MAX_CONFIG_BYTES} bytes", code="convert-unreadable", file=str(path))
        config = _json(archive.read("config.json"), f"{path}!config.json")
        metadata = _json(archive.read("metadata.json"), f"{path}!metadata.json") if "metadata.json" in names else {}
        info = archive.getinfo("model.weights.h5")
        if info.file_size > MAX_WEIGHTS_BYTES:
            raise ConversionError("model.weights.h5 declares an implausible size", code="convert-unreadable", file=str(path))
        # h5py needs a seekable file: stream the member to a temporary file (one chunk in memory at a time).
        tmp = Path(tempfile.mkdtemp(prefix="kif-keras-"))
        target = tmp / "model.weights.h5"
        with archive.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    reader = open_weights(target)
    return KerasSource(path, "keras-zip", config, _version_of(config, version), reader, [tmp])
