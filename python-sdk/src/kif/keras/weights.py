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

from kif import limits
from kif.errors import KifError
from kif.keras import h5safe
from kif.keras.errors import ConversionError, too_large

# vars saved under a name rather than a number (IndexLookup.save_own_variables: store["idf_weights"])
_NAMED_VARS = {"idf_weights"}
_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float: what a Keras weight can hold


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


class WeightReader:
    def __init__(self, path: Path, handle: Any) -> None:
        import h5py

        self.path = path
        self.file = str(path)
        self.handle = handle
        with h5safe.guard(self.file, "/model_weights", "open"):
            root = handle.get("model_weights", handle)
            is_group = isinstance(root, h5py.Group)
        if not is_group:
            raise ConversionError(
                "Expected model_weights to be an HDF5 group", code="convert-unreadable", file=self.file, pointer="/model_weights"
            )
        with h5safe.guard(self.file, "/model_weights", "read the attributes of"):
            self.legacy = "layer_names" in root.attrs
            where = root.name or "/"
        self.root = root
        version = h5safe.read_text_attribute(root, "keras_version", self.file, where)
        self.keras_version = version if version is not None else h5safe.read_text_attribute(handle, "keras_version", self.file, "/")
        self._counted: dict[str, int] = {}  # dataset path → declared bytes, for the max_weights_bytes total

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
            found = self._legacy(name, scope)
        else:
            path = save_path or (*scope, name)
            if fallback and not self._group("/".join(f"layers/{key}" for key in path)):
                path = fallback
            found = self._saving_lib(name, path)
        for key, dataset in found.items:
            self._check(name, key, dataset)
        return found

    def _group(self, path: str) -> Any:
        """The group at ``path`` under the root, or None (a name that is empty, absent or not a group)."""
        import h5py

        try:
            found = self.root.get(path) if path and not path.startswith("/") else None
            return found if isinstance(found, h5py.Group) else None
        except h5safe.H5_ERRORS:
            return None

    def _check(self, layer: str, key: str, dataset: Any) -> None:
        """A weight is a numeric dataset whose declared size is within the limits, checked before any read."""
        with h5safe.guard(self.file, f"{layer}/{key}", "inspect weight"):
            self._check_dataset(layer, key, dataset)

    def _check_dataset(self, layer: str, key: str, dataset: Any) -> None:
        import h5py

        if not isinstance(dataset, h5py.Dataset):
            raise ConversionError(
                f"Layer {layer!r}: weight {key!r} is not an HDF5 dataset", code="convert-unreadable", file=self.file, pointer=layer
            )
        if dataset.dtype.kind not in _NUMERIC_KINDS or dataset.dtype.fields is not None or dataset.dtype.subdtype is not None:
            raise ConversionError(
                f"Layer {layer!r}: expected weight {key!r} to hold numbers. Received: HDF5 dtype {dataset.dtype}",
                code="convert-unreadable",
                file=self.file,
                pointer=layer,
            )
        current = limits.current()
        size = h5safe.tensor_bytes(dataset)
        if size > current.max_tensor_bytes:
            what = f"Layer {layer!r}: weight {key!r} (shape {tuple(dataset.shape)}, chunks {dataset.chunks}, {dataset.dtype})"
            raise too_large(what, size, "max_tensor_bytes", current.max_tensor_bytes, file=self.file, pointer=layer)
        self._counted[dataset.name or key] = size
        total = sum(self._counted.values())
        if total > current.max_weights_bytes:
            raise too_large(
                f"The weights read up to layer {layer!r}",
                total,
                "max_weights_bytes",
                current.max_weights_bytes,
                file=self.file,
                pointer=layer,
            )

    def _weight_names(self, group: Any, layer: str) -> list[str]:
        with h5safe.guard(self.file, layer, "open the group of"):
            where = group.name or layer
        h5safe.check_attributes(group, self.file, where)
        with h5safe.guard(self.file, where, "read attribute 'weight_names' of"):
            if "weight_names" not in group.attrs:
                return []
            raw = group.attrs["weight_names"]
        values = raw.tolist() if hasattr(raw, "tolist") else raw
        values = [values] if isinstance(values, (bytes, str)) else values
        if not isinstance(values, list) or not all(isinstance(v, (bytes, str)) for v in values):
            raise ConversionError("Expected weight_names to be a list of strings", code="convert-unreadable", file=self.file, pointer=where)
        names = []
        for value in values:
            try:
                # h5py decodes stored strings with surrogateescape: a str holding surrogates was not UTF-8 either
                names.append(value.decode("utf-8") if isinstance(value, bytes) else value.encode("utf-8").decode("utf-8"))
            except UnicodeError:
                raise ConversionError(
                    "Expected weight_names to be UTF-8 text", code="convert-unreadable", file=self.file, pointer=where
                ) from None
        for name in names:
            with h5safe.guard(self.file, f"{where}/{name}", "look up"):
                present = bool(name) and not name.startswith("/") and name in group
            if not present:
                raise ConversionError(
                    f"weight_names lists {name!r}, which group {where!r} lacks",
                    code="convert-missing-weights",
                    file=self.file,
                    pointer=layer,
                )
        return names

    def _legacy(self, name: str, scope: tuple[str, ...]) -> LayerWeights:
        group = self._group(name)
        if group is not None:
            return LayerWeights(name, [(n, self._member(group, n)) for n in self._weight_names(group, name)])
        group = self._group(scope[0]) if scope else None
        if group is not None:
            # A nested model's weights are stored in its own group, named by sub-layer.
            mine = [n for n in self._weight_names(group, name) if name in n.split("/")[:-1]]
            return LayerWeights(name, [(n, self._member(group, n)) for n in mine])
        raise KifError(
            f"The weights file has no group for layer {name!r}", code="convert-missing-weights", file=str(self.path), pointer=name
        )

    def _member(self, group: Any, name: str) -> Any:
        with h5safe.guard(self.file, name, "open weight"):
            return group[name]

    def _saving_lib(self, name: str, save_path: tuple[str, ...]) -> LayerWeights:
        path = "/".join(f"layers/{key}" for key in save_path)
        group = self._group(path)
        if group is None:
            raise KifError(
                f"The weights file has no group {path!r} for layer {name!r}",
                code="convert-missing-weights",
                file=str(self.path),
                pointer=name,
            )
        items: list[tuple[str, Any]] = []
        with h5safe.guard(self.file, path, "list the weights in"):
            _collect(group, "", items, self.file)
        return LayerWeights(name, items)


