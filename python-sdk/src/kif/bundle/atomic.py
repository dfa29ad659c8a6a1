"""Atomic replacement of a file or directory: build under a temporary name, then rename.

An exception or interrupt leaves the final name either absent or holding the
previous complete bundle, never a partial one. A directory is swapped in two
renames; only a power loss between them can leave the previous bundle in
``.kif-old-*`` instead. Temporary names start with ``.kif-tmp-`` beside the
target so the rename never crosses file systems.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _fresh(parent: Path, make: Callable[[Path], None]) -> Path:
    """Create a new temporary name beside the target. Unlike mkstemp/mkdtemp (0600/0700), the
    permissions follow the umask, as for any file the user writes, and survive the final rename."""
    while True:
        path = parent / f".kif-tmp-{secrets.token_hex(8)}"
        try:
            make(path)
            return path
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    tmp_path = _fresh(target.parent, lambda p: open(p, "xb").close())
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    tmp_path = _fresh(target.parent, os.mkdir)
    try:
        yield tmp_path
        if target.is_dir() and not target.is_symlink():
            # Directories cannot be swapped in one rename: move the old one aside first, and put it
            # back if the swap is interrupted half-way (the final name must never be left empty).
            old = Path(tempfile.mkdtemp(prefix=".kif-old-", dir=target.parent))
            try:
                os.replace(target, old / "bundle")
                os.replace(tmp_path, target)
            finally:
                if not target.exists() and (old / "bundle").exists():
                    os.replace(old / "bundle", target)
                shutil.rmtree(old, ignore_errors=True)
        else:
            if target.exists():
                target.unlink()
            os.replace(tmp_path, target)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
