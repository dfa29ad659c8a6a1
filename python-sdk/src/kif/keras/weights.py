"""Reading the weights of one Keras layer from an HDF5 file, by layer name.

Two on-disk layouts exist:

* legacy (Keras 2, tf.keras ``.h5``, Keras 3 ``model.save("x.h5")``): a group per
  layer whose ``weight_names`` attribute lists its datasets in Keras order. Names
  differ by writer (``kernel:0`` vs ``kernel``, ``sequential/dense/kernel``), so we
  follow the attribute and never parse paths for order.
* saving_lib (``.keras`` zips and ``.weights.h5`` of Keras 3 and tf.keras 2.13+):
  ``layers/<name>/vars/<i>`` plus nested groups (``cell/vars/<i>`` for RNN cells).

Datasets are returned unread (h5py objects), so a converter can stream them.
Optimizer state and metrics live elsewhere in both layouts and are never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kif.errors import KifError


@dataclass
class LayerWeights:
    """A layer's weights in Keras order: (key, dataset) with key = stored name or relative path."""

    layer: str
    items: list[tuple[str, Any]]

    def __len__(self) -> int:
        return len(self.items)

    def short_names(self) -> list[str]:
        """'model/dense/kernel:0' → 'kernel'; 'vars/0' stays 'vars/0'."""
        out = []
        for key, _ in self.items:
            if "vars/" in key:
                out.append(key)
            else:
                out.append(re.sub(r":\d+$", "", key.rsplit("/", 1)[-1]))
        return out


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class WeightReader:
    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self.handle = handle
        root = handle.get("model_weights", handle)
        self.legacy = "layer_names" in root.attrs
        self.root = root
        version = root.attrs.get("keras_version", handle.attrs.get("keras_version"))
        self.keras_version = _text(version) if version is not None else None

    def close(self) -> None:
        self.handle.close()

    def layer(
        self, name: str, scope: tuple[str, ...] = (), save_path: tuple[str, ...] = (), fallback: tuple[str, ...] = ()
    ) -> LayerWeights:
        """Weights of layer ``name`` (inside nested models ``scope``, outermost first).

        ``save_path`` is the layer's group keys in a saving_lib file, which follow
        class names and order rather than layer names; ``fallback`` is where the same
        object was met first (saving_lib stores a shared object once).
        """
        if self.legacy:
            return self._legacy(name, scope)
        path = save_path or (*scope, name)
        if fallback and "/".join(f"layers/{key}" for key in path) not in self.root:
            path = fallback
        return self._saving_lib(name, path)

    def _legacy(self, name: str, scope: tuple[str, ...]) -> LayerWeights:
        if name in self.root:
            group = self.root[name]
            names = [_text(n) for n in group.attrs.get("weight_names", [])]
            return LayerWeights(name, [(n, group[n]) for n in names])
        if scope and scope[0] in self.root:
            # A nested model's weights are stored in its own group, named by sub-layer.
            group = self.root[scope[0]]
            names = [_text(n) for n in group.attrs.get("weight_names", [])]
            mine = [n for n in names if name in n.split("/")[:-1]]
            return LayerWeights(name, [(n, group[n]) for n in mine])
        raise KifError(
            f"The weights file has no group for layer {name!r}", code="convert-missing-weights", file=str(self.path), pointer=name
        )

    def _saving_lib(self, name: str, save_path: tuple[str, ...]) -> LayerWeights:
        path = "/".join(f"layers/{key}" for key in save_path)
        if path not in self.root:
            raise KifError(
                f"The weights file has no group {path!r} for layer {name!r}",
                code="convert-missing-weights",
                file=str(self.path),
                pointer=name,
            )
        items: list[tuple[str, Any]] = []
        _collect(self.root[path], "", items)
        return LayerWeights(name, items)


def _collect(group: Any, prefix: str, items: list[tuple[str, Any]]) -> None:
    """Own vars first (numeric order), then sub-groups depth-first in name order."""
    if "vars" in group:
        vars_group = group["vars"]
        for key in sorted(vars_group, key=int):
            items.append((f"{prefix}vars/{key}", vars_group[key]))
    for key in sorted(group):
        if key != "vars" and hasattr(group[key], "keys"):
            _collect(group[key], f"{prefix}{key}/", items)


def open_weights(path: Path, handle: Any = None) -> WeightReader:
    import h5py

    if handle is None:
        try:
            handle = h5py.File(path, "r")
        except (OSError, FileNotFoundError) as exc:
            raise KifError(f"Cannot open the weights file: {exc}", code="convert-unreadable", file=str(path)) from None
    return WeightReader(path, handle)
