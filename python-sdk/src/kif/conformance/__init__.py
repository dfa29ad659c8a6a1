"""The conformance suite from the SDK: the reference backend, the runner, the suite self-check.

The runner itself is ``conformance/runner/kif_conformance.py`` in the suite, which needs
only numpy and safetensors; ``runner()`` imports that file, so there is one copy of it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kif.errors import KifError

ENV = "KIF_CONFORMANCE_DIR"
_HERE = Path(__file__).resolve()
# Where the suite is looked for after $KIF_CONFORMANCE_DIR: the copy the wheel ships, then the source tree.
PACKAGED = _HERE.parents[1] / "_conformance"
SOURCE_TREE = _HERE.parents[4] / "conformance"
MISSING = (
    "No conformance suite found (looked in ${env}, the installed kif/_conformance and a source checkout): "
    "pass --suite PATH to the conformance/ folder of the KIF source repository, or set ${env} to it"
)


def _is_suite(folder: Path) -> bool:
    return (folder / "runner" / "kif_conformance.py").is_file() and (folder / "cases").is_dir()


def suite_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The suite folder: ``explicit`` (``--suite``), else ``$KIF_CONFORMANCE_DIR``, else the copy
    installed with the package (``kif/_conformance``), else ``conformance/`` of a source checkout.

    Raises:
        KifError: (code ``conformance-suite-missing``) the folder given is not a suite, or none was found.
    """
    given = explicit or os.environ.get(ENV)
    if given:
        folder = Path(given)
        if not _is_suite(folder):
            source = "--suite" if explicit else ENV
            raise KifError(
                f"Expected {source} to name a conformance suite (a folder holding runner/kif_conformance.py and cases/). "
                f"Received: {str(folder)!r}",
                code="conformance-suite-missing",
            )
        return folder
    for folder in (PACKAGED, SOURCE_TREE):
        if _is_suite(folder):
            return folder
    raise KifError(MISSING.replace("${env}", "$" + ENV), code="conformance-suite-missing")


def runner(suite: Path | None = None) -> ModuleType:
    """The suite's runner module (imported from its file, cached in sys.modules)."""
    if "kif_conformance" in sys.modules:
        return sys.modules["kif_conformance"]
    path = (suite or suite_dir()) / "runner" / "kif_conformance.py"
    if not path.is_file():
        raise KifError(f"Expected the conformance runner at {path}", code="conformance-suite-missing")
    spec = importlib.util.spec_from_file_location("kif_conformance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kif_conformance"] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


class ReferenceBackend:
    """The NumPy reference runtime as a conformance backend."""

    name = "reference"

    def load(self, path: str) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        import kif

        model = kif.load(path)
        return lambda inputs: kif.run(model, inputs)

    def validate(self, path: str, level: str = "full") -> list[dict[str, Any]]:
        import kif

        report = kif.validate(path, level=level)
        return [{"code": f.code, "pointer": f.pointer, "severity": f.severity} for f in [*report.errors, *report.warnings]]


__all__ = ["ENV", "PACKAGED", "SOURCE_TREE", "ReferenceBackend", "runner", "suite_dir"]
