"""CRC-32 of the data written to a ZIP member, at the speed of the machine and off the writing thread.

A ``.kif`` archive needs the CRC-32 of every member (the ZIP format's, the polynomial of ``zlib.crc32``).
``zlib.crc32`` is table-driven: 2.5-3.8 GB/s on this machine's CPU, 0.44 s of CPU per GiB saved, about a third of
an archive save's CPU on top of the write and the SHA-256 digests. libdeflate's ``libdeflate_crc32`` computes the
same value with carry-less multiplication (PCLMULQDQ): 10-17 GB/s here. It is used through ctypes where the system
has the library (Debian and Ubuntu install it with libtiff); elsewhere ``zlib.crc32`` is. Either releases the GIL.

``Crc32Writer`` wraps the stream a member is written to: each large piece's CRC-32 is computed on a worker
thread while the same piece is written, and ``write`` returns once both are done, so no reference to the caller's
buffer outlives the call (the writer's bound on tensors alive holds unchanged).
"""

from __future__ import annotations

import ctypes
import functools
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_LIBRARIES = ("libdeflate.so.0", "libdeflate.so", "libdeflate.0.dylib", "libdeflate.dylib")  # POSIX names only
_CHECK = b"123456789"  # the CRC-32 catalogue's check input; its CRC-32 is 0xCBF43926
_INLINE = 1 << 16  # smaller pieces are checksummed on the calling thread: a hand-off would cost more


@functools.cache
def _libdeflate() -> Callable[[int, int, int], int] | None:
    """libdeflate_crc32(crc, address, length), or None when no library gives the CRC-32 zlib gives."""
    for name in _LIBRARIES:
        try:
            call = ctypes.CDLL(name).libdeflate_crc32
        except (OSError, AttributeError):
            continue
        call.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t]
        call.restype = ctypes.c_uint32
        probe = bytes(range(256)) * 33 + _CHECK  # long enough for its vector path, odd length for its tail
        buffer = ctypes.create_string_buffer(probe, len(probe))
        if call(0, ctypes.addressof(buffer), len(probe)) == zlib.crc32(probe) and call(0, ctypes.addressof(buffer), 0) == 0:
            return call
    return None


def implementation() -> str:
    """The CRC-32 in use: ``"libdeflate"`` or ``"zlib"``."""
    return "libdeflate" if _libdeflate() is not None else "zlib"


def crc32(data: Any, value: int = 0) -> int:
    """``zlib.crc32(data, value)`` for any C-contiguous buffer, through libdeflate when the system has it."""
    call = _libdeflate()
    if call is None:
        return zlib.crc32(data, value)
    array = np.frombuffer(data, dtype=np.uint8)  # the buffer's address without a copy, read-only buffers too
    return call(value, array.ctypes.data, array.nbytes) if array.nbytes else value


class Crc32Writer:
    """Writes through to ``stream`` and keeps the CRC-32 of everything written (``crc``); ``pool`` has one worker."""

    def __init__(self, stream: BinaryIO | Any, pool: ThreadPoolExecutor) -> None:
        self.stream = stream
        self.pool = pool
        self.crc = 0

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if view.nbytes < _INLINE:
            self.crc = crc32(view, self.crc)
            return self.stream.write(data)
        pending = self.pool.submit(crc32, view, self.crc)
        try:
            written = self.stream.write(data)
        except BaseException:
            if not pending.cancel():
                pending.exception()  # waits: the buffer is the caller's again once write returns
            raise
        self.crc = pending.result()
        return written

    def tell(self) -> int:
        return self.stream.tell()
