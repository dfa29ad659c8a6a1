"""A tf.keras SavedModel directory as a Keras source, read without TensorFlow.

The Keras config and version come from the root object's metadata (``model_config``, ``keras_version``);
each layer of the config is found by name among the Keras objects whose parent is a model, and its
variables are those the checkpoint's object graph reaches from that object's path (``root.layer_with_
weights-0`` → children ``layer_with_weights-0`` → ``kernel``, ``cell/bias``…), in tracking order, which
is Keras's own weight order. The weights then go through the same mapping as the ``.h5`` reader's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kif.errors import KifError
from kif.keras.savedmodel.lookup_tables import SavedGraph, vocabulary
from kif.keras.savedmodel.metadata import KerasObject, read_keras_metadata, read_saved_model
from kif.keras.savedmodel.object_graph import parse_object_graph, variables_under
from kif.keras.savedmodel.tensors import OBJECT_GRAPH_KEY, Checkpoint, CheckpointTensor
from kif.keras.weights import LayerWeights

MODEL_IDENTIFIERS = {"_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential"}
RE_SAVE = "re-save it from Keras with model.save('model.keras') or model.save('model.h5'), then convert that file"


def saved_model_dir(path: Path) -> Path | None:
    """The SavedModel directory ``path`` names (the directory itself or its saved_model.pb), else None."""
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return path
    if path.name == "saved_model.pb" and path.is_file():
        return path.parent
    return None


def saved_model_source(path: Path, weights: Any = None) -> Any:
    """A KerasSource for the SavedModel at ``path``, or None when ``path`` is not one."""
    from kif.keras.source import KerasSource

    directory = saved_model_dir(path)
    if directory is None:
        return None
    if weights is not None:
        raise KifError("--weights goes with an architecture JSON, not with a SavedModel", code="convert-usage", file=str(path))
    config, version, reader = open_saved_model(directory)
    return KerasSource(directory, "savedmodel", config, version, reader)


class SavedModelWeights:
    """The WeightReader interface over a checkpoint: a layer's variables by (owners, name)."""

    def __init__(self, directory: Path, objects: list[KerasObject]) -> None:
        self.path = directory / "variables" / "variables.index"
        self.keras_version: str | None = None
        self.directory = directory
        self._graph: SavedGraph | None = None
        self.checkpoint = Checkpoint(directory / "variables" / "variables")
        self.nodes = parse_object_graph(self.checkpoint.read_string(OBJECT_GRAPH_KEY), str(self.path))
        by_path = {o.node_path: o for o in objects}
        self.layers: dict[tuple[str, ...], str] = {}  # (owners…, layer name) → node path
        for obj in objects:
            parent = by_path.get(obj.node_path.rpartition(".")[0])
            if parent is None or parent.identifier not in MODEL_IDENTIFIERS:
                continue  # a sub-layer (an RNN cell, an attention projection): its variables belong to its layer
            owners = []
            walk = parent
            while walk is not None and walk.node_path != "root":
                owners.insert(0, _name(walk))
                walk = by_path.get(walk.node_path.rpartition(".")[0])
            self.layers.setdefault((*owners, _name(obj)), obj.node_path)

    def close(self) -> None:
        pass

    def lookup_vocabulary(
        self, name: str, scope: tuple[str, ...], start: int, *, integers: bool, invert: bool = False
    ) -> list[str] | list[int] | None:
        """The vocabulary a lookup layer's table holds (lookup_tables.py), None when the layer has no table."""
        node_path = self.layers.get((*scope, name)) or self.layers.get((name,))
        if node_path is None:
            return None
        if self._graph is None:
            self._graph = SavedGraph(self.directory)
        table = self._graph.table(node_path, name)
        if table is None:
            return None
        return vocabulary(table, start, name, self._graph.file, integers=integers, invert=invert)

    def _node(self, node_path: str, name: str) -> int:
        node = 0
        for part in node_path.split(".")[1:]:
            found = self.nodes[node].child(part)
            if found is None:
                raise KifError(
                    f"The checkpoint's object graph has no object {node_path!r} for layer {name!r}",
                    code="convert-missing-weights",
                    file=str(self.path),
                    pointer=name,
                )
            node = found
        return node

    def layer(
        self, name: str, scope: tuple[str, ...] = (), save_path: tuple[str, ...] = (), fallback: tuple[str, ...] = ()
    ) -> LayerWeights:
        node_path = self.layers.get((*scope, name)) or self.layers.get((name,))
        if node_path is None:
            raise KifError(
                f"keras_metadata.pb describes no layer {'/'.join((*scope, name))!r}",
                code="convert-missing-weights",
                file=str(self.path.parent.parent),
                pointer=name,
            )
        items: list[tuple[str, Any]] = []
        for path, key in variables_under(self.nodes, self._node(node_path, name), set()):
            if key not in self.checkpoint.entries:
                raise KifError(
                    f"Layer {name!r}: the object graph names {key!r}, which the index lacks",
                    code="convert-missing-weights",
                    file=str(self.path),
                    pointer=name,
                )
            items.append((f"{name}/{path}", CheckpointTensor(self.checkpoint, key)))
        return LayerWeights(name, items)