def _collect(group: Any, prefix: str, items: list[tuple[str, Any]], file: str) -> None:
    """Own vars first (numeric order), then sub-groups depth-first in name order (the audit bounded the depth)."""
    import h5py

    vars_group = group.get("vars") if "vars" in group else None
    if isinstance(vars_group, h5py.Group):
        keys = [key for key in vars_group if key not in _NAMED_VARS]
        named = sorted(key for key in vars_group if key in _NAMED_VARS)
        if not all(key.isdigit() for key in keys):
            raise ConversionError(
                f"Expected the vars of {group.name!r} to be numbered 0, 1, ... Received: {sorted(keys)[:5]}",
                code="convert-unreadable",
                file=file,
                pointer=group.name,
            )
        for key in [*sorted(keys, key=int), *named]:
            items.append((f"{prefix}vars/{key}", vars_group[key]))
    for key in sorted(group):
        child = group[key]
        if key != "vars" and isinstance(child, h5py.Group):
            _collect(child, f"{prefix}{key}/", items, file)


def open_weights(path: Path, handle: Any = None, *, audited: bool = False) -> WeightReader:
    """A reader over an HDF5 weights file (opened here unless ``handle`` is given), audited before any read."""
    owned = handle is None
    if owned:
        try:
            handle = h5safe.open_file(path, str(path))
        except OSError as exc:  # the file itself cannot be opened (missing, a directory, no permission)
            raise KifError(f"Cannot open the weights file: {exc}", code="convert-unreadable", file=str(path)) from None
    try:
        if not audited:
            h5safe.audit(handle, str(path))
        return WeightReader(path, handle)
    except BaseException:
        if owned:
            handle.close()
        raise
