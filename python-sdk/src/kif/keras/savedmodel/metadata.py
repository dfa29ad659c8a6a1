"""Keras metadata of a SavedModel: ``keras_metadata.pb`` (TF 2.5+), or the SavedObjectGraph's user
objects inside ``saved_model.pb`` (TF 2.0-2.4 wrote it there only).

keras_metadata.pb (tf_keras protobuf/saved_metadata.proto): SavedMetadata { repeated SavedObject nodes = 1 },
SavedObject { int32 node_id = 2; string node_path = 3; string identifier = 4; string metadata = 5 (JSON);
VersionDef version = 6 }.
saved_model.pb: SavedModel { repeated MetaGraphDef meta_graphs = 2 }, MetaGraphDef { MetaInfoDef
meta_info_def = 1 {repeated string tags = 4; string tensorflow_version = 5}; SavedObjectGraph
object_graph_def = 7 }, SavedObjectGraph { repeated SavedObject nodes = 1 }, SavedObject { repeated
ObjectReference children = 1 {int32 node_id = 1; string local_name = 2}; SavedUserObject user_object = 4
{string identifier = 1; string metadata = 3} }.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kif import limits
from kif.errors import KifError
from kif.keras.savedmodel import wire

KERAS_IDENTIFIERS = ("_tf_keras_",)  # _tf_keras_layer, _tf_keras_network, _tf_keras_model, _tf_keras_sequential, …


@dataclass(frozen=True)
class KerasObject:
    node_path: str  # "root", "root.layer_with_weights-0", "root.layer-1.cell", …
    identifier: str
    metadata: str  # JSON text


def _read(path: Path, what: str) -> memoryview:
    limit = limits.current().max_document_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise KifError(f"{what} is {size} bytes, more than the {limit} accepted", code="convert-unreadable", file=str(path))
        return memoryview(path.read_bytes())
    except OSError as exc:
        raise KifError(f"Cannot read {what}: {exc.strerror}", code="convert-unreadable", file=str(path)) from None


def read_keras_metadata(path: Path) -> list[KerasObject]:
    what = f"{path.name}"
    out = []
    for node in wire.messages(wire.parse(_read(path, what), what), 1, what, 0):
        out.append(KerasObject(wire.text(node, 3, what), wire.text(node, 4, what), wire.text(node, 5, what)))
    return out


@dataclass(frozen=True)
class SavedModelInfo:
    tensorflow_version: str
    tags: list[str]
    has_object_graph: bool
    keras_objects: list[KerasObject]  # from user_object metadata (TF 2.0-2.4); empty when TF wrote none
    user_identifiers: list[str]  # identifiers of every user object (for saying what the directory is)


def read_saved_model(path: Path) -> SavedModelInfo:
    """What saved_model.pb says about itself, and any Keras metadata kept in its object graph."""
    what = path.name
    model = wire.parse(_read(path, what), what)
    graphs = wire.messages(model, 2, what, 0)
    if not graphs:
        raise KifError("saved_model.pb holds no MetaGraphDef", code="convert-unreadable", file=str(path))
    graph = graphs[0]
    info = wire.submessage(graph, 1, what, 1)
    objects = wire.submessage(graph, 7, what, 1)
    nodes = wire.messages(objects, 1, what, 2)
    children = [[(wire.text(r, 2, what), wire.integer(r, 1, what, bits=32)) for r in wire.messages(n, 1, what, 3)] for n in nodes]
    paths = _node_paths(children)
    keras: list[KerasObject] = []
    identifiers: list[str] = []
    for index, node in enumerate(nodes):
        user = wire.submessage(node, 4, what, 3)
        if not user:
            continue
        identifier = wire.text(user, 1, what)
        identifiers.append(identifier)
        metadata = wire.text(user, 3, what)
        if identifier.startswith(KERAS_IDENTIFIERS) and metadata and index in paths:
            keras.append(KerasObject(paths[index], identifier, metadata))
    return SavedModelInfo(wire.text(info, 5, what), wire.texts(info, 4, what), bool(nodes), keras, identifiers)


def _node_paths(children: list[list[tuple[str, int]]]) -> dict[int, str]:
    """Breadth-first path of each SavedObjectGraph node from the root, as tf_keras names node paths."""
    paths = {0: "root"} if children else {}
    queue = [0] if children else []
    while queue:
        node = queue.pop(0)
        for local, child in children[node]:
            if 0 <= child < len(children) and child not in paths:
                paths[child] = f"{paths[node]}.{local}"
                queue.append(child)
    return paths
