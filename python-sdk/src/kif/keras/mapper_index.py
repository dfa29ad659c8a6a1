"""Which module registers the mapper of which Keras class: ``python -m kif.keras.mapper_index --write`` rebuilds
``_mapper_index.py`` from the registrations themselves (every module of the kif.keras package imported, each
``@mapper`` recording its module), so ``map_node`` imports only the mapper modules a model's classes need.
tests/keras/test_mapper_index.py fails when the committed index differs from a fresh build.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from kif import _index_gen

INDEX = Path(__file__).with_name("_mapper_index.py")
_PACKAGE = "kif.keras."


def build() -> dict[str, str]:
    """Class name → module (relative to kif.keras); a class two modules register is an error (which one won would
    depend on what else was imported)."""
    import kif.keras
    from kif.keras.mapping import REGISTERED_BY

    for info in pkgutil.walk_packages(kif.keras.__path__, _PACKAGE):
        importlib.import_module(info.name)
    shared = {name: modules for name, modules in REGISTERED_BY.items() if len(modules) > 1}
    if shared:
        raise RuntimeError(f"Keras classes with a mapper in more than one module: {shared}")
    return {name: REGISTERED_BY[name][0].removeprefix(_PACKAGE) for name in sorted(REGISTERED_BY)}


def render(index: dict[str, str]) -> str:
    return _index_gen.render(
        "The module that registers each Keras class's mapper (written by ``python -m kif.keras.mapper_index --write``;\n"
        "small enough for the module line budget, so not exempt from it).",
        index,
    )


if __name__ == "__main__":
    _index_gen.main(INDEX, render(build()))
