"""Bundles read from an fsspec URL (``memory://``, ``file://``, ``http(s)://``, ``s3://`` ...) with ranged reads.

Opening an archive costs a handful of small reads: the ZIP end record and central directory, each member's local
header, then (from the pipeline) ``model.json`` and each safetensors header. A tensor is one ranged read of exactly
its bytes, made when it is touched. Nothing is downloaded whole unless it is hashed: a SHA-256 pass (``kif validate``,
``kif.load(url)`` with its default ``verify=True``) streams every weight file once in ranged chunks, because spec
0.1's checksums cover whole files; ``kif.load(url, verify=False)`` and ``kif inspect`` read only what is named above.

fsspec is an optional dependency (the ``remote`` extra; ``http(s)://`` also needs aiohttp, which the extra installs).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath
from typing import Any

from kif import _optional
from kif.errors import BundleError

# A scheme of RFC 3986 followed by "://"; a Windows drive letter ("C:\\") never has the two slashes.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://.*", re.DOTALL)
_READ_AHEAD = 1024  # one request covers a local header with its name and extra field (three reads by zipfile)


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
    """A seekable read-only file over a RangeReader, for ``zipfile``; reads ahead a little so small reads share a request."""

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


def open_remote(url: str) -> Any:
    """A Container for the bundle at ``url``: an archive (read by ranges) or, where the filesystem lists, a directory."""
    from kif.bundle.container import Container, Member, scan_archive

    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise BundleError("Expected a bundle directory or .kif archive. The URL names nothing", code="bundle-not-found", file=url) from None
    except Exception as exc:
        raise BundleError(f"Expected a readable URL. {type(exc).__name__}: {exc}", code="bundle-unreadable", file=url) from None
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
    if not zipfile.is_zipfile(stream):
        raise BundleError(
            "Expected a bundle directory or a ZIP (.kif) archive. Received: a file that is neither", code="bundle-unreadable", file=url
        )
    scan_archive(container, stream, int(size))
    return container


def transferred(container: Any) -> tuple[int, int]:
    """(bytes, requests) a remote container's readers have transferred so far; (0, 0) for a local one."""
    readers = {id(r): r for r in [container.source, *(m.source for m in container.members.values())] if r is not None}
    return sum(r.bytes_read for r in readers.values()), sum(r.requests for r in readers.values())
