"""Reading ``.npz`` / ``.npy`` input files without trusting them.

``numpy.load`` inflates a member before looking at it, so a deflate bomb (a few KB that expand
to gigabytes) is allocated before anything refuses it. Here each member is streamed: its
``.npy`` header is parsed first (no pickles, no object dtypes, a shape within the format's
bounds), its size is checked against ``max_npz_bytes`` (all members together) and
``max_tensor_bytes`` (each array), and exactly the bytes the header promises are read into
a preallocated array, so no more than that is ever inflated. Every failure is one
``KifError`` with code ``run-inputs`` naming the file and the member.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from kif import limits, sizes
from kif.errors import KifError

_CHUNK = 1 << 20


def _fail(message: str, file: Path, member: str | None = None) -> KifError:
    return KifError(message, code="run-inputs", file=f"{file}!{member}" if member else str(file))


def _read_array(stream: BinaryIO, budget: int, file: Path, member: str | None, declared: int | None = None) -> np.ndarray:
    try:
        version = npy_format.read_magic(stream)
        readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = readers[version](stream)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as exc:
        raise _fail(f"Expected a .npy array header. {exc}", file, member) from None
    if dtype.hasobject:  # an array of strings saved as dtype O: a pickle, read by a loader that builds only strings
        return _object_array(stream, shape, min(budget, limits.current().max_tensor_bytes, declared or budget), file, member)
    problem = sizes.shape_problem(shape)
    if problem is not None:
        raise _fail(f"Expected a shape within the format's bounds; {problem}", file, member)
    nbytes = sizes.elements(shape) * dtype.itemsize
    bound = limits.current()
    if nbytes > min(budget, bound.max_tensor_bytes):
        raise _fail(
            f"Array of shape {list(shape)} {dtype} needs {sizes.human(nbytes)}; the limits allow "
            f"{sizes.human(min(budget, bound.max_tensor_bytes))} (max_npz_bytes for the file, max_tensor_bytes per array)",
            file,
            member,
        )
    if declared is not None and nbytes > declared:  # the stream stops at the declared size: refuse before allocating
        raise _fail(f"Array header promises {nbytes} bytes; the member declares only {declared}", file, member)
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    view = memoryview(array.reshape(-1, order="A").view(np.uint8)) if nbytes else memoryview(b"")
    filled = 0
    try:
        while filled < nbytes:
            got = stream.readinto(view[filled : filled + _CHUNK])  # type: ignore[attr-defined]
            if not got:
                raise _fail(f"Array data ends after {filled} of {nbytes} bytes", file, member)
            filled += got
        if stream.read(1):
            raise _fail("Member holds bytes after the array data", file, member)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # zlib errors and CRC mismatches surface as these
        raise _fail(f"Damaged member. {exc}", file, member) from None
    return array


def _object_array(stream: BinaryIO, shape: tuple[int, ...], bound: int, file: Path, member: str | None) -> np.ndarray:
    from kif import strings

    if sizes.shape_problem(shape) is not None:
        raise _fail(f"Expected a shape within the format's bounds. Received: {list(shape)}", file, member)
    data = stream.read(bound + 1)
    if len(data) > bound:
        raise _fail(f"Object array needs more than {sizes.human(bound)} (max_npz_bytes, max_tensor_bytes)", file, member)
    try:
        return strings.read_object_array(data, tuple(shape), f"{file}!{member}" if member else str(file))
    except KifError as exc:
        raise _fail(exc.message, file, member) from None


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file by name (member name without ``.npy``)."""
    file = Path(path)
    budget = limits.current().max_npz_bytes
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith(".npy"):
                    raise _fail("Expected only .npy members", file, info.filename)
                if info.file_size > budget:
                    raise _fail(
                        f"Member declares {sizes.human(info.file_size)}, above what is left of max_npz_bytes ({sizes.human(budget)})",
                        file,
                        info.filename,
                    )
                with archive.open(info) as stream:
                    array = _read_array(stream, budget, file, info.filename, info.file_size)  # type: ignore[arg-type]
                budget -= array.nbytes
                out[info.filename[: -len(".npy")]] = array
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise _fail(f"Expected a readable .npz (ZIP) file. {exc}", file) from None
    return out


def load_npy(path: str | Path) -> np.ndarray:
    file = Path(path)
    with open(file, "rb") as stream:
        return _read_array(stream, limits.current().max_npz_bytes, file, None)
