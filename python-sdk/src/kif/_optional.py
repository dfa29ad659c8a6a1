"""Optional dependencies: import one, or fail with one line that names the exact install command.

``kif`` needs only NumPy, h5py, jsonschema, safetensors and ml_dtypes. The importers need a framework each, installed
through an extra of the ``kif-format`` distribution; without it the user gets the command, not a traceback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from kif.errors import KifError

DISTRIBUTION = "kif-format"
# top-level module -> the extra that installs it
EXTRAS = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnx", "keras": "keras", "fsspec": "remote", "aiohttp": "remote"}
EXTRAS |= {"farmhash": "text", "siphash24": "text"}  # TF's string hashes (kif.hashes)


class MissingDependencyError(KifError, ImportError):
    """An optional dependency is not installed (still an ImportError for callers that expect one); code ``dependency-missing``."""


def install_command(module: str) -> str:
    extra = EXTRAS.get(module.split(".")[0])
    return f'pip install "{DISTRIBUTION}[{extra}]"' if extra else f'pip install "{DISTRIBUTION}"'


def require(module: str, feature: str) -> ModuleType:
    """``module`` imported, or a MissingDependencyError saying that ``feature`` needs it and how to install it."""
    root = module.split(".")[0]
    if root == "keras":  # Keras 3 would pick TensorFlow, which KIF never uses; an explicit KERAS_BACKEND wins
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or root
        if missing.split(".")[0] == root:
            raise MissingDependencyError(
                f"{feature} needs {root}, which is not installed. Install it with: {install_command(root)}",
                code="dependency-missing",
            ) from None
        # The package is there but something it needs is not (for Keras: its backend).
        raise MissingDependencyError(
            f"{feature} needs {root}, which is installed but cannot be imported ({type(exc).__name__}: {' '.join(str(exc).split())})."
            f" Install it with: {install_command(root)}",
            code="dependency-missing",
        ) from None
