"""Writing a Model as a bundle directory or a STORED ``.kif`` archive, atomically.

Weight files are streamed (one chunk of one tensor in memory at a time) and hashed
while written; model.json, which records the hashes, is written last.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from kif import __version__
from kif.bundle import safetensors_io
from kif.bundle.atomic import atomic_bundle
from kif.bundle.container import DOCUMENT
from kif.bundle.crc import Crc32Writer
from kif.bundle.destination import plan
from kif.bundle.precheck import check_document
from kif.bundle.stored_zip import ZIP64_LIMIT as _ZIP64_LIMIT
from kif.bundle.stored_zip import StoredZipWriter
from kif.bundle.writeback import EarlyWriteback
from kif.errors import KifError, UsageError
from kif.graph import Model
from kif.progress import Progress
from kif.validate.pointer import pointer

SELF_TEST_FILE = "self_test.safetensors"
DIGEST_FORMS = ("tensor", "file", "both")
TENSOR_DIGESTS_SINCE = "0.2.0"  # header_sha256 and per-tensor sha256 (spec/integrity.md)
_ALIGNMENT = 64  # archive members start 64-byte aligned so memory maps hit aligned addresses
_ALIGN_EXTRA_ID = 0xD935  # the extra-field id zipalign uses for padding
_EXTERNAL_ATTR = 0o100644 << 16  # a regular file, rw-r--r--
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # reproducible archives


def save(
    model: Model,
    path: str | os.PathLike[str],
    *,
    max_shard_bytes: int | None = None,
    archive: bool | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
    check: bool = True,
    digests: str = "tensor",
) -> Path:
    """Write ``model`` to ``path``: a ``.kif`` archive, or a directory for a name without a suffix.

    ``max_shard_bytes`` splits weights into files of at most that size (a tensor
    larger than the limit gets a file of its own). ``archive`` overrides the choice
    made from the name. An existing bundle at ``path`` is replaced, atomically and as a
    whole, only with ``overwrite=True``; anything else that exists there is never
    touched (see ``kif.bundle.destination``). ``check`` (default) validates the model
    first and writes nothing if it would not validate.

    ``digests`` (spec/integrity.md): ``"tensor"`` (default) records a SHA-256 of each weight file's header and of
    each tensor, so readers verify a tensor when it is first read and a lazy open stays at the cost of the headers
    (the document then needs spec 0.2.0); ``"file"`` records one SHA-256 per file, readable by 0.1 readers;
    ``"both"`` records both (each byte hashed twice).
    """
    if digests not in DIGEST_FORMS:
        raise UsageError(f"Expected digests to be one of {', '.join(DIGEST_FORMS)}. Received: digests={digests!r}", code="usage")
    where = plan(path, archive=archive, overwrite=overwrite)
    target = where.path
    _check_dtypes(model, target)
    files = _plan_files(model.weights, max_shard_bytes)
    members: dict[str, dict[str, np.ndarray]] = {name: {t: model.weights[t] for t in tensors} for name, tensors in files.items()}
    if model.self_test is not None:
        members[SELF_TEST_FILE] = {
            **{f"inputs/{k}": np.asarray(v) for k, v in model.self_test.inputs.items()},
            **{f"outputs/{k}": np.asarray(v) for k, v in model.self_test.outputs.items()},
        }
    sizes = {name: safetensors_io.file_size(tensors) for name, tensors in members.items()}
    # One document, built before anything is written (placeholder digests, filled in after the weights): what is
    # checked is the parsed JSON, exactly what a reader will see.
    doc = _skeleton(model, members, sizes, digests)
    if check:
        tested = set(members[SELF_TEST_FILE]) if SELF_TEST_FILE in members else None
        check_document(doc, str(target), tested)
    total = sum(sizes.values())
    bar = Progress(total, f"Writing {target.name}", enabled=progress)
    try:
        with atomic_bundle(target, directory=not where.archive, existing=where.existing) as tmp:
            if where.archive:
                _write_archive(tmp, doc, members, sizes, bar.advance, digests)
            else:
                _write_directory(tmp, doc, members, bar.advance, digests)
    except FileExistsError:
        raise KifError(
            f"Refusing to write {target.name!r}: something was created under that name while the bundle was written",
            code="write-refused",
            file=str(target),
        ) from None
    except OSError as exc:
        # The OS names the temporary file; the user knows only the target.
        reason = exc.strerror or str(exc)
        raise KifError(f"Could not write the bundle: {reason}", code="write-failed", file=str(target)) from None
    finally:
        bar.close()
    return target


def _check_dtypes(model: Model, target: Path) -> None:
    """Fail before anything is written, naming the tensor (an unsupported dtype would otherwise surface mid-write)."""
    from kif import dtypes

    for name, array in model.weights.items():
        try:
            dtypes.from_numpy(array.dtype)
        except KifError as exc:
            where = pointer("weights", "tensors", name)
            raise KifError(f"Weight {name!r}: {exc.message}", code=exc.code, file=str(target), pointer=where) from None


def _plan_files(weights: Mapping[str, np.ndarray], max_shard_bytes: int | None) -> dict[str, list[str]]:
    names = sorted(weights)
    if max_shard_bytes is None:
        return {"weights.safetensors": names}
    shards: list[list[str]] = [[]]
    size = 0
    for name in names:
        nbytes = int(weights[name].nbytes)
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    count = len(shards)
    return {f"weights-{i + 1:05d}-of-{count:05d}.safetensors": shard for i, shard in enumerate(shards)}


_PLACEHOLDER = "0" * 64


def _skeleton(model: Model, members: dict[str, dict[str, np.ndarray]], sizes: dict[str, int], digests: str) -> dict[str, Any]:
    """model.json as parsed JSON, digests still zero: ``_document`` fills them in once the files are written."""
    doc: dict[str, Any] = model.header_json()
    if not doc["producer"]:
        doc["producer"] = {"name": "kif-python", "version": __version__}
    per_tensor = digests in ("tensor", "both")
    if per_tensor:
        doc["kif_version"] = _at_least(doc["kif_version"], TENSOR_DIGESTS_SINCE)
    weight_files = [n for n in members if n != SELF_TEST_FILE]
    files: list[dict[str, Any]] = []
    for name in weight_files:
        entry: dict[str, Any] = {"path": name}
        if digests in ("file", "both"):
            entry["sha256"] = _PLACEHOLDER
        if per_tensor:
            entry["header_sha256"] = _PLACEHOLDER
        entry["size"] = sizes[name]
        files.append(entry)
    tensors: dict[str, Any] = {}
    for file in weight_files:
        for tensor, array in sorted(members[file].items()):
            tensors[tensor] = {"file": file, "dtype": _dtype_name(array), "shape": list(array.shape)}
            if per_tensor:
                tensors[tensor]["sha256"] = _PLACEHOLDER
    doc["weights"] = {"files": files, "tensors": tensors}
    if model.self_test is not None:
        doc["self_test"] = {
            "file": SELF_TEST_FILE,
            "sha256": _PLACEHOLDER,
            "size": sizes[SELF_TEST_FILE],
            "rtol": model.self_test.rtol,
            "atol": model.self_test.atol,
        }
    # Tuples become lists, keys strings: what readers see. Compact, so the C encoder does it (indent is pure Python).
    parsed: dict[str, Any] = json.loads(_encode(doc, indent=None))
    return parsed


def _document(doc: dict[str, Any], written: dict[str, tuple[safetensors_io.Digests, int]]) -> bytes:
    """``doc`` (from ``_skeleton``) with the written files' digests and sizes, as the bytes of model.json."""
    for entry in doc["weights"]["files"]:
        found, entry["size"] = written[entry["path"]]
        if "sha256" in entry:
            entry["sha256"] = found.sha256
        if "header_sha256" in entry:
            entry["header_sha256"] = found.header_sha256
    for tensor, entry in doc["weights"]["tensors"].items():
        if "sha256" in entry:
            entry["sha256"] = written[entry["file"]][0].tensors[tensor]
    if "self_test" in doc:
        found, doc["self_test"]["size"] = written[SELF_TEST_FILE]
        doc["self_test"]["sha256"] = found.sha256
    return _encode(doc)


