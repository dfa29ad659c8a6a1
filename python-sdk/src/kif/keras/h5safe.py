"""An HDF5 file is audited before anything reads from it: only plain groups and datasets stored inside it.

HDF5 can make a read leave the file: external links (another file), soft links (a path
that may dangle or point anywhere), external storage (a dataset's bytes in a raw
file named inside it, e.g. /etc/passwd), virtual datasets (bytes mapped from other
files) and user-defined filters (a plugin library loaded by name). A Keras file needs
none of these, so each is refused with the object's path before any data is read.
Keras writers never hard-link one object twice either, and a second link is how a
group cycle is built, so an object with more than one link is refused as well.

The walk is iterative, visits each object once and stops at ``max_nesting_depth``.
Attribute values are checked against ``max_document_bytes`` before they are read.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from kif import limits
from kif.errors import KifError
from kif.keras.errors import ConversionError
from kif.keras.h5heap import start_check

# HDF5's own filters (H5Zpublic.h) and h5py's built-in LZF: decoded by code compiled into the
# library, never by a plugin found on HDF5_PLUGIN_PATH.
STANDARD_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}


# What h5py raises on a damaged file: HDF5's error stack becomes one of these, by error class.
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError, OverflowError)


def _unsafe(message: str, file: str, pointer: str) -> KifError:
    return ConversionError(message, code="convert-unsafe", file=file, pointer=pointer)


@contextlib.contextmanager
def guard(file: str, path: str, what: str = "read") -> Iterator[None]:
    """Any h5py/HDF5 failure inside becomes one ConversionError naming the file and the HDF5 object."""
    try:
        yield
    except KifError:
        raise
    except H5_ERRORS as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ConversionError(
            f"Damaged HDF5 file: cannot {what} {path!r} ({detail[:200]})", code="convert-unreadable", file=file, pointer=path
        ) from None


def open_file(source: str | Path | IO[bytes], file: str, meanwhile: Callable[[], None] | None = None) -> Any:
    """An h5py.File over ``source`` (a path or a seekable binary stream), its global heaps checked first.

    The heap scan of a file on disk runs while h5py is imported and ``meanwhile()`` runs (kif.keras.h5heap.start_check):
    work that does not read the file, e.g. importing what the caller will need next."""
    with contextlib.ExitStack() as stack:
        stream = open(source, "rb") if isinstance(source, (str, Path)) else source  # noqa: SIM115 - closed below
        if stream is not source:
            stack.callback(stream.close)
        with guard(file, "/", "scan"):
            finish = start_check(stream, file)
        try:
            import h5py

            if meanwhile is not None:
                meanwhile()
        finally:
            with guard(file, "/", "scan"):
                finish()
    try:
        return h5py.File(source, "r")
    except H5_ERRORS as exc:
        raise ConversionError(f"Corrupt HDF5 file: {exc}", code="convert-unreadable", file=file) from None


def audit(handle: Any, file: str) -> None:
    """Refuse the file unless every object reachable from its root is a plain group or dataset inside it."""
    depth_limit = limits.current().max_nesting_depth
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, str, int]] = [(handle, "/", 0)]
    while stack:
        group, path, depth = stack.pop()
        check_attributes(group, file, path)
        with guard(file, path, "list the members of"):
            members = list(group.id.__iter__())
        for raw in members:
            name = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)
            child = f"{path.rstrip('/')}/{name}"
            if isinstance(raw, bytes) and not _is_utf8(raw):
                raise ConversionError("an HDF5 name that is not UTF-8", code="convert-unreadable", file=file, pointer=ascii(child))
            with guard(file, child, "inspect"):
                _visit(group, raw, name, child, depth, depth_limit, seen, stack, file)


def _visit(
    group: Any, raw: Any, name: str, child: str, depth: int, depth_limit: int, seen: set[tuple[int, int]], stack: list, file: str
) -> None:
    """Audit one link of ``group``: a hard link to a group (queued) or a dataset (checked) seen once."""
    import h5py

    link = group.id.links.get_info(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape"))
    if link.type == h5py.h5l.TYPE_EXTERNAL:
        raise _unsafe("an HDF5 external link points into another file; KIF reads only the input file", file, child)
    if link.type == h5py.h5l.TYPE_SOFT:
        raise _unsafe("an HDF5 soft link; KIF follows no links (Keras writers store plain groups and datasets)", file, child)
    if link.type != h5py.h5l.TYPE_HARD:
        raise _unsafe(f"an HDF5 user-defined link (class {link.type}); KIF follows no links", file, child)
    info = h5py.h5o.get_info(group.id, raw if isinstance(raw, bytes) else name.encode("utf-8", "surrogateescape"))
    key = (info.fileno, info.addr)
    if info.rc > 1 or key in seen:
        raise _unsafe(f"an HDF5 object linked {max(info.rc, 2)} times (a shared object or a group cycle)", file, child)
    seen.add(key)
    if info.type == h5py.h5o.TYPE_GROUP:
        if depth + 1 > depth_limit:
            raise _unsafe(f"HDF5 groups nested deeper than max_nesting_depth={depth_limit}", file, child)
        stack.append((group[name], child, depth + 1))
    elif info.type == h5py.h5o.TYPE_DATASET:
        check_dataset(group[name], file, child)
    else:
        raise _unsafe("an HDF5 object that is neither a group nor a dataset (e.g. a committed datatype)", file, child)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_dataset(dataset: Any, file: str, path: str) -> None:
    """Storage inside the file, standard filters only, attributes of bounded size."""
    with guard(file, path, "inspect the dataset"):
        _check_storage(dataset, file, path)
    check_attributes(dataset, file, path)


def _check_storage(dataset: Any, file: str, path: str) -> None:
    plist = dataset.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise _unsafe("an HDF5 dataset with external storage (its bytes live in another file)", file, path)
    if dataset.is_virtual:
        raise _unsafe("an HDF5 virtual dataset (its bytes are mapped from other files)", file, path)
    for index in range(plist.get_nfilters()):
        code, _flags, _values, name = plist.get_filter(index)
        if code not in STANDARD_FILTERS:
            label = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            raise _unsafe(
                f"an HDF5 dataset compressed with filter {code} ({label!r}); expected one of the standard filters "
                + ", ".join(sorted(STANDARD_FILTERS.values())),
                file,
                path,
            )


def check_attributes(obj: Any, file: str, path: str) -> None:
    """An attribute declares its size before it is read: refuse one larger than a document may be."""
    with guard(file, path, "list the attributes of"):
        names = list(obj.attrs.keys())
    for raw in names:
        check_attribute(obj, raw, file, path)


def check_attribute(obj: Any, key: Any, file: str, path: str) -> None:
    """The attribute's dataspace, datatype and stored size, each bounded by max_document_bytes, before any read."""
    budget = limits.current().max_document_bytes
    with guard(file, f"{path} attribute {key!r}", "inspect"):
        attr = obj.attrs.get_id(key)
        space = attr.get_space()
        count = int(space.get_simple_extent_npoints())  # 1 for a scalar, 0 for a null dataspace
        itemsize = max(int(attr.get_type().get_size()), 1)
        stored = int(attr.get_storage_size()) if count else 0
    size = max(count * itemsize, stored)
    if size > budget:
        raise _unsafe(f"HDF5 attribute {key!r} declares {size} bytes, more than max_document_bytes={budget}", file, path)


