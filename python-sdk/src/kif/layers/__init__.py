"""Reference kernels and shape rules, one module per layer type (or family).

Importing this package imports every kernel module, and each registers itself.
"""

from __future__ import annotations

import importlib
import pkgutil

from kif.layers.registry import KERNELS, Kernel, ShapeError, TensorType, register_layer

_loaded = False


def kernels() -> dict[str, type[Kernel]]:
    """Every registered kernel, importing the kernel modules on first use."""
    global _loaded
    if not _loaded:
        for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            if not module.startswith("_") and module != "registry":
                importlib.import_module(f"{__name__}.{module}")
        _loaded = True
    return KERNELS


__all__ = ["KERNELS", "Kernel", "ShapeError", "TensorType", "kernels", "register_layer"]
