"""What the two generated registration indexes share (``kif.layers.kernel_index``, ``kif.keras.mapper_index``): the
text of a ``MODULES`` table and the ``--write`` command line."""

from __future__ import annotations

import sys
from pathlib import Path


def render(docstring: str, index: dict[str, str]) -> str:
    """A module holding ``docstring`` and ``MODULES = {name: module}``, one row per name, in ``index``'s order."""
    rows = "".join(f"    {name!r}: {module!r},\n" for name, module in index.items())
    return f'"""{docstring}"""\n\nMODULES: dict[str, str] = {{\n{rows}}}\n'


def main(path: Path, text: str) -> None:
    """``--write``: replace ``path`` with ``text``; otherwise print it (to compare by eye)."""
    if "--write" in sys.argv:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(text, end="")
