"""SHA-256 digests of a converter's tensors, computed on the other cores while the model is still being mapped.

``kif convert`` and ``kif.keras.export`` know a weight's bytes as soon as its layer is mapped: a read-only view of a
live variable, or a memory map of the ``.h5``'s stored bytes (kif.keras.h5direct). Hashing them only when the
writer reaches them leaves the other cores idle while the rest of the model is mapped, shape-checked and
validated, and while the writer's modules are imported. Inside ``ahead()``, ``submit(tensor)`` starts the tensor's
SHA-256 at once on a worker thread (hashlib releases the GIL); the writer (kif.bundle.safetensors_write) takes the
result for that same object, and writes the very buffer that was hashed, so the digest recorded is the digest of
the bytes written. Only buffers the conversion cannot change are taken: a read-only array in file layout (the
export's views of the live variables: as for any save, the model must not be trained while it is written, and the
digest is then computed from the same buffer a little earlier) and mapped deferred tensors (read-only maps of the
source file). Anything else is hashed by the writer as before. Leaving ``ahead()`` cancels what has not started
and waits for what has: no thread outlives it, and no reference to a tensor's buffer either (a refused save hashes
at most what was already running).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

MAX_MAPPED = 1024  # mapped tensors hashed ahead at most (each holds a memory mapping; the kernel caps them, ~65k)


class Prehash:
    """Digests started ahead of the write; ``future(tensor)`` gives the view that was hashed and its digest."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.pool: ThreadPoolExecutor | None = None
        self.found: dict[int, tuple[Any, memoryview, Future[str]]] = {}  # id(tensor) → (tensor, its bytes, digest)
        self.mapped = 0

    def submit(self, tensor: Any) -> None:
        """Start hashing ``tensor``'s bytes if they cannot change before they are written; else do nothing."""
        if id(tensor) in self.found:
            return
        view = self._stable_bytes(tensor)
        if view is None:
            return
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kif-prehash")
        self.found[id(tensor)] = (tensor, view, self.pool.submit(_sha256, view))

    def future(self, tensor: Any) -> tuple[memoryview, Future[str]] | None:
        """The bytes hashed for this very object and their pending digest, or None."""
        entry = self.found.get(id(tensor))
        if entry is None or entry[0] is not tensor:
            return None
        return entry[1], entry[2]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.found.clear()

    def _stable_bytes(self, tensor: Any) -> memoryview | None:
        if getattr(tensor, "mapped", False):
            if self.mapped >= MAX_MAPPED or not tensor.size:
                return None
            try:
                array = np.asarray(tensor)  # the read-only map of the source's bytes
            except Exception:  # not hashed ahead: the writer makes it in its turn and reports the failure
                return None
            self.mapped += 1
            return memoryview(array.reshape(-1).view(np.uint8))
        if (
            not isinstance(tensor, np.ndarray)
            or tensor.flags.writeable
            or not tensor.flags.c_contiguous
            or tensor.dtype.byteorder == ">"
            or tensor.size == 0
            or tensor.dtype.hasobject
        ):
            return None
        return memoryview(tensor.reshape(-1).view(np.uint8))


_ACTIVE: ContextVar[Prehash | None] = ContextVar("kif_prehash", default=None)


def current() -> Prehash | None:
    """The ``ahead()`` in effect in this context, if any."""
    return _ACTIVE.get()


def submit(tensor: Any) -> None:
    """``current().submit(tensor)`` when an ``ahead()`` is in effect."""
    active = _ACTIVE.get()
    if active is not None:
        active.submit(tensor)


@contextlib.contextmanager
def ahead(workers: int | None = None) -> Iterator[Prehash]:
    found = Prehash(workers)
    token = _ACTIVE.set(found)
    try:
        yield found
    finally:
        _ACTIVE.reset(token)
        found.close()


def _sha256(data: memoryview) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
