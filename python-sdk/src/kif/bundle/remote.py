"""Bundles read from an fsspec URL (``memory://``, ``file://``, ``http(s)://``, ``s3://`` ...) with ranged reads.

Opening an archive costs a handful of small reads: the ZIP end record and central directory, each member's local
header, then (from the pipeline) ``model.json`` and each safetensors header. A tensor is one ranged read of exactly
its bytes, made when it is touched. With per-tensor digests (spec 0.2, what ``kif.save`` writes by default)
``kif.load(url)`` checks each tensor's digest over the bytes of that ranged read, so a verified open also reads only
what is named above. Only whole-file digests (spec 0.1) are streamed in full, in ranged chunks, and ``kif validate``
reads every tensor once to check them all; ``kif.load(url, verify=False)`` and ``kif inspect`` never hash.

fsspec is an optional dependency (the ``remote`` extra; ``http(s)://`` also needs aiohttp, which the extra installs).
"""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath
from typing import Any

from kif import _optional
from kif.errors import BundleError

# A scheme of RFC 3986 followed by "://"; a Windows drive letter ("C:\\") never has the two slashes.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://.*", re.DOTALL)
_READ_AHEAD = 1024  # one request covers a local header with its name and extra field (three reads)


def is_url(path: object) -> bool:
    """True for a string that names a location through a URL scheme (``memory://x.kif``), not a local path."""
    return isinstance(path, str) and _URL.fullmatch(path) is not None


class RangeReader:
    """Ranged reads of one remote file; counts what it transferred (``bytes_read``, ``requests``)."""

    def __init__(self, fs: Any, path: str, size: int, label: str) -> None:
        self.fs, self.path, self.size, self.label = fs, path, size, label
        self.bytes_read = 0
        self.requests = 0

    def read(self, offset: int, length: int) -> bytes:
        """Exactly the bytes ``[offset, offset + length)``, clipped to the file; a short answer is an error."""
        end = min(self.size, offset + max(0, length))
        if end <= offset:
            return b""
        try:
            data = self.fs.cat_file(self.path, start=offset, end=end)
        except Exception as exc:  # any transport failure (aiohttp, botocore, OSError ...) is one finding, not a traceback
            raise BundleError(
                f"Expected a readable remote file. {type(exc).__name__}: {exc}", code="bundle-unreadable", file=self.label
            ) from None
        self.requests += 1
        self.bytes_read += len(data)
        if len(data) != end - offset:  # e.g. a server that ignores Range and sends the whole file
            raise BundleError(
                f"Expected {end - offset} bytes for the range [{offset}, {end}). Received: {len(data)} (does the server honour Range?)",
                code="bundle-unreadable",
                file=self.label,
            )
        return data


class RangeFile(io.RawIOBase):
    """A seekable read-only file over a RangeReader, for the archive reader; reads ahead a little so small reads share a request."""

    def __init__(self, reader: RangeReader) -> None:
        super().__init__()
        self._reader = reader
        self._position = 0
        self._cache_start = 0
        self._cache = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._reader.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._reader.size - self._position if size is None or size < 0 else size
        end = min(self._reader.size, self._position + wanted)
        if end <= self._position:
            return b""
        cache_end = self._cache_start + len(self._cache)
        if not (self._cache_start <= self._position and end <= cache_end):
            self._cache_start = self._position
            self._cache = self._reader.read(self._position, max(end - self._position, _READ_AHEAD))
        data = self._cache[self._position - self._cache_start : end - self._cache_start]
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class RemoteSpan:
    """What ``Container.view`` gives for a remote member: its length, and slices read on demand (for streamed hashing)."""

    def __init__(self, reader: RangeReader, offset: int, size: int) -> None:
        self._reader, self._offset, self._size = reader, offset, size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self._size)
        return self._reader.read(self._offset + start, stop - start)


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``; one-line errors for a missing fsspec or an unknown scheme."""
    fsspec = _optional.require("fsspec", "Reading a bundle from a URL")
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # the scheme's own package (aiohttp for http, s3fs for s3 ...) is missing
        raise _optional.MissingDependencyError(
            f"Reading {url.split('://', 1)[0]}:// URLs needs a package that is not installed ({exc}). "
            f"Install it with: {_optional.install_command('fsspec')}",
            code="dependency-missing",
        ) from None
    except ValueError as exc:
        raise BundleError(f"Expected a URL whose scheme fsspec knows. {exc}", code="bundle-unreadable", file=url) from None


class BytesReader:
    """A RangeReader's interface over bytes already fetched (model.json of an unlisted directory: read once)."""

    def __init__(self, data: bytes, label: str) -> None:
        self.data, self.size, self.label = data, len(data), label
        self.bytes_read = len(data)
        self.requests = 1

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + max(0, length)]


