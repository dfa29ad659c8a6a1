"""Loading a bundle: validate, then expose weights as memory-mapped NumPy arrays."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from kif.bundle.container import Container
from kif.bundle.safetensors_io import Header, TensorEntry
from kif.errors import ValidationError
from kif.graph import Model, SelfTest
from kif.validate.pipeline import check


class LazyWeights(Mapping[str, np.ndarray]):
    """Tensor name → read-only array that views the file; bytes are read when touched."""

    def __init__(self, container: Container, index: Mapping[str, dict[str, object]], headers: Mapping[str, Header]) -> None:
        self._container = container
        self._entries: dict[str, tuple[str, TensorEntry, int]] = {}
        for name, info in index.items():
            file = str(info["file"])
            header = headers[file]
            self._entries[name] = (file, header.tensors[name], header.data_start)

    def __getitem__(self, name: str) -> np.ndarray:
        file, entry, data_start = self._entries[name]
        # Only the tensor's bytes: a slice of the memory map, or one ranged read for a bundle read from a URL.
        return _array(self._container.span(file, data_start + entry.begin, entry.nbytes), entry, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def nbytes(self) -> int:
        return sum(entry.nbytes for _, entry, _ in self._entries.values())

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor name → shape, from the headers alone."""
        return {name: entry.shape for name, (_, entry, _) in self._entries.items()}

    def files(self) -> list[dict[str, Any]]:
        """Per weight file, sorted by name: ``{file, tensors, bytes}``, from the headers alone."""
        out: dict[str, dict[str, Any]] = {}
        for file, entry, _ in self._entries.values():
            row = out.setdefault(file, {"file": file, "tensors": 0, "bytes": 0})
            row["tensors"] += 1
            row["bytes"] += entry.nbytes
        return sorted(out.values(), key=lambda row: str(row["file"]))

    def bytes_per_file(self) -> dict[str, int]:
        """Tensor bytes held in each weight file, from the headers alone (no array is built)."""
        out: dict[str, int] = {}
        for file, entry, _ in self._entries.values():
            out[file] = out.get(file, 0) + entry.nbytes
        return out


def _array(view: memoryview | bytes, entry: TensorEntry, start: int) -> np.ndarray:
    count = entry.nbytes // entry.dtype.itemsize
    array = np.frombuffer(view, dtype=entry.dtype.numpy, count=count, offset=start)
    return array.reshape(entry.shape)


def load(path: str | os.PathLike[str], *, verify: bool = True) -> Model:
    """Open a bundle directory or ``.kif`` archive, or an fsspec URL of one (``memory://``, ``https://`` ...).

    Only headers are read, plus a streamed SHA-256 pass over the weight files when
    ``verify`` is true (the default). ``verify=False`` skips the checksums for
    trusted hot paths: opening then costs milliseconds whatever the model's size.
    From a URL, ``verify=False`` reads only the archive directory, model.json and the
    safetensors headers; each tensor is one ranged read when it is first touched.
    Raises ``ValidationError`` listing every error finding.
    """
    report, parsed = check(path, verify_checksums=verify)
    if not report.ok or parsed is None:
        errors = report.errors
        summary = "; ".join(str(f) for f in errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        first = errors[0]
        raise ValidationError(
            f"Bundle is invalid ({len(errors)} error{'s' * (len(errors) != 1)}): {summary}",
            code=first.code,
            file=first.file,
            pointer=first.pointer,
            findings=report.findings,
        )
    doc = parsed.document
    weights = LazyWeights(parsed.container, doc["weights"]["tensors"], parsed.headers)
    model = Model.from_document(doc, weights)
    if "self_test" in doc:
        model.self_test = _self_test(parsed.container, doc)
    return model


def _self_test(container: Container, doc: dict[str, object]) -> SelfTest:
    from kif.validate.weights import read_header

    info = doc["self_test"]
    assert isinstance(info, dict)
    header = read_header(container, info["file"])
    view = container.span(info["file"], 0, container.members[info["file"]].size)
    tensors = {name: _array(view, e, header.data_start + e.begin) for name, e in header.tensors.items()}
    split = {kind: {n.split("/", 1)[1]: a for n, a in tensors.items() if n.startswith(kind + "/")} for kind in ("inputs", "outputs")}
    return SelfTest(split["inputs"], split["outputs"], float(info["rtol"]), float(info["atol"]))
