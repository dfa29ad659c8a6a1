"""Stage 3: weight files against the weights index and the layers (headers, checksums)."""

from __future__ import annotations

import struct
from typing import Any

from kif import catalog
from kif._lean import sha256_small
from kif.bundle import safetensors_io
from kif.bundle.container import DOCUMENT, Container
from kif.errors import WeightsError
from kif.validate import tensor_digests
from kif.validate.report import Report, pointer

_HASH_CHUNK = 8 * 1024 * 1024


def read_header(container: Container, name: str) -> safetensors_io.Header:
    """Read and check one safetensors member's header (raises WeightsError)."""
    return read_header_bytes(container, name)[0]


def read_header_bytes(container: Container, name: str) -> tuple[safetensors_io.Header, bytes]:
    """One member's checked header and the bytes it was parsed from (length prefix + JSON: what header_sha256 covers)."""
    label = container.member_label(name)
    size = container.members[name].size
    prefix = container.read(name, 0, 8)
    if len(prefix) == 8:
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len <= safetensors_io.header_limit():
            prefix += container.read(name, 8, header_len)
    return safetensors_io.parse_header(prefix, size, label), prefix


def sha256_of(container: Container, name: str) -> str:
    import hashlib  # OpenSSL's SHA-256 (SHA-NI) for a whole file; a header is hashed with kif._lean.sha256_small

    from kif.progress import Progress

    digest = hashlib.sha256()
    view = container.view(name)
    bar = Progress(len(view), f"Verifying {name}")  # drawn only on a terminal, for large files
    try:
        for start in range(0, len(view), _HASH_CHUNK):
            chunk = view[start : start + _HASH_CHUNK]
            digest.update(chunk)
            bar.advance(len(chunk))
    finally:
        bar.close()
    return digest.hexdigest()


def check_weights(
    container: Container, doc: dict[str, Any], report: Report, verify_checksums: bool, defer_tensors: bool = False
) -> dict[str, safetensors_io.Header]:
    """``defer_tensors``: leave per-tensor digests to the reader, which checks each tensor on its first read
    (``kif.load``); otherwise every digest is checked here. Header digests are always checked (the header is read)."""
    file = container.member_label(DOCUMENT)
    headers = _check_files(container, doc, report, verify_checksums)
    tensor_digests.check_declarations(doc, report, file)
    if verify_checksums and not defer_tensors and report.ok:
        tensor_digests.verify_all(container, doc, headers, report)
    index: dict[str, Any] = doc["weights"]["tensors"]
    listed = {f["path"] for f in doc["weights"]["files"]}
    for tensor, entry in index.items():
        if entry["file"] not in listed:
            report.add(
                "weights-file-unknown",
                f"Tensor {tensor!r} lives in {entry['file']!r}, which weights.files does not list",
                file,
                pointer("weights", "tensors", tensor, "file"),
            )
            continue
        header = headers.get(entry["file"])
        if header is None:
            continue  # the file itself was reported
        found = header.tensors.get(tensor)
        if found is None:
            # Located at the index entry that names it (a JSON pointer into model.json).
            where = pointer("weights", "tensors", tensor)
            report.add("weights-tensor-missing", f"Tensor {tensor!r} is not in {entry['file']}", file, where)
            continue
        if found.dtype.name != entry["dtype"]:
            report.add(
                "weights-dtype-mismatch",
                f"Tensor {tensor!r}: the index says {entry['dtype']}, the file header says {found.dtype.name}",
                file,
                pointer("weights", "tensors", tensor, "dtype"),
            )
        if list(found.shape) != list(entry["shape"]):
            report.add(
                "weights-shape-mismatch",
                f"Tensor {tensor!r}: the index says shape {entry['shape']}, the file header says {list(found.shape)}",
                file,
                pointer("weights", "tensors", tensor, "shape"),
            )
    for name, header in headers.items():
        for tensor in header.tensors:
            if index.get(tensor, {}).get("file") != name:
                # Located by a JSON pointer into that file's header.
                report.add(
                    "weights-tensor-extra",
                    f"Tensor {tensor!r} is in {name} but not in the weights index",
                    container.member_label(name),
                    pointer(tensor),
                )
    _check_references(doc, index, report, file)
    return headers


