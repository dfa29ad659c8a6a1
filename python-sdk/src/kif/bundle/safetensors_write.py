"""Streaming safetensors writing: the header planned, the data written and hashed in one pass.

Split from :mod:`kif.bundle.safetensors_io` (the reader's strict header parsing) so that an open does not load the
writer: its code, numpy-side byte preparation and thread-pool plumbing are read only by saves.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from kif import dtypes, strict_json
from kif._lean import Frozen
from kif.errors import WeightsError

if TYPE_CHECKING:  # concurrent.futures (with logging) costs a fresh process more than a lazy open does
    from concurrent.futures import Future

_ALIGN = 8  # header padded with spaces so the data section starts 8-byte aligned
_CHUNK = 16 * 1024 * 1024
MAPPED_AHEAD = 1024  # mapped deferred tensors made and queued for hashing before writing starts (the rest: in turn)


def plan_header(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> tuple[bytes, list[str]]:
    """The encoded header (length prefix included) and the order tensors are written in.

    Larger dtypes first, then by name, so every tensor starts aligned to its item size.
    """
    order = sorted(tensors, key=lambda n: (-tensors[n].dtype.itemsize, n))
    header: dict[str, object] = {}
    if metadata:
        for text in (*metadata.keys(), *metadata.values()):
            try:
                strict_json.check_text(text)  # a lone surrogate would be written as an escape no reader accepts
            except ValueError as exc:
                raise WeightsError(f"Expected Unicode text in __metadata__. Received: {exc}", code="weights-header-invalid") from None
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name in order:
        array = tensors[name]
        dtype = dtypes.from_numpy(array.dtype)
        header[name] = {
            "dtype": dtype.safetensors,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    import json  # the writer's encoder; readers parse with kif.strict_json, which does not import the json package

    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-(8 + len(encoded)) % _ALIGN)
    return struct.pack("<Q", len(encoded)) + encoded, order


def file_size(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> int:
    head, _ = plan_header(tensors, metadata)
    return len(head) + sum(int(t.nbytes) for t in tensors.values())


class Digests(Frozen):
    """SHA-256 digests of one written safetensors file (spec/integrity.md).

    ``sha256``: the whole file (None unless asked for); ``header_sha256``: the length prefix and header JSON;
    ``tensors``: tensor name → the digest of its data bytes; ``crc32``: the whole file's CRC-32 (None unless asked
    for: a ZIP member needs it).
    """

    __match_args__ = ("sha256", "header_sha256", "tensors", "crc32")

    __slots__ = __match_args__
    sha256: str | None
    header_sha256: str
    tensors: dict[str, str]
    crc32: int | None

    def __init__(self, sha256: str | None, header_sha256: str, tensors: dict[str, str], crc32: int | None = None) -> None:
        self._assign(sha256, header_sha256, tensors, crc32)


def write(
    stream: BinaryIO,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    whole_file: bool = True,
    crc: bool = False,
) -> Digests:
    """Stream a safetensors file to ``stream`` and hash it in the same pass: the header and each tensor always,
    the whole file too when ``whole_file`` (two digests per byte: 0.1 readers need it, 0.2 readers do not), and
    its CRC-32 when ``crc`` (for a ZIP member: computed on another core, in file order, while this thread writes).

    ``progress`` is called with the number of bytes of each piece written (the header, then each chunk).
    """
    import hashlib  # OpenSSL (SHA-NI, releases the GIL): imported by writers, not by an open

    file_digest = hashlib.sha256() if whole_file else None
    head, order = plan_header(tensors, metadata)
    stream.write(head)
    if file_digest is not None:
        file_digest.update(head)
    if progress is not None:
        progress(len(head))  # callers count whole files (file_size), header included
    per_tensor: dict[str, str] = {}
    checksum = _RunningCrc(head) if crc else None
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            # Per-tensor digests are computed on other cores while this thread writes (hashlib and file writes both
            # release the GIL on large buffers), so a save costs the write, not write + hash. Arrays already in file
            # layout are all queued at once; one that needs its bytes made (a deferred tensor read from a Keras file,
            # a strided or big-endian array) is hashed while it is being written and while the next one is made and
            # written, so at most two such tensors are in memory at once.
            views = _views(tensors, order)
            ahead = {n: pool.submit(_sha256, v) for n, v in views.items()}
            made: tuple[str, Future[str], Future[None] | None] | None = None  # the previous made tensor, still hashing
            for name in order:
                data = views.pop(name) if name in views else _file_bytes(tensors[name])
                pending = ahead.get(name) or pool.submit(_sha256, data)
                summed = checksum.add(data) if checksum is not None else None
                for start in range(0, len(data), _CHUNK):
                    chunk = data[start : start + _CHUNK]
                    stream.write(chunk)
                    if file_digest is not None:
                        file_digest.update(chunk)
                    if progress is not None:
                        progress(len(chunk))
                if made is not None:  # its bytes are released before the next tensor's are made
                    per_tensor[made[0]] = made[1].result()
                    if made[2] is not None:
                        made[2].result()
                    made = None
                if name in ahead:
                    per_tensor[name] = pending.result()
                else:
                    made = (name, pending, summed)
                del data
            if made is not None:
                per_tensor[made[0]] = made[1].result()
        if checksum is not None:
            checksum.wait()
    finally:
        if checksum is not None:
            checksum.close()  # also when a write fails: no worker thread left behind
    whole = file_digest.hexdigest() if file_digest is not None else None
    return Digests(whole, hashlib.sha256(head).hexdigest(), per_tensor, checksum.crc if checksum is not None else None)


class _RunningCrc:
    """CRC-32 of a sequence of buffers, computed in order on one worker thread (zlib releases the GIL on large
    buffers), so the writing thread does not pay for it."""

    def __init__(self, head: bytes) -> None:
        self.crc = zlib.crc32(head)
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1)
        self.last: Future[None] | None = None

    def _step(self, data: memoryview) -> None:
        self.crc = zlib.crc32(data, self.crc)

    def add(self, data: memoryview) -> Future[None]:
        self.last = self.pool.submit(self._step, data)
        return self.last

    def wait(self) -> None:
        if self.last is not None:
            self.last.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _views(tensors: Mapping[str, np.ndarray], order: list[str]) -> dict[str, memoryview]:
    """The bytes of the tensors that can be queued for hashing before any is written: arrays in file layout, and up
    to MAPPED_AHEAD mapped deferred tensors (each is a memory mapping; the kernel caps a process's mappings, ~65k)."""
    views: dict[str, memoryview] = {}
    mapped = 0
    for name in order:
        tensor = tensors[name]
        if getattr(tensor, "mapped", False):
            if mapped >= MAPPED_AHEAD:
                continue  # made in its turn, as tensors made in memory are
            mapped += 1
        view = _in_place(tensor)
        if view is not None:
            views[name] = view
    return views


def _in_place(array: np.ndarray) -> memoryview | None:
    """The bytes written for ``array`` when they are the array's own buffer (no copy needed), or a mapped deferred
    tensor's view of its file; else None (a deferred tensor made in memory exists only while it is written)."""
    if getattr(array, "mapped", False) and array.size:
        return _file_bytes(array)
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or array.dtype.byteorder == ">" or array.size == 0:
        return None
    return memoryview(array.reshape(-1).view(np.uint8))


def _file_bytes(array: np.ndarray) -> memoryview:
    """The tensor's bytes as the file stores them: C order, little-endian (a copy only when the array is not)."""
    flat = np.ascontiguousarray(array)
    if flat.dtype.byteorder == ">":
        flat = flat.astype(flat.dtype.newbyteorder("<"))
    return memoryview(flat.reshape(-1).view(np.uint8)) if flat.size else memoryview(b"")


def _sha256(data: memoryview) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
