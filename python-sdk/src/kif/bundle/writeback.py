"""Early writeback: the kernel starts writing each large piece of a bundle to disk as soon as it is written.

The bundle is still fsynced before it is renamed into place (kif.bundle.atomic); this only moves the disk
writes under the hashing and writing of the following tensors, so the final fsync waits for the last piece
rather than the whole file. Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, a hint that never blocks on
completion; elsewhere, or if the call fails, nothing changes.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any, BinaryIO

_WRITE = 2  # SYNC_FILE_RANGE_WRITE: start writeback of the dirty pages in the range, do not wait
_LARGE = 4 * 1024 * 1024  # smaller pieces are left to the kernel's own writeback


@cache
def _sync_file_range() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


class EarlyWriteback:
    """Wraps a binary file opened for writing; ``write`` starts the writeback of what it wrote once it is large."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.start = stream.tell()
        self.pending = 0

    def write(self, data: Any) -> int:
        written = self.stream.write(data)
        self.pending += written
        if self.pending >= _LARGE:
            call = _sync_file_range()
            if call is not None:
                self.stream.flush()
                end = self.stream.tell()
                call(self.stream.fileno(), self.start, end - self.start, _WRITE)  # a hint: its result is not needed
                self.start = end
            self.pending = 0
        return written

    def tell(self) -> int:
        return self.stream.tell()
