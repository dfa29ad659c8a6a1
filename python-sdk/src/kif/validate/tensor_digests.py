"""Per-tensor digests (spec/integrity.md, since 0.2.0): a weight file whose entry has ``header_sha256`` carries a
SHA-256 of each tensor's data bytes in the weights index. The header and the tensors cover the file exactly (the
offsets rule of spec/tensors.md), so checking all of them is checking the file; checking one is checking what one
read uses. ``kif validate`` checks every tensor here, in parallel; ``kif.load`` checks each on its first read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from kif._lean import sha256_large
from kif.bundle import safetensors_io
from kif.bundle.container import Container
from kif.errors import WeightsError
from kif.validate.report import Report, pointer

SINCE = "0.2.0"
_MESSAGE = "SHA-256 of tensor {name!r} in {file} differs from model.json (expected {expected})"


def per_tensor_files(doc: dict[str, Any]) -> set[str]:
    """Weight files verified per tensor: those whose entry has ``header_sha256``."""
    return {f["path"] for f in doc["weights"]["files"] if "header_sha256" in f}


def uses_per_tensor_digests(doc: dict[str, Any]) -> bool:
    """Whether a (schema-valid) document has a per-tensor field: it then needs spec 0.2.0 (spec/versioning.md)."""
    return bool(per_tensor_files(doc)) or any("sha256" in t for t in doc["weights"]["tensors"].values())


def tensor_pointer(name: str) -> str:
    return pointer("weights", "tensors", name, "sha256")


def mismatch(container: Container, file: str, name: str, expected: str) -> WeightsError:
    """The error a reader raises when a tensor's bytes do not match their digest: names the file and the digest."""
    message = _MESSAGE.format(name=name, file=file, expected=expected)
    return WeightsError(message, code="weights-checksum-mismatch", file=container.member_label(file), pointer=tensor_pointer(name))


def digest(data: Any) -> str:
    """SHA-256 of a buffer; hashlib (imported on the first tensor read, not by the open) releases the GIL on large
    buffers, so threads hash in parallel."""
    return sha256_large(data)


def check_declarations(doc: dict[str, Any], report: Report, file: str) -> None:
    """A tensor has ``sha256`` exactly when its file has ``header_sha256``, and neither in a document older than 0.2.0."""
    from kif.catalog import version_key

    verified = per_tensor_files(doc)
    old = _older_than(doc.get("kif_version"), SINCE, version_key)
    for index, entry in enumerate(doc["weights"]["files"]):
        if old and "header_sha256" in entry:
            report.add("schema-violation", _too_new("header_sha256", doc), file, pointer("weights", "files", index, "header_sha256"))
    for name, entry in doc["weights"]["tensors"].items():
        if old and "sha256" in entry:
            report.add("schema-violation", _too_new("sha256 on a tensor", doc), file, tensor_pointer(name))
        elif entry["file"] in verified and "sha256" not in entry:
            report.add(
                "schema-violation",
                f"Expected sha256 on tensor {name!r}: its file {entry['file']} is verified per tensor (it has header_sha256)",
                file,
                pointer("weights", "tensors", name),
            )
        elif entry["file"] not in verified and "sha256" in entry:
            report.add(
                "schema-violation",
                f"Expected no sha256 on tensor {name!r}: its file {entry['file']} has no header_sha256 (its digest is whole-file)",
                file,
                tensor_pointer(name),
            )


def verify_all(container: Container, doc: dict[str, Any], headers: dict[str, safetensors_io.Header], report: Report) -> None:
    """Hash every tensor of every per-tensor file, in parallel across cores; one finding per tensor that differs."""
    from concurrent.futures import ThreadPoolExecutor

    from kif.progress import Progress

    jobs = list(_jobs(doc, headers))
    if not jobs:
        return
    bar = Progress(sum(size for *_, size, _ in jobs), "Verifying tensors")
    try:
        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            results = []
            for job, got in zip(jobs, pool.map(lambda job: digest(container.span(job[0], job[3], job[4])), jobs), strict=True):
                results.append(got)
                bar.advance(job[4])  # in this thread, as results arrive in order
    finally:
        bar.close()
    for (file, name, expected, _, _), got in zip(jobs, results, strict=True):
        if got != expected:
            error = mismatch(container, file, name, expected)
            report.add(error.code, error.message, error.file, error.pointer)


def _jobs(doc: dict[str, Any], headers: dict[str, safetensors_io.Header]) -> Iterable[tuple[str, str, str, int, int]]:
    """(file, tensor, expected digest, offset in the member, size) for each tensor to hash, in file order."""
    verified = per_tensor_files(doc)
    index = doc["weights"]["tensors"]
    for file in sorted(verified & set(headers)):
        header = headers[file]
        for entry in sorted(header.tensors.values(), key=lambda e: e.begin):
            expected = index.get(entry.name, {}).get("sha256")
            if isinstance(expected, str):
                yield file, entry.name, expected, header.data_start + entry.begin, entry.nbytes


def _older_than(version: Any, floor: str, key: Callable[[str], tuple[int, ...]]) -> bool:
    try:
        return bool(key(version) < key(floor))
    except (AttributeError, TypeError, ValueError):
        return False  # not a version: the version check has reported it


def _too_new(what: str, doc: dict[str, Any]) -> str:
    return f"{what} is a spec {SINCE} field; this document declares kif_version {doc.get('kif_version')!r}"
