"""Where a bundle writer may write: the rules, checked before anything is created.

A writer creates, or replaces as a whole, only what is a KIF bundle; it never deletes,
empties or overwrites anything else (spec: bundle.md, "Writing a bundle"):

- the form follows the name: ``.kif`` → archive; no suffix → directory; an existing
  bundle keeps its form; any other suffix (``out.keras``, ``out.h5`` …) is refused;
- an absent name is created; an empty directory is filled;
- the source of a conversion (the same file, a hard or symbolic link to it, or a
  directory holding it) is refused;
- an existing KIF bundle is refused unless ``overwrite`` is set, then replaced whole
  and atomically; a bundle directory holding files that are not part of it is refused;
- any other existing file or non-empty directory, and a symbolic link, are refused always.

Refusals raise ``KifError`` with code ``write-refused`` (the CLI's usage exit, 2); a
missing output folder is ``write-failed``.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kif.bundle.atomic import clean_stale
from kif.errors import KifError

ARCHIVE_SUFFIX = ".kif"
REFUSED = "write-refused"
_MAX_DOCUMENT = 64 << 20
_FORMATS = {
    ".keras": "a Keras archive",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".safetensors": "a safetensors file",
    ".onnx": "an ONNX model (kif convert BUNDLE out.onnx exports one from a KIF bundle)",
    ".zip": "a ZIP archive",
    ".json": "a JSON file",
    ".pt": "a PyTorch file",
    ".pb": "a TensorFlow file",
}
SUFFIX_RULE = "a .kif name writes an archive, a name without a suffix a bundle directory"


@dataclass(frozen=True)
class Destination:
    path: Path
    archive: bool
    existing: str | None  # None (absent), "empty" (an empty folder) or "bundle" (swapped out when the write ends)


def plan(
    path: str | os.PathLike[str],
    *,
    archive: bool | None = None,
    overwrite: bool = False,
    sources: Iterable[str | os.PathLike[str]] = (),
) -> Destination:
    """Check ``path`` against the rules above and decide the form; nothing is created."""
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise KifError("Expected a name for the bundle, not a bare folder", code=REFUSED, file=str(target))
    parent = target.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise KifError(f"The output folder {str(parent)!r} {what}", code="write-failed", file=str(target))
    clean_stale(parent)  # what a killed writer left; may put a moved-aside bundle back under its name
    _check_sources(target, sources)
    if target.is_symlink():
        raise _refuse(target, "is a symbolic link; KIF does not write through links (name the real path)")
    kind = _existing(target)
    if archive is None:
        archive = kind == "archive" if kind in ("archive", "directory") else _form_from_name(target)
    if kind is None:
        return Destination(target, archive, None)
    if kind == "empty":
        if archive:
            raise _refuse(target, "is an empty folder; an archive cannot replace it (drop the .kif suffix to fill the folder)")
        return Destination(target, archive, "empty")
    if kind in ("archive", "directory"):
        if not overwrite:
            raise _refuse(target, "already holds a KIF bundle; pass overwrite=True (kif convert --force) to replace it")
        return Destination(target, archive, "bundle")
    raise _refuse(target, kind)


def _refuse(target: Path, why: str) -> KifError:
    return KifError(f"Refusing to write {target.name!r}: it {why}", code=REFUSED, file=str(target))


def _form_from_name(target: Path) -> bool:
    suffix = target.suffix.lower()
    if suffix == ARCHIVE_SUFFIX:
        return True
    if suffix == "":
        return False
    meaning = _FORMATS.get(suffix, "something KIF does not write")
    raise KifError(
        f"Expected a bundle name: {SUFFIX_RULE}. Received: {target.name!r} ({suffix!r} names {meaning}); "
        f"write to {target.with_suffix('.kif').name!r} or {target.with_suffix('').name!r} instead",
        code=REFUSED,
        file=str(target),
    )


def _check_sources(target: Path, sources: Iterable[str | os.PathLike[str]]) -> None:
    final = Path(os.path.realpath(target))
    for source in sources:
        src = Path(source)
        if not src.exists():
            continue
        real = Path(os.path.realpath(src))
        if (target.exists() and os.path.samefile(src, target)) or real == final:
            raise _refuse(target, "is the source being converted; write the bundle to another name")
        if real.is_relative_to(final):
            raise _refuse(target, f"holds the source {str(src)!r}; replacing it would delete the source")


def _existing(target: Path) -> str | None:
    """None (absent), 'empty', 'archive', 'directory' (a KIF bundle), or why it is refused."""
    if not target.exists():
        return None
    if target.is_dir():
        entries = sorted(p.name for p in target.iterdir())
        if not entries:
            return "empty"
        members = _bundle_members(target)
        if members is None:
            return f"is a folder that is not a KIF bundle and is not empty ({_listing(entries)}); KIF never writes into it"
        foreign = [name for name in entries if name not in members or not (target / name).is_file() or (target / name).is_symlink()]
        if foreign:
            listing = _listing(foreign)
            return f"is a KIF bundle folder that also holds files not part of the bundle ({listing}); replacing it would delete them"
        return "directory"
    if target.is_file() and _is_archive_bundle(target):
        return "archive"
    return "is an existing file that is not a KIF bundle; KIF never overwrites it (choose another name)"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _bundle_members(folder: Path) -> set[str] | None:
    """The names a bundle directory's model.json owns, or None if it is not a bundle."""
    document = folder / "model.json"
    try:
        if document.is_symlink() or not document.is_file() or document.stat().st_size > _MAX_DOCUMENT:
            return None
        doc: Any = json.loads(document.read_bytes())
        names = {"model.json", *(str(f["path"]) for f in doc["weights"]["files"])}
        if isinstance(doc.get("self_test"), dict):
            names.add(str(doc["self_test"]["file"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    return names if "kif_version" in doc else None


def _is_archive_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "model.json" in archive.NameToInfo
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, RecursionError):
        return False