def open_remote(url: str) -> Any:
    """A Container for the bundle at ``url``: an archive (read by ranges), a directory where the filesystem lists, or
    (a URL ending in ``/`` on a filesystem that does not list, such as plain HTTP) the directory its model.json names."""
    from kif.bundle.container import Container, Member, scan_archive
    from kif.bundle.zip_directory import is_zip

    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        if url.endswith("/"):
            return _open_unlisted(fs, url)
        raise BundleError("Expected a bundle directory or .kif archive. The URL names nothing", code="bundle-not-found", file=url) from None
    except Exception as exc:
        raise BundleError(f"Expected a readable URL. {type(exc).__name__}: {exc}", code="bundle-unreadable", file=url) from None
    if url.endswith("/") and info.get("type") != "directory":  # e.g. a web server's HTML index page
        return _open_unlisted(fs, url)
    label = PurePosixPath(url.split("://", 1)[1])
    if info.get("type") == "directory":
        container = Container(label, is_archive=False, url=url.rstrip("/"))
        for entry in sorted(fs.ls(path, detail=True), key=lambda e: str(e["name"])):
            name = PurePosixPath(str(entry["name"])).name
            if entry.get("type") == "directory":
                container.add("bundle-unlisted-file", "A directory inside a bundle is not part of it", name)
                continue
            size = int(entry.get("size") or 0)
            reader = RangeReader(fs, str(entry["name"]), size, container.member_label(name))
            container.members[name] = Member(name, label / name, 0, size, source=reader)
        return container
    size = info.get("size")
    if size is None:
        raise BundleError("Expected the server to state the file's size (Content-Length)", code="bundle-unreadable", file=url)
    reader = RangeReader(fs, path, int(size), url)
    container = Container(label, is_archive=True, url=url, source=reader)
    stream = RangeFile(reader)
    if not is_zip(stream, int(size)):
        raise BundleError(
            "Expected a bundle directory or a ZIP (.kif) archive. Received: a file that is neither", code="bundle-unreadable", file=url
        )
    scan_archive(container, stream, int(size))
    return container


def _open_unlisted(fs: Any, url: str) -> Any:
    """A directory bundle on a filesystem that cannot list it: model.json, then each member it names.

    Only names that are bundle members by the schema's ``file_name`` rule (no ``/``, no leading dot) are fetched, so a
    hostile document cannot make the reader request anything outside the directory; a name that is not there is
    left out for the pipeline to report as missing. Files that model.json does not name cannot be seen, so the
    ``bundle-unlisted-file`` rule is not checked (docs/guide.md says so).
    """
    from kif import limits
    from kif.bundle.container import DOCUMENT, Container, Member

    base = url.rstrip("/")
    container = Container(PurePosixPath(base.split("://", 1)[1]), is_archive=False, url=base)
    size = _size_of(fs, f"{base}/{DOCUMENT}")
    if size is None:
        message = f"Expected {DOCUMENT} in the bundle directory. The URL {base}/{DOCUMENT} names nothing"
        raise BundleError(message, code="bundle-not-found", file=url)
    label = container.member_label(DOCUMENT)
    if size > limits.current().max_document_bytes:  # not fetched: the pipeline reports document-too-large from the size
        reader = RangeReader(fs, f"{base}/{DOCUMENT}", size, label)
        container.members[DOCUMENT] = Member(DOCUMENT, PurePosixPath(label), 0, size, source=reader)
        return container
    document = RangeReader(fs, f"{base}/{DOCUMENT}", size, label).read(0, size)
    container.members[DOCUMENT] = Member(DOCUMENT, PurePosixPath(label), 0, size, source=BytesReader(document, label))
    for name in _named_members(document):
        member_size = _size_of(fs, f"{base}/{name}")
        if member_size is not None:
            reader = RangeReader(fs, f"{base}/{name}", member_size, container.member_label(name))
            container.members[name] = Member(name, PurePosixPath(container.member_label(name)), 0, member_size, source=reader)
    return container


_MEMBER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\.safetensors")  # the schema's file_name


def _named_members(document: bytes) -> list[str]:
    """Weight and self-test file names model.json gives, when it parses; anything else is the pipeline's to report."""
    from kif import limits, strict_json

    try:
        doc = strict_json.loads(document.decode("utf-8"), max_depth=limits.current().max_nesting_depth)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    names: list[Any] = []
    if isinstance(doc, dict):
        weights = doc.get("weights")
        files = weights.get("files") if isinstance(weights, dict) else None
        names += [f.get("path") for f in files if isinstance(f, dict)] if isinstance(files, list) else []
        test = doc.get("self_test")
        names += [test.get("file")] if isinstance(test, dict) else []
    return sorted({n for n in names if isinstance(n, str) and _MEMBER_NAME.fullmatch(n)})


def _size_of(fs: Any, path: str) -> int | None:
    """A remote file's size (its Content-Length over HTTP), None when it does not exist."""
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise BundleError(f"Expected a readable URL. {type(exc).__name__}: {exc}", code="bundle-unreadable", file=path) from None
    size = info.get("size")
    if size is None or info.get("type") == "directory":
        raise BundleError("Expected the server to state the file's size (Content-Length)", code="bundle-unreadable", file=path)
    return int(size)


def transferred(container: Any) -> tuple[int, int]:
    """(bytes, requests) a remote container's readers have transferred so far; (0, 0) for a local one."""
    readers = {id(r): r for r in [container.source, *(m.source for m in container.members.values())] if r is not None}
    return sum(r.bytes_read for r in readers.values()), sum(r.requests for r in readers.values())