def _check_files(container: Container, doc: dict[str, Any], report: Report, verify: bool) -> dict[str, safetensors_io.Header]:
    headers: dict[str, safetensors_io.Header] = {}
    seen: set[str] = set()
    entries = [(pointer("weights", "files", i), f) for i, f in enumerate(doc["weights"]["files"])]
    if "self_test" in doc:
        entries.append(("/self_test", {"path": doc["self_test"]["file"], **doc["self_test"]}))
    for where, entry in entries:
        name = entry["path"]
        named_at = where + ("/file" if where == "/self_test" else "/path")  # the member of model.json naming the file
        if name in seen or name == DOCUMENT:
            report.add("weights-file-duplicate", f"File {name!r} is listed more than once", container.member_label(DOCUMENT), named_at)
            continue
        seen.add(name)
        member = container.members.get(name)
        if member is None:
            report.add("bundle-missing-member", f"Expected file {name!r} listed in model.json", container.label, named_at)
            continue
        if member.size != entry["size"]:
            report.add(
                "weights-size-mismatch",
                f"Expected {entry['size']} bytes. Received: {member.size}",
                container.member_label(name),
                where + "/size",
            )
        try:
            header, header_bytes = read_header_bytes(container, name)
        except WeightsError as exc:
            report.add(exc.code, exc.message, exc.file, exc.pointer)
            continue
        if verify and "header_sha256" in entry and sha256_small(header_bytes) != entry["header_sha256"]:
            report.add(
                "weights-checksum-mismatch",
                f"SHA-256 of the header of {name} differs from model.json (expected {entry['header_sha256']})",
                container.member_label(name),
                where + "/header_sha256",
            )
        elif verify and "sha256" in entry and "header_sha256" not in entry and sha256_of(container, name) != entry["sha256"]:
            report.add(
                "weights-checksum-mismatch",
                f"SHA-256 of {name} differs from model.json (expected {entry['sha256']})",
                container.member_label(name),
                where + "/sha256",
            )
        if any(t.dtype.name == "bool" for t in header.tensors.values()):  # only a file with bool tensors reads data
            from kif.validate import bool_values

            bool_values.check_bools(container, name, header, report)
        if where == "/self_test":
            _check_self_test(doc, header, report, container.member_label(DOCUMENT))
        else:
            headers[name] = header
    _check_unlisted(container, seen, report)
    return headers


def _check_unlisted(container: Container, listed: set[str], report: Report) -> None:
    for name in sorted(set(container.members) - listed - {DOCUMENT}):
        if container.is_archive:
            report.add("bundle-unlisted-member", f"Member {name!r} is not named by model.json", container.member_label(name))
        else:
            report.add("bundle-unlisted-file", f"File {name!r} is not part of the bundle and is ignored", container.member_label(name))


def _check_self_test(doc: dict[str, Any], header: safetensors_io.Header, report: Report, file: str) -> None:
    """Located at the graph input or output (in model.json) that lacks its golden tensor."""
    for kind in ("inputs", "outputs"):
        for index, spec in enumerate(doc[kind]):
            name = f"{kind}/{spec['name']}"
            found = header.tensors.get(name)
            if found is None:
                report.add("self-test-invalid", f"Expected tensor {name} in {doc['self_test']['file']}", file, pointer(kind, index))
                continue
            declared = spec["shape"]
            fits = len(found.shape) == len(declared) and all(d is None or d == g for d, g in zip(declared, found.shape, strict=True))
            if found.dtype.name != spec["dtype"] or not fits:
                report.add(
                    "self-test-invalid",
                    f"Tensor {name} of {doc['self_test']['file']}: expected {spec['dtype']} {declared}. "
                    f"Received: {found.dtype.name} {list(found.shape)}",
                    file,
                    pointer(kind, index),
                )


def _check_references(doc: dict[str, Any], index: dict[str, Any], report: Report, file: str) -> None:
    used: set[str] = set()
    for i, layer in enumerate(doc["layers"]):
        definition = catalog.catalog().get(layer["type"])
        for role, tensor in layer["weights"].items():
            used.add(tensor)
            if tensor not in index:
                report.add(
                    "weights-reference-unknown",
                    f"Layer {layer['name']!r} weight {role!r} names tensor {tensor!r}, which is not in the weights index",
                    file,
                    pointer("layers", i, "weights", role),
                )
                continue
            weight = definition.weights.get(role) if definition else None
            if weight is not None and weight.rank is not None and len(index[tensor]["shape"]) != weight.rank:
                report.add(
                    "layer-weight-rank",
                    f"Layer {layer['name']!r} weight {role!r}: expected rank {weight.rank} ({weight.layout}). "
                    f"Received: shape {index[tensor]['shape']}",
                    file,
                    pointer("layers", i, "weights", role),
                )
    for tensor in sorted(set(index) - used):
        report.add("weights-unreferenced", f"Tensor {tensor!r} is used by no layer", file, pointer("weights", "tensors", tensor))