def _encode(doc: dict[str, Any], indent: int | None = 1) -> bytes:
    separators = None if indent is not None else (",", ":")
    text = json.dumps(doc, indent=indent, separators=separators, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone UTF-16 surrogate (e.g. from a mis-decoded file name): not Unicode text
        context = text[max(exc.start - 30, 0) : exc.end + 10]
        message = f"Expected Unicode text in every string of the model. Received: a lone surrogate in {context!r}"
        raise KifError(message, code="document-invalid-json") from None


def _dtype_name(array: np.ndarray) -> str:
    from kif import dtypes

    return dtypes.from_numpy(array.dtype).name


def _write_directory(
    root: Path, doc: dict[str, Any], members: dict[str, dict[str, np.ndarray]], advance: Callable[[int], None], digests: str
) -> None:
    written = {}
    for name, tensors in members.items():
        with open(root / name, "wb") as stream:
            found = safetensors_io.write(EarlyWriteback(stream), tensors, progress=advance, whole_file=_whole_file(name, digests))
            written[name] = (found, stream.tell())
            _fsync(stream)
    with open(root / DOCUMENT, "wb") as stream:
        stream.write(_document(doc, written))
        _fsync(stream)


def _write_archive(
    path: Path,
    doc: dict[str, Any],
    members: dict[str, dict[str, np.ndarray]],
    sizes: dict[str, int],
    advance: Callable[[int], None],
    digests: str,
) -> None:
    """The bytes zipfile would write (kif.bundle.stored_zip), each member's CRC-32 computed on a worker thread while
    the same bytes are written (kif.bundle.crc)."""
    from concurrent.futures import ThreadPoolExecutor

    written = {}
    with open(path, "wb") as raw, ThreadPoolExecutor(max_workers=1) as pool:
        archive = StoredZipWriter(raw, _FIXED_DATE, _EXTERNAL_ATTR)
        for name, tensors in members.items():
            size = sizes[name]
            archive.start(name, _alignment_extra(name, raw.tell(), size), zip64=size > _ZIP64_LIMIT)
            data_start = raw.tell()
            stream = Crc32Writer(EarlyWriteback(raw), pool)
            found = safetensors_io.write(stream, tensors, progress=advance, whole_file=_whole_file(name, digests))
            if raw.tell() - data_start != size:  # the planned size went into the header
                raise KifError(f"Internal error: {name} was not written as planned ({size} bytes)", code="write-failed")
            archive.finish(size, stream.crc)
            written[name] = (found, size)
        document = _document(doc, written)
        archive.write_member(DOCUMENT, document, zlib.crc32(document), _alignment_extra(DOCUMENT, raw.tell(), len(document)))
        archive.close()


def _whole_file(name: str, digests: str) -> bool:
    """The self-test file always has a whole-file digest (spec/self-test.md); weight files per ``digests``."""
    return name == SELF_TEST_FILE or digests in ("file", "both")


def _at_least(version: Any, floor: str) -> Any:
    """``version`` raised to ``floor`` when it is a lower version; anything else is written as is (the validator names it)."""
    from kif.catalog import version_key

    try:
        return floor if version_key(version) < version_key(floor) else version
    except (AttributeError, TypeError, ValueError):
        return version


def _alignment_extra(name: str, header_offset: int, size: int) -> bytes:
    """The extra field that makes a STORED member's data start on a multiple of _ALIGNMENT bytes."""
    zip64_extra = 20 if size > _ZIP64_LIMIT else 0
    data_start = header_offset + 30 + len(name.encode()) + zip64_extra + 4
    pad = -data_start % _ALIGNMENT
    return struct.pack("<HH", _ALIGN_EXTRA_ID, pad) + b"\0" * pad


def _fsync(stream: BinaryIO) -> None:
    stream.flush()
    os.fsync(stream.fileno())
