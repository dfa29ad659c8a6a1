"""A weight read straight from the bytes of an HDF5 file, without h5py making a copy of it.

Most datasets Keras writes are stored contiguously, unfiltered, in a standard little-endian type: their bytes in
the file are exactly the array in C order, which is also how a safetensors file stores it. Such a dataset is
memory-mapped (through the descriptor h5py opened, so it is the file that was audited) and the bundle writer
writes, hashes and checksums it from the page cache: no intermediate copy. Anything else (chunked, compressed,
big-endian, non-standard float layouts, unallocated storage, a ``.keras`` member read through a stream, a range
past the end of the file) returns None from ``byte_range`` and is read by h5py as before.
"""

from __future__ import annotations

import math
import mmap
import os
from functools import cache
from typing import Any

import numpy as np

from kif.keras.errors import ConversionError
from kif.keras.h5safe import H5_ERRORS


@cache
def _standard_types() -> dict[np.dtype, Any]:
    from h5py import h5t

    pairs = [
        ("<f2", h5t.IEEE_F16LE),
        ("<f4", h5t.IEEE_F32LE),
        ("<f8", h5t.IEEE_F64LE),
        ("<i1", h5t.STD_I8LE),
        ("<i2", h5t.STD_I16LE),
        ("<i4", h5t.STD_I32LE),
        ("<i8", h5t.STD_I64LE),
        ("<u1", h5t.STD_U8LE),
        ("<u2", h5t.STD_U16LE),
        ("<u4", h5t.STD_U32LE),
        ("<u8", h5t.STD_U64LE),
    ]
    return {np.dtype(name): kind for name, kind in pairs}


def byte_range(dataset: Any, dtype: np.dtype) -> tuple[int, int, int] | None:
    """(file descriptor, offset, size) of ``dataset``'s stored bytes when they are its ``dtype`` array in C order."""
    if not type(dataset).__module__.startswith("h5py."):
        return None  # another source's dataset-like reader (e.g. a SavedModel's)
    from h5py import h5d

    standard = _standard_types().get(np.dtype(dtype))
    if standard is None:
        return None
    try:
        if dataset.file.driver != "sec2":  # a stream (e.g. inside a .keras archive): offsets are not file offsets
            return None
        dsid = dataset.id
        plist = dsid.get_create_plist()
        if plist.get_layout() != h5d.CONTIGUOUS or plist.get_nfilters() or plist.get_external_count():
            return None
        if not dsid.get_type().equal(standard):
            return None
        offset = dsid.get_offset()  # None while the storage is unallocated (the fill value is the data)
        nbytes = math.prod(int(d) for d in dataset.shape) * np.dtype(dtype).itemsize
        if offset is None or nbytes == 0 or int(dsid.get_storage_size()) != nbytes:
            return None
        fd = int(dataset.file.id.get_vfd_handle())
        if offset < 0 or offset + nbytes > os.fstat(fd).st_size:
            return None  # h5py reports the damage when it reads
    except (*H5_ERRORS, NotImplementedError):
        return None
    return fd, int(offset), nbytes


def load(span: tuple[int, int, int], dtype: np.dtype, shape: tuple[int, ...], file: str, name: str) -> np.ndarray:
    """The read-only array over the mapped bytes (the mapping lives as long as the array)."""
    fd, offset, nbytes = span
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        if offset + nbytes > os.fstat(fd).st_size:
            raise OSError("the file is shorter than when it was opened")
        mapped = mmap.mmap(fd, offset + nbytes - start, access=mmap.ACCESS_READ, offset=start)
    except (OSError, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise ConversionError(f"Cannot read weight {name!r}: {detail}", code="convert-unreadable", file=file, pointer=name) from None
    count = nbytes // np.dtype(dtype).itemsize
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset - start).reshape(shape)
    array.flags.writeable = False  # a read-only map: say so on the array too
    return array
