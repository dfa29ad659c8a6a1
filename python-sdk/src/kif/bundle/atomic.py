"""Atomic replacement of a file or directory: build under a temporary name, then rename.

A crash or an exception leaves the final name either absent or holding the
previous complete bundle, never a partial one. Temporary names start with
``.kif-tmp-`` beside the target so the rename never crosses file systems.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    fd, tmp = tempfile.mkstemp(prefix=".kif-tmp-", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    tmp_path = Path(tempfile.mkdtemp(prefix=".kif-tmp-", dir=target.parent))
    try:
        yield tmp_path
        if target.is_dir() and not target.is_symlink():
            # Directories cannot be swapped in one rename: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=".kif-old-", dir=target.parent))
            os.replace(target, old / "bundle")
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if target.exists():
                target.unlink()
            os.replace(tmp_path, target)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
