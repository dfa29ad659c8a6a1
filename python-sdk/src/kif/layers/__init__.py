"""Reference kernels and shape rules, one module per layer type (or family).

Each kernel module registers its types when imported. ``kernels()`` imports a type's module the first time the
type is asked for (``_kernel_index.py`` says which module registers it), so running a bundle imports only the
kernels it uses; iterating over ``kernels()``, or asking for a type the index does not name, imports them all.
"""

from __future__ import annotations

import _thread  # threading's RLock is this one; importing threading costs a fresh process ~0.9 ms
import importlib
from collections.abc import Iterator, Mapping

from kif.layers._kernel_index import MODULES
from kif.layers.registry import KERNELS, Kernel, ShapeError, TensorType, register_layer

_lock = _thread.RLock()  # two threads importing one kernel module must not register its types twice
_all_loaded = False


def kernel_modules() -> list[str]:
    """The kernel modules of this package, sorted (private helpers and the registry excluded)."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "registry")


def _load_all() -> None:
    global _all_loaded
    with _lock:
        if not _all_loaded:
            for module in kernel_modules():
                importlib.import_module(f"{__name__}.{module}")
            _all_loaded = True


class _Kernels(Mapping[str, "type[Kernel]"]):
    """The registry, filled on demand."""

    def __getitem__(self, layer_type: str) -> type[Kernel]:
        found = KERNELS.get(layer_type)
        if found is None:
            module = MODULES.get(layer_type)
            if module is not None:
                with _lock:
                    importlib.import_module(f"{__name__}.{module}")
            if layer_type not in KERNELS:
                _load_all()
            found = KERNELS[layer_type]
        return found

    def __contains__(self, layer_type: object) -> bool:
        try:
            self[layer_type]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        _load_all()
        return iter(dict(KERNELS))

    def __len__(self) -> int:
        _load_all()
        return len(KERNELS)


_KERNELS = _Kernels()


def kernels() -> Mapping[str, type[Kernel]]:
    """Every registered kernel by type, importing each kernel module when a type of it is first asked for."""
    return _KERNELS


__all__ = ["KERNELS", "Kernel", "ShapeError", "TensorType", "kernel_modules", "kernels", "register_layer"]
