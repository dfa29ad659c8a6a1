"""Opening a Keras model file without Keras or TensorFlow: json, zipfile and h5py only.

The reader is chosen by magic bytes, never by extension (an HDF5 file named
``.keras`` exists in the wild). What comes out is the model config, the Keras
version that wrote it, and a reader for its weights.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kif import limits
from kif.keras import h5safe
from kif.keras.config_check import load_json
from kif.keras.errors import ConversionError, too_large
from kif.keras.keras_zip import KerasZip
from kif.keras.weights import WeightReader, open_weights

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
__all__ = ["ConversionError", "KerasSource", "open_source"]


@dataclass
class KerasSource:
    path: Path
    format: str  # "keras-zip", "legacy-h5", "json", "savedmodel"
    config: dict[str, Any]  # {"class_name": ..., "config": ...}
    keras_version: str
    weights: WeightReader
    _cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _assets: KerasZip | None = field(default=None, repr=False)

    def asset(self, member: str) -> bytes | None:
        """The bytes of ``assets/<member>`` in a .keras archive (bounded by max_document_bytes); None elsewhere."""
        return None if self._assets is None else self._assets.read_document(f"assets/{member}")

    def lookup_vocabulary(self, name: str, owners: tuple[str, ...], start: int, integers: bool, invert: bool) -> list[Any] | None:
        """A SavedModel lookup layer's vocabulary from its table (tokens of indices start, start+1, …); None elsewhere."""
        read = getattr(self.weights, "lookup_vocabulary", None)
        return None if read is None else read(name, owners, start, integers=integers, invert=invert)

    @property
    def generation(self) -> int:
        """2 for Keras 2 / tf.keras writers, 3 for Keras 3 (decides e.g. hard_sigmoid's meaning)."""
        return 3 if self.keras_version.split(".")[0] == "3" else 2

    def close(self) -> None:
        try:
            self.weights.close()
        finally:
            for step in self._cleanup:
                step()


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


def _version_of(config: dict[str, Any], fallback: str | None) -> str:
    if fallback:
        return fallback
    version = config.get("keras_version")
    if isinstance(version, str) and version:
        return version
    # Keras 3 configs carry "module" keys; Keras 2 configs never do.
    return "3" if "module" in config else "2"


def open_source(
    path: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None, *, meanwhile: Callable[[], None] | None = None
) -> KerasSource:
    """The Keras model at ``path``; ``meanwhile()`` runs while an HDF5 file's heap pre-scan does (kif.keras.h5safe.open_file)."""
    path = Path(path)
    if path.name == "saved_model.pb" or path.is_dir():  # the SavedModel reader (~20 modules) only for what may be one
        from kif.keras.savedmodel.reader import saved_model_source

        saved = saved_model_source(path, weights)  # a SavedModel directory, or the path of its saved_model.pb
        if saved is not None:
            return saved
    kind = sniff(path)
    if kind == "zip":
        return _open_keras_zip(path, meanwhile)
    if kind == "hdf5":
        if weights is not None:
            raise ConversionError(
                "--weights goes with an architecture JSON, not with an HDF5 model file", code="convert-usage", file=str(path)
            )
        return _open_legacy_h5(path, meanwhile)
    if weights is None:
        raise ConversionError(
            "An architecture JSON needs its weights: pass --weights FILE (.h5 or .weights.h5)", code="convert-usage", file=str(path)
        )
    config = load_json(_read_document(path), str(path))
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConversionError("Expected a model config with class_name at the top", code="convert-unreadable", file=str(path))
    reader = open_weights(Path(weights))
    return KerasSource(path, "json", config, _version_of(config, reader.keras_version), reader)


def _read_document(path: Path) -> bytes:
    budget = limits.current().max_document_bytes
    try:
        with open(path, "rb") as stream:
            data = stream.read(budget + 1)
    except OSError as exc:
        raise ConversionError(f"Cannot read the Keras file: {exc.strerror}", code="convert-unreadable", file=str(path)) from None
    if len(data) > budget:
        raise too_large("The architecture JSON", path.stat().st_size, "max_document_bytes", budget, file=str(path))
    return data


def _open_legacy_h5(path: Path, meanwhile: Callable[[], None] | None = None) -> KerasSource:
    handle = h5safe.open_file(path, str(path), meanwhile)
    with contextlib.ExitStack() as stack:
        stack.callback(handle.close)
        h5safe.audit(handle, str(path))  # before anything else reads from the file
        raw = h5safe.read_text_attribute(handle, "model_config", str(path), "/")
        if raw is None:
            raise ConversionError(
                "This HDF5 file holds weights only (no model_config); convert the architecture JSON with --weights THIS_FILE",
                code="convert-usage",
                file=str(path),
            )
        config = load_json(raw, f"{path}!model_config")
        if not isinstance(config, dict):
            raise ConversionError("Expected model_config to be a JSON object", code="convert-config", file=str(path), pointer="/")
        version = h5safe.read_text_attribute(handle, "keras_version", str(path), "/")
        reader = open_weights(path, handle=handle, audited=True)
        stack.pop_all()
    return KerasSource(path, "legacy-h5", config, _version_of(config, version), reader)


def _open_keras_zip(path: Path, meanwhile: Callable[[], None] | None = None) -> KerasSource:
    archive = KerasZip(path)
    with contextlib.ExitStack() as stack:
        stack.callback(archive.close)
        for required in ("config.json", "model.weights.h5"):
            if required not in archive.members:
                raise ConversionError(f"Expected {required} in the .keras archive", code="convert-unreadable", file=str(path))
        config = load_json(archive.read_document("config.json") or b"", f"{path}!config.json")
        if not isinstance(config, dict):
            raise ConversionError(
                "Expected config.json to be a JSON object", code="convert-config", file=f"{path}!config.json", pointer="/"
            )
        metadata_bytes = archive.read_document("metadata.json")
        metadata = load_json(metadata_bytes, f"{path}!metadata.json") if metadata_bytes is not None else {}
        stream = archive.open_binary("model.weights.h5")
        stack.callback(stream.close)
        label = f"{path}!model.weights.h5"
        handle = h5safe.open_file(stream, label, meanwhile)
        stack.callback(handle.close)
        reader = open_weights(Path(label), handle=handle)
        cleanup = stack.pop_all()
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return KerasSource(
        path, "keras-zip", config, _version_of(config, version if isinstance(version, str) else None), reader, [cleanup.close], archive
    )
