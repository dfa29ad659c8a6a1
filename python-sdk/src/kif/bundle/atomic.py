"""Atomic creation or replacement of a bundle: build under a temporary name, then rename.

The final name holds nothing, the previous complete bundle or the new complete bundle,
whatever happens: an exception, an interrupt or ``kill -9`` at any instant. Temporary
names sit beside the target (so a rename never crosses file systems) and record who
made them: ``.kif-tmp-<host>-<pid>-<random>`` for the bundle being written and
``.kif-old-<host>-<pid>-<random>/`` for a bundle moved aside during a directory swap.
``clean_stale`` removes those a dead writer left, and puts a moved-aside bundle back
when its final name is empty; it never touches the names of a live process or any
other name.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_PREFIX = ".kif-tmp-"
OLD_PREFIX = ".kif-old-"
_NAME = re.compile(r"\.kif-(tmp|old)-([0-9a-f]{8})-([0-9]+)-[0-9a-f]{16}")
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


@functools.cache
def _host_tag() -> str:
    """The host and PID namespace a pid belongs to: a pid means nothing outside them."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    try:
        from _blake2 import blake2s  # what hashlib.blake2s is, without hashlib loading OpenSSL
    except ImportError:
        from hashlib import blake2s
    return blake2s(f"{_hostname()}/{namespace}".encode(), digest_size=4).hexdigest()


def _hostname() -> str:
    """socket.gethostname() without importing socket (~3 ms in a fresh process): both are uname's node name."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _fresh(parent: Path, prefix: str, directory: bool) -> Path:
    """A new temporary name beside the target. Unlike mkstemp/mkdtemp (0600/0700), the
    permissions follow the umask, as for any file the user writes, and survive the final rename."""
    while True:
        path = parent / f"{prefix}{_host_tag()}-{os.getpid()}-{os.urandom(8).hex()}"
        try:
            os.mkdir(path) if directory else open(path, "xb").close()
            return path
        except FileExistsError:
            continue


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clean_stale(parent: Path) -> list[str]:
    """Remove the temporary names a dead writer of this host left in ``parent``; return them."""
    cleaned = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return cleaned
    tag = _host_tag()
    for entry in entries:
        found = _NAME.fullmatch(entry.name)
        if found is None or found.group(2) != tag or _alive(int(found.group(3))):
            continue
        with contextlib.suppress(OSError):
            if found.group(1) == "old":
                _restore_or_drop(entry, parent)
            else:
                _discard(entry)
            cleaned.append(entry.name)
    return cleaned


def _restore_or_drop(holder: Path, parent: Path) -> None:
    """A writer died between moving the old bundle aside and moving the new one in."""
    for moved in holder.iterdir():
        final = parent / moved.name
        if not final.exists() and not final.is_symlink():
            os.rename(moved, final)
        else:
            _discard(moved)
    holder.rmdir()


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@functools.cache
def _libc_renameat2() -> Any:
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2; False where the system or the file system does not offer it."""
    call = _libc_renameat2()
    if call is None:
        return False
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    import ctypes

    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: flag not supported here
        return False
    raise OSError(err, os.strerror(err), str(dst))


def move_noreplace(src: Path, dst: Path) -> None:
    """Rename, failing with FileExistsError instead of replacing a name that appeared meanwhile."""
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if src.is_dir():
        os.rename(src, dst)  # POSIX refuses a non-empty directory or a file as the target of a directory
        return
    try:
        os.link(src, dst)  # fails if dst exists
    except FileExistsError:
        raise
    except OSError:
        if dst.exists() or dst.is_symlink():
            raise FileExistsError(17, "File exists", str(dst)) from None
        os.rename(src, dst)
        return
    src.unlink()


def _swap(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target`` and the previous ``target`` at ``tmp`` (removed by the caller)."""
    if not tmp.is_dir() and not target.is_dir():
        os.replace(tmp, target)  # one atomic rename; the old inode goes when no one maps it
        return
    if _renameat2(tmp, target, _RENAME_EXCHANGE):
        return
    # Two renames: move the old bundle aside, move the new one in; put the old one back if that
    # fails. Only a kill between the two leaves the final name empty; clean_stale restores it.
    holder = _fresh(target.parent, OLD_PREFIX, directory=True)
    aside = holder / target.name
    try:
        os.rename(target, aside)
        move_noreplace(tmp, target)
    except BaseException:
        if aside.exists() and not target.exists():
            os.rename(aside, target)
        if not aside.exists():
            holder.rmdir()
        raise
    _discard(holder)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_bundle(target: Path, *, directory: bool, existing: str | None) -> Iterator[Path]:
    """Yield a temporary path to write the bundle into; on success it becomes ``target``.

    ``existing`` says what the caller found at ``target``: "bundle" (one it may replace: it is
    swapped out), "empty" (an empty folder, removed only if still empty) or None (the target
    must still be absent when the write ends, else FileExistsError).
    """
    tmp = _fresh(target.parent, TMP_PREFIX, directory)
    try:
        yield tmp
        if not directory:
            with open(tmp, "rb+") as stream:
                os.fsync(stream.fileno())
        else:
            _fsync_dir(tmp)
        if existing == "bundle":
            _swap(tmp, target)
        else:
            if existing == "empty":
                os.rmdir(target)  # fails, and so refuses, if anything appeared in it meanwhile
            move_noreplace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _discard(tmp)