def _name(obj: KerasObject) -> str:
    meta = _metadata(obj)
    return str(meta.get("name", obj.node_path.rpartition(".")[2]))


def _plain_json(value: dict[str, Any]) -> Any:
    """Undo tf_keras's SavedModel JSON encoder: tuples and TensorShapes are written as tagged objects,
    and every object gets a ``shared_object_id``; the .h5 writer writes plain lists and no ids."""
    if value.get("class_name") in ("__tuple__", "TensorShape") and set(value) == {"class_name", "items"}:
        return value["items"]
    value.pop("shared_object_id", None)
    return value


def _metadata(obj: KerasObject) -> dict[str, Any]:
    try:
        meta = json.loads(obj.metadata, object_hook=_plain_json)
    except ValueError as exc:
        raise KifError(f"The Keras metadata of {obj.node_path} is not JSON: {exc}", code="convert-unreadable") from None
    if not isinstance(meta, dict):
        raise KifError(f"The Keras metadata of {obj.node_path} is not a JSON object", code="convert-unreadable")
    return meta


def _refuse_without_keras(directory: Path) -> None:
    pb = directory / "saved_model.pb"
    info = read_saved_model(pb)
    if not info.has_object_graph:
        what = "a TensorFlow 1 graph SavedModel (no object graph)"
    elif any(i.startswith("_tf_keras") for i in info.user_identifiers):
        what = "a tf.keras SavedModel whose Keras metadata was not saved"
    else:
        what = "a SavedModel with no Keras model in it (tf.saved_model.save of a tf.Module, or Keras 3 model.export)"
    raise KifError(f"This is {what}: KIF needs the Keras config; {RE_SAVE}", code="convert-unsupported", file=str(pb))


def open_saved_model(directory: Path) -> tuple[dict[str, Any], str, SavedModelWeights]:
    """(model config, keras version, weights) of a tf.keras SavedModel; refuses anything else in one line."""
    if not (directory / "variables" / "variables.index").is_file():
        raise KifError(
            "This saved_model.pb has no variables/variables.index beside it, so no weights: "
            "pass the whole SavedModel directory as TensorFlow wrote it",
            code="convert-unreadable",
            file=str(directory / "saved_model.pb"),
        )
    metadata_file = directory / "keras_metadata.pb"
    if metadata_file.is_file():
        objects = read_keras_metadata(metadata_file)
    else:
        objects = read_saved_model(directory / "saved_model.pb").keras_objects  # TF 2.0-2.4 kept it there
        if not objects:
            _refuse_without_keras(directory)
    root = next((o for o in objects if o.node_path == "root"), None)
    if root is None or root.identifier not in MODEL_IDENTIFIERS:
        raise KifError(
            f"The SavedModel's root object is {root.identifier if root else 'not a Keras object'}, not a Keras model; {RE_SAVE}",
            code="convert-unsupported",
            file=str(directory),
        )
    meta = _metadata(root)
    config = meta.get("model_config") or {"class_name": meta.get("class_name"), "config": meta.get("config")}
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise KifError(
            "The root model's metadata has no config (a subclassed model without get_config); " + RE_SAVE,
            code="convert-unsupported",
            file=str(directory / "keras_metadata.pb"),
        )
    weights = SavedModelWeights(directory, objects)
    version = meta.get("keras_version")
    weights.keras_version = version if isinstance(version, str) else None
    return config, weights.keras_version or "2", weights

