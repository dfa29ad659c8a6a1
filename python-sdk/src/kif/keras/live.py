"""``kif.keras.export``: an in-memory Keras 3 model (any backend) → a KIF bundle.

The file converter does the work: the model's config is what a ``.keras`` archive
stores in config.json (``keras.saving.serialize_keras_object``), and its weights
come from the live variables through ``LiveWeights``, a reader with the interface
of :class:`kif.keras.weights.WeightReader`. Keras is imported only here.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kif.errors import KifError, ValidationError
from kif.keras.weights import LayerWeights


class LiveWeights:
    """Weights of a live model's layers, by layer name (and nested-model scope), as NumPy arrays.

    Item keys are the variables' paths relative to their layer (``kernel``, ``query/kernel``,
    ``forward_lstm/lstm_cell/kernel``), so the converter's name-based matching works as on files;
    the order is Keras's own (``layer.weights``: own variables, then sub-layers').
    """

    def __init__(self, model: Any, keras_version: str) -> None:
        self.model = model
        self.keras_version = keras_version

    def close(self) -> None:
        """Nothing to release: the arrays are the variables' values (views of CPU torch tensors, else copies)."""

    def layer(
        self, name: str, scope: tuple[str, ...] = (), save_path: tuple[str, ...] = (), fallback: tuple[str, ...] = ()
    ) -> LayerWeights:
        """Weights of layer ``name`` inside nested models ``scope``; file locations (save paths) play no part."""
        owner = self.model
        for part in scope:
            owner = _sub_layer(owner, part, name)
        found = _sub_layer(owner, name, name)
        return LayerWeights(name, [(_relative_path(found, w), _to_numpy(w)) for w in found.weights])


def _sub_layer(owner: Any, name: str, wanted: str) -> Any:
    """A layer of ``owner`` by name; scopes of repeated nested-model calls carry a ``_call<n>`` suffix."""
    by_name = {layer.name: layer for layer in getattr(owner, "layers", [])}
    if name in by_name:
        return by_name[name]
    stem = re.sub(r"_call-?\d+$", "", name)
    if stem in by_name:
        return by_name[stem]
    raise KifError(
        f"The live model has no layer {name!r} (looking up the weights of {wanted!r})", code="convert-missing-weights", pointer=wanted
    )


def _relative_path(layer: Any, variable: Any) -> str:
    path = str(getattr(variable, "path", variable.name))
    prefix = f"{layer.path}/" if getattr(layer, "path", None) else f"{layer.name}/"
    return path[len(prefix) :] if path.startswith(prefix) else path


def _to_numpy(variable: Any) -> np.ndarray:
    """The variable's values: a view of a CPU torch tensor (the writer reads it once, no copy), else a copy."""
    view = _torch_view(variable.value)
    if view is not None:
        return view
    from keras import ops

    return np.array(ops.convert_to_numpy(variable.value), order="C")  # a copy; np.ascontiguousarray would make 0-d arrays 1-d


def _torch_view(value: Any) -> np.ndarray | None:
    """A NumPy array sharing a contiguous CPU torch tensor's memory; None for anything else (bfloat16 has no NumPy dtype)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    if value.device.type != "cpu" or value.dtype == torch.bfloat16 or not value.is_contiguous():
        return None
    view = value.detach().numpy()
    view.flags.writeable = False  # the writer only reads it; nothing in the conversion may change the live model
    return view


def _plain_json(value: Any) -> Any:
    """The config as config.json would hold it: tuples → lists, NumPy scalars → numbers."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    try:
        return json.loads(json.dumps(value, default=default))
    except TypeError as exc:
        raise KifError(f"The model's config cannot be serialized: {exc}", code="convert-config") from None


