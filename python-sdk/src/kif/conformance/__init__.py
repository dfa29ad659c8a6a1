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

ENV = "KIF_CONFORMANCE_DIR"


def suite_dir() -> Path:
    """``$KIF_CONFORMANCE_DIR``, else ``conformance/`` of the source tree this package lives in."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return Path(__file__).resolve().parents[4] / "conformance"


def runner(suite: Path | None = None) -> ModuleType:
    """The suite's runner module (imported from its file, cached in sys.modules)."""
    if "kif_conformance" in sys.modules:
        return sys.modules["kif_conformance"]
    path = (suite or suite_dir()) / "runner" / "kif_conformance.py"
    if not path.is_file():
        raise FileNotFoundError(f"Expected the conformance runner at {path}. Set {ENV} to the suite directory.")
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

    def validate(self, path: str) -> list[dict[str, Any]]:
        import kif

        return [{"code": f.code, "pointer": f.pointer} for f in kif.validate(path).errors]


__all__ = ["ENV", "ReferenceBackend", "runner", "suite_dir"]
