"""Writing one plain file (``kif run --output``, ONNX export, ``kif view -o``) without losing a user's file.

The rules of the bundle writer (``kif.bundle.destination``), for a single file:

- an absent name is created; the output folder must exist (``write-failed``);
- an existing file is replaced only with ``overwrite`` (``--force``), atomically;
- a directory, a symbolic link, or the file being read (the model, the inputs: the same
  file, a link to it, or a name inside a source folder) is refused always.

The bytes go to a ``.kif-tmp-*`` sibling, fsynced, then renamed over the name; on any
failure the temporary is removed and the old file is untouched. Refusals raise ``KifError``
with code ``write-refused`` (the CLI's exit 2).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from kif.bundle.atomic import atomic_bundle, clean_stale
from kif.errors import KifError

REFUSED = "write-refused"


def _refuse(target: Path, why: str) -> KifError:
    return KifError(f"Refusing to write {target.name!r}: it {why}", code=REFUSED, file=str(target))


def check_target(
    path: str | os.PathLike[str], *, overwrite: bool = False, sources: Iterable[str | os.PathLike[str]] = (), flag: str = "--force"
) -> bool:
    """Check ``path`` against the rules above; True if a file there will be replaced. Nothing is created."""
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise KifError("Expected a file name, not a bare folder", code=REFUSED, file=str(target))
    if not target.parent.is_dir():
        what = "is not a folder" if target.parent.exists() else "does not exist"
        raise KifError(f"The output folder {str(target.parent)!r} {what}", code="write-failed", file=str(target))
    clean_stale(target.parent)  # what a killed writer left
    final = Path(os.path.realpath(target))
    for source in sources:
        src = Path(source)
        if not src.exists():
            continue
        real = Path(os.path.realpath(src))
        if real == final or (target.exists() and os.path.samefile(src, target)):
            raise _refuse(target, f"is the file being read ({str(src)!r}); write to another name")
        if real.is_dir() and final.is_relative_to(real):
            raise _refuse(target, f"is inside the folder being read ({str(src)!r}); write outside it")
    if target.is_symlink():
        raise _refuse(target, "is a symbolic link; KIF does not write through links (name the real path)")
    if target.is_dir():
        raise _refuse(target, "is a folder; name a file")
    if target.exists():
        if not target.is_file():
            raise _refuse(target, "is not a regular file")
        if not overwrite:
            raise _refuse(target, f"already exists; pass {flag} to replace it")
        return True
    return False


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], *, overwrite: bool = False, sources: Iterable[str | os.PathLike[str]] = (), flag: str = "--force"
) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it becomes ``path`` (checked first, see above)."""
    target = Path(path)
    replace = check_target(target, overwrite=overwrite, sources=sources, flag=flag)
    try:
        with atomic_bundle(target, directory=False, existing="bundle" if replace else None) as tmp:
            yield tmp
    except FileExistsError:
        raise _refuse(target, "was created by something else while KIF wrote it") from None
    except OSError as exc:  # the OS names the temporary; the user knows only the target
        raise KifError(f"Could not write the file: {exc.strerror or exc}", code="write-failed", file=str(target)) from None
