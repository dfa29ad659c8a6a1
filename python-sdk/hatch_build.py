"""Build hook: ship the repository's schemas/ and conformance suite inside the package.

``schemas/`` and ``conformance/`` live beside ``python-sdk/`` in the repository (one copy, the source of truth).
From a checkout, the sdist and the wheel copy them to ``src/kif/_schemas`` / ``kif/_schemas`` (and ``_conformance``);
a wheel built from an unpacked sdist finds them already inside ``src/kif``. Editable installs read the checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# repository folder -> name inside the kif package; and for the suite, only what the runner reads
SHIPPED = {"schemas": "_schemas", "conformance": "_conformance"}
SUITE_PARTS = (
    "README.md", "VERSION", "case.schema.json", "scoreboard.schema.json", "cases", "invalid",
    "runner/kif_conformance.py", "runner/kif_process.py", "runner/kif_tensors.py", "runner/kif_strings.py",
)  # fmt: skip


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        prefix = "src/kif" if self.target_name == "sdist" else "kif"
        for folder, name in SHIPPED.items():
            packaged = root / "src" / "kif" / name
            if packaged.is_dir():  # building from an sdist: forced in too, or the *.kif cases would meet .gitignore
                for path in _files(packaged, ("",)):
                    build_data["force_include"][str(path)] = f"{prefix}/{name}/{path.relative_to(packaged).as_posix()}"
                continue
            source = root.parent / folder
            if not source.is_dir():
                raise FileNotFoundError(f"Expected the repository's {folder}/ beside python-sdk/ (or src/kif/{name}). Received: {source}")
            for path in _files(source, SUITE_PARTS if folder == "conformance" else ("",)):
                build_data["force_include"][str(path)] = f"{prefix}/{name}/{path.relative_to(source).as_posix()}"


def _files(source: Path, parts: tuple[str, ...]) -> list[Path]:
    """Regular files under ``parts``; a case folder holding a symbolic link is left out whole, since a wheel cannot
    carry links (today: invalid/directory-symlink-file, whose weight file is a link out of its bundle)."""
    found = [p for part in parts for p in ([source / part] if (source / part).is_file() else sorted((source / part).rglob("*")))]
    linked = {case for p in found if p.is_symlink() for case in p.parents if (case / "case.json").is_file()}
    return [p for p in found if p.is_file() and not p.is_symlink() and not linked.intersection(p.parents) and "__pycache__" not in p.parts]