def _kif_activations(value: Any) -> Any:
    """Activations to_keras registered for KIF (``kif>gelu_tanh``) → their KIF names."""
    if isinstance(value, dict):
        if value.get("class_name") == "function" and isinstance(value.get("config"), str) and value["config"].startswith("kif>"):
            return value["config"][len("kif>") :]
        return {k: _kif_activations(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kif_activations(v) for v in value]
    return value


def _normalise(config: dict[str, Any]) -> None:
    """Activations that to_keras registered (a Keras model rebuilt from KIF) get their KIF names back."""
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    for layer in inner["layers"]:
        layer["config"] = _kif_activations(layer.get("config", {}))
        if layer.get("class_name") in ("Functional", "Sequential", "Model"):
            _normalise(layer)


def model_source(model: Any) -> Any:
    """A KerasSource reading ``model``'s config and live variables."""
    from kif._optional import require

    keras = require("keras", "kif.keras.export")

    from kif.keras.source import KerasSource

    if not isinstance(model, keras.Model):
        raise KifError(f"Expected a keras.Model. Received: {type(model).__name__}", code="convert-usage")
    if not model.built:
        raise KifError(
            f"Model {model.name!r} is not built: give it an Input (or call it once) so its input shape is known", code="convert-usage"
        )
    config = _plain_json(keras.saving.serialize_keras_object(model))
    _normalise(config)
    version = str(keras.__version__)
    return KerasSource(Path(f"<live model {model.name}>"), "keras-live", config, version, LiveWeights(model, version))  # type: ignore[arg-type]


def _fold_drop_masks(kif_model: Any, config: dict[str, Any]) -> None:
    """Remove the Identity layers that to_keras's ``kif>DropMask`` layers became: KIF masks are explicit
    inputs, so a layer that only dropped Keras's implicit mask means nothing in KIF (the readers take its input)."""
    from kif.keras.drop_mask import REGISTERED_NAME

    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    names = {entry.get("name") for entry in layers or [] if isinstance(entry, dict) and entry.get("registered_name") == REGISTERED_NAME}
    outputs = {spec.name for spec in kif_model.outputs}
    renamed: dict[str, str] = {}
    kept = []
    for layer in kif_model.layers:
        layer.inputs = [renamed.get(t, t) if t is not None else None for t in layer.inputs]
        if layer.type == "Identity" and layer.name in names and layer.inputs[0] is not None and layer.outputs[0] not in outputs:
            renamed[layer.outputs[0]] = layer.inputs[0]
            continue
        kept.append(layer)
    kif_model.layers = kept


def export(
    model: Any, path: str | os.PathLike[str], *, allow_custom: bool = False, custom: Any = None, **save_kwargs: Any
) -> Path:
    """Write the in-memory Keras 3 ``model`` as a KIF bundle at ``path`` (``.kif`` archive or directory).

    The model must be Sequential or Functional (a subclassed model without a functional config
    cannot be described as a graph); its current weights are written. ``save_kwargs`` go to ``kif.save``.
    A custom layer becomes a composite: from ``custom`` (definitions as for ``kif convert --custom``), the
    built-in library, or else traced from its ``call`` (kif.keras.trace), which must use only keras.ops and layers.
    """
    import kif
    from kif.bundle.destination import plan
    from kif.keras import custom_defs, trace
    from kif.keras.convert import keras_to_model

    # The bundle writer's destination rules, before any work: a refused path costs nothing.
    plan(path, archive=save_kwargs.get("archive"), overwrite=bool(save_kwargs.get("overwrite", False)))
    source = model_source(model)
    try:
        definitions = custom_defs.load(custom)
        definitions = trace.derive(model, definitions, strict=not allow_custom)  # allow_custom: untraceable stay opaque
        kif_model = keras_to_model(source, allow_custom=allow_custom, custom=definitions)
    finally:
        source.close()
    _fold_drop_masks(kif_model, source.config)
    # kif.save validates the model before writing anything (as kif convert does), so an invalid bundle is
    # never written and nothing needs deleting afterwards (deleting could remove a bundle it replaced).
    try:
        return Path(kif.save(kif_model, path, **save_kwargs))
    except ValidationError as exc:
        found = "; ".join(str(f) for f in exc.findings[:5])
        raise KifError(f"The exported bundle would be invalid (nothing was written): {found}", code="convert-invalid") from None


__all__ = ["LiveWeights", "export", "model_source"]
