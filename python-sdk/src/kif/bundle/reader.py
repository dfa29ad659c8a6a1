"""Loading a bundle: validate, then expose weights as memory-mapped NumPy arrays."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from kif.bundle.container import Container
from kif.bundle.safetensors_io import Header, TensorEntry
from kif.errors import ValidationError
from kif.graph import Model, SelfTest
from kif.validate import tensor_digests
from kif.validate.pipeline import check


class LazyWeights(Mapping[str, np.ndarray]):
    """Tensor name → read-only array that views the file; bytes are read when touched."""

    def __init__(
        self,
        container: Container,
        index: Mapping[str, dict[str, object]],
        headers: Mapping[str, Header],
        digests: Mapping[str, str] | None = None,
    ) -> None:
        """``digests``: tensor name → SHA-256 still to check, each on the tensor's first read (spec/integrity.md)."""
        self._container = container
        self._pending = dict(digests or {})
        self._entries: dict[str, tuple[str, TensorEntry, int]] = {}
        for name, info in index.items():
            file = str(info["file"])
            header = headers[file]
            self._entries[name] = (file, header.tensors[name], header.data_start)

    def __getitem__(self, name: str) -> np.ndarray:
        file, entry, data_start = self._entries[name]
        # Only the tensor's bytes: a slice of the memory map, or one ranged read for a bundle read from a URL.
        data = self._container.span(file, data_start + entry.begin, entry.nbytes)
        expected = self._pending.get(name)
        if expected is not None:
            self._container.prefetch(file, data_start + entry.begin, entry.nbytes)  # hashing reads every page
            # The bytes hashed are the bytes the array views: what is checked is what is used.
            if tensor_digests.digest(data) != expected:
                raise tensor_digests.mismatch(self._container, file, name, expected)
            self._pending.pop(name, None)  # concurrent first reads may both hash; either pop is fine
        return _array(data, entry, 0)

    def verify(self, names: Iterable[str] | None = None) -> None:
        """Check the digests still pending (of ``names``, default all) now, hashing in parallel across cores.

        The bulk path for a caller about to read every tensor (``kif.run`` calls it first): the same checks as the
        first reads would make, on every core instead of one. Raises the mismatch of the first bad tensor in file
        order; the tensors that matched count as verified.
        """
        from concurrent.futures import ThreadPoolExecutor

        wanted = self._pending if names is None else {n: self._pending[n] for n in names if n in self._pending}
        jobs = sorted(wanted.items(), key=lambda item: (self._entries[item[0]][0], self._entries[item[0]][1].begin))
        if not jobs:
            return

        def check(job: tuple[str, str]) -> bool:
            file, entry, data_start = self._entries[job[0]]
            return tensor_digests.digest(self._container.span(file, data_start + entry.begin, entry.nbytes)) == job[1]

        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            results = list(pool.map(check, jobs))
        for (name, _), good in zip(jobs, results, strict=True):
            if good:
                self._pending.pop(name, None)
        for (name, expected), good in zip(jobs, results, strict=True):
            if not good:
                raise tensor_digests.mismatch(self._container, self._entries[name][0], name, expected)

    @property
    def remote(self) -> bool:
        """Read from a URL: a bulk ``verify`` would fetch every tensor once more when it is then read."""
        return self._container.url is not None

    def unverified(self) -> list[str]:
        """Tensors whose digest is still to be checked on their first read."""
        return sorted(self._pending)

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

    Only headers are read. With ``verify`` (the default) every digest is checked before
    the bytes it covers are used: a bundle with per-tensor digests (spec 0.2) has its
    headers checked now and each tensor on its first read, so opening costs milliseconds
    whatever the model's size; a bundle with whole-file digests only (spec 0.1) is hashed
    in one streamed pass now. ``verify=False`` skips the digests for trusted hot paths.
    From a URL, opening reads only the archive directory, model.json and the safetensors
    headers (with per-tensor digests, or with ``verify=False``); each tensor is one ranged
    read when it is first touched, and those bytes are the ones hashed.
    Raises ``ValidationError`` listing every error finding.
    """
    report, parsed = check(path, verify_checksums=verify, defer_tensor_digests=True)
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
    index = doc["weights"]["tensors"]
    pending = {}
    if verify:
        per_tensor = tensor_digests.per_tensor_files(doc)
        pending = {name: entry["sha256"] for name, entry in index.items() if entry["file"] in per_tensor}
    weights = LazyWeights(parsed.container, index, parsed.headers, pending)
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