def read_text_attribute(obj: Any, key: str, file: str, path: str) -> str | None:
    """A string attribute (bytes or str), decoded as strict UTF-8; None when absent."""
    with guard(file, path, f"look up attribute {key!r} of"):
        present = key in obj.attrs
    if not present:
        return None
    check_attribute(obj, key, file, path)
    with guard(file, path, f"read attribute {key!r} of"):
        value = obj.attrs[key]
    if hasattr(value, "tolist") and getattr(value, "shape", ()) == ():
        value = value.tolist()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConversionError(
                f"Expected HDF5 attribute {key!r} to be UTF-8 text. Received: undecodable bytes at {exc.start}",
                code="convert-config",
                file=file,
                pointer=path,
            ) from None
    if isinstance(value, str):
        return value
    raise ConversionError(
        f"Expected HDF5 attribute {key!r} to be a string. Received: {type(value).__name__}", code="convert-config", file=file, pointer=path
    )


def read(dataset: Any, selection: Any = ()) -> Any:
    """``dataset[selection]``, a failure of the damaged file named with the dataset (a weight is read when written)."""
    with guard(_filename(dataset), _dataset_name(dataset), "read weight"):
        return dataset[selection]


def file_label(dataset: Any) -> str:
    """The dataset's file name for messages."""
    return _filename(dataset)


def dataset_label(dataset: Any) -> str:
    """The dataset's HDF5 path for messages."""
    return _dataset_name(dataset)


def _filename(dataset: Any) -> str:
    try:
        return str(dataset.file.filename)
    except H5_ERRORS:
        return "<HDF5 file>"


def _dataset_name(dataset: Any) -> str:
    try:
        return str(dataset.name)
    except H5_ERRORS:
        return "<dataset>"


def tensor_bytes(dataset: Any) -> int:
    """Bytes the dataset (or its largest chunk, if larger) declares: the most a read of it allocates."""
    itemsize = max(int(dataset.dtype.itemsize), 1)
    total = math.prod(int(d) for d in dataset.shape) * itemsize
    chunks = dataset.chunks
    return max(total, math.prod(int(d) for d in chunks) * itemsize) if chunks else total
