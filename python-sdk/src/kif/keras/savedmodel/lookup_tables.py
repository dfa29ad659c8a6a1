"""The vocabulary of a tf_keras lookup layer (StringLookup, IntegerLookup, TextVectorization) in a SavedModel.

tf_keras's VocabularySavedModelSaver clears the vocabulary from the layer config; the layer's ``lookup_table``
(a StaticHashTable; TextVectorization's is its ``_lookup_layer``'s) keeps it. Its ``_initialize`` function binds
either two constants, keys and values (KeyValueTensorInitializer: Const nodes of the MetaGraphDef's graph_def), or
one asset (TextFileInitializer: a file under assets/, one key per line). The adapt() state tables of the
checkpoint (``token_counts``, MutableHashTables) are emptied by finalize_state and never read.

saved_model.pb fields read here: MetaGraphDef { GraphDef graph_def = 2 {repeated NodeDef node = 1 {string name = 1;
string op = 2; map<string, AttrValue> attr = 5}}; repeated AssetFileDef asset_file_def = 6 {string filename = 2};
SavedObjectGraph object_graph_def = 7 {repeated SavedObject nodes = 1; map<string, SavedConcreteFunction>
concrete_functions = 2 {repeated int32 bound_inputs = 2}} }, SavedObject { children = 1; SavedAsset asset = 5
{int32 asset_file_def_index = 1}; SavedFunction function = 6 {repeated string concrete_functions = 1};
SavedConstant constant = 9 {string operation = 1} }, AttrValue { TensorProto tensor = 8 {DataType dtype = 1;
TensorShapeProto tensor_shape = 2 {repeated Dim dim = 2 {int64 size = 1}}; bytes tensor_content = 4;
repeated int32 int_val = 7; repeated bytes string_val = 8; repeated int64 int64_val = 10} }.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kif import limits
from kif.errors import KifError
from kif.keras.savedmodel import wire
from kif.keras.savedmodel.metadata import _read

DT_INT32, DT_STRING, DT_INT64 = 3, 7, 9


@dataclass(frozen=True)
class LookupTable:
    keys: list[str] | list[int]
    values: list[str] | list[int]
    source: str  # "constants" or "assets/<file>"


class SavedGraph:
    """The parts of saved_model.pb a lookup table needs, parsed once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file = str(directory / "saved_model.pb")
        what = "saved_model.pb"
        graphs = wire.messages(wire.parse(_read(directory / "saved_model.pb", what), what), 2, what, 0)
        if not graphs:
            raise KifError("saved_model.pb holds no MetaGraphDef", code="convert-unreadable", file=self.file)
        graph = graphs[0]
        objects = wire.submessage(graph, 7, what, 1)
        self.nodes = wire.messages(objects, 1, what, 2)
        self.functions = {wire.text(e, 1, what): e.get(2, [b""])[-1] for e in wire.messages(objects, 2, what, 2)}
        self.assets = [wire.text(a, 2, what) for a in wire.messages(graph, 6, what, 1)]
        self.consts: dict[str, wire.Fields] = {}
        for node in wire.messages(wire.submessage(graph, 2, what, 1), 1, what, 2):
            if wire.text(node, 2, what) == "Const":
                self.consts[wire.text(node, 1, what)] = node

    def fail(self, layer: str, why: str) -> KifError:
        return KifError(f"Layer {layer!r}: {why}", code="convert-unreadable", file=self.file, pointer=layer)

    def child(self, node: int, name: str) -> int | None:
        what = "saved_model.pb: SavedObjectGraph"
        for ref in wire.messages(self.nodes[node], 1, what, 3):
            if wire.text(ref, 2, what) == name:
                found = wire.integer(ref, 1, what, bits=32)
                return found if 0 <= found < len(self.nodes) else None
        return None

    def find(self, node_path: str) -> int | None:
        node: int | None = 0
        for part in node_path.split(".")[1:]:
            node = None if node is None else self.child(node, part)
        return node

    def table(self, node_path: str, layer: str) -> LookupTable | None:
        """The keys and values the layer's lookup table is initialised with; None when the layer has no table."""
        owner = self.find(node_path)
        if owner is None:
            return None
        inner = self.child(owner, "_lookup_layer")
        table = self.child(inner if inner is not None else owner, "lookup_table")
        if table is None:
            return None
        init = self.child(table, "_initialize")
        what = "saved_model.pb: SavedObjectGraph"
        function = wire.submessage(self.nodes[init], 6, what, 3) if init is not None else {}
        names = wire.texts(function, 1, what)
        if not names or names[0] not in self.functions:
            raise self.fail(layer, "its vocabulary table has no initializer function in saved_model.pb")
        bound = wire.packed_varints(wire.parse(self.functions[names[0]], what, depth=3), 2, what)
        captured = [b for b in bound if b != table]
        if any(not 0 <= b < len(self.nodes) for b in captured):
            raise self.fail(layer, "its vocabulary table's initializer captures an object saved_model.pb does not hold")
        kinds = [self.nodes[b] for b in captured]
        if len(kinds) == 1 and 5 in kinds[0]:
            return self._asset(wire.submessage(kinds[0], 5, what, 3), layer)
        if len(kinds) == 2 and all(9 in k for k in kinds):
            keys, values = (self._constant(wire.text(wire.submessage(k, 9, what, 3), 1, what), layer) for k in kinds)
            if len(keys) != len(values):
                raise self.fail(layer, f"its vocabulary table has {len(keys)} keys and {len(values)} values")
            return LookupTable(keys, values, "constants")
        raise self.fail(layer, "its vocabulary table is initialised from neither two constants nor one vocabulary asset")

    def _constant(self, operation: str, layer: str) -> list[str] | list[int]:
        node = self.consts.get(operation)
        if node is None:
            raise self.fail(layer, f"its vocabulary table names the constant {operation!r}, which the graph lacks")
        what = f"saved_model.pb: Const {operation}"
        tensor: wire.Fields = {}
        for entry in wire.messages(node, 5, what, 3):
            if wire.text(entry, 1, what) == "value":
                tensor = wire.submessage(wire.submessage(entry, 2, what, 4), 8, what, 5)
        dims = [wire.integer(d, 1, what) for d in wire.messages(wire.submessage(tensor, 2, what, 6), 2, what, 6)]
        if len(dims) != 1 or not 0 <= dims[0] <= limits.current().max_tensor_elements:
            raise self.fail(layer, f"its vocabulary constant {operation!r} is not a vector (shape {dims})")
        count, dtype = dims[0], wire.integer(tensor, 1, what)
        if dtype == DT_STRING:
            raw = tensor.get(8, [])
            if len(raw) != count:
                raise self.fail(layer, f"its vocabulary constant {operation!r} holds {len(raw)} strings for shape [{count}]")
            try:
                return [bytes(v).decode("utf-8") for v in raw if isinstance(v, memoryview)]
            except UnicodeDecodeError:
                raise self.fail(layer, f"its vocabulary constant {operation!r} holds a token that is not UTF-8") from None
        if dtype in (DT_INT64, DT_INT32):
            content = tensor.get(4)
            if content and isinstance(content[-1], memoryview):
                width = 8 if dtype == DT_INT64 else 4
                if len(content[-1]) != count * width:
                    raise self.fail(layer, f"its vocabulary constant {operation!r} has {len(content[-1])} bytes for shape [{count}]")
                return [int(v) for v in np.frombuffer(content[-1], "<i8" if width == 8 else "<i4")]
            items = [
                wire.signed(v, 64 if dtype == DT_INT64 else 32) for v in wire.packed_varints(tensor, 10 if dtype == DT_INT64 else 7, what)
            ]
            if len(items) == 1 and count > 1:
                items *= count  # protobuf's rule: one value repeated to fill the shape
            if len(items) != count:
                raise self.fail(layer, f"its vocabulary constant {operation!r} holds {len(items)} values for shape [{count}]")
            return items
        raise self.fail(layer, f"its vocabulary constant {operation!r} has dtype {dtype}, neither a string nor an integer")

    def _asset(self, asset: wire.Fields, layer: str) -> LookupTable:
        index = wire.integer(asset, 1, "saved_model.pb: SavedAsset", bits=32)
        if not 0 <= index < len(self.assets):
            raise self.fail(layer, f"its vocabulary names asset {index}, but saved_model.pb lists {len(self.assets)}")
        name = self.assets[index]
        root = (self.directory / "assets").resolve()
        path = (root / name).resolve()
        if not name or "\\" in name or Path(name).is_absolute() or ".." in Path(name).parts or not path.is_relative_to(root):
            raise self.fail(layer, f"its vocabulary asset {name!r} leaves the SavedModel's assets/ folder")
        if not path.is_file():
            raise KifError(
                f"Layer {layer!r}: its vocabulary asset assets/{name} is missing",
                code="convert-missing-weights",
                file=str(path),
                pointer=layer,
            )
        data = bytes(_read(path, f"assets/{name}"))
        try:
            lines = [line.removesuffix("\r") for line in data.decode("utf-8").split("\n")]
        except UnicodeDecodeError:
            raise KifError(
                f"Layer {layer!r}: assets/{name} is not UTF-8 text", code="convert-unreadable", file=str(path), pointer=layer
            ) from None
        if lines and lines[-1] == "":
            lines.pop()  # TF's TextFileInitializer reads lines; a final newline ends the last one
        return LookupTable(lines, list(range(len(lines))), f"assets/{name}")


def vocabulary(table: LookupTable, start: int, layer: str, file: str, *, integers: bool, invert: bool = False) -> list[str] | list[int]:
    """The tokens of indices start, start+1, … (the layer's reserved tokens come first); one error if the table
    maps anything else, or tokens of the wrong kind."""
    tokens, indices = (table.values, table.keys) if invert else (table.keys, table.values)
    if table.source != "constants":
        indices = [i + start for i in indices]  # TextFileInitializer's value_index_offset is the reserved count
    if list(indices) != list(range(start, start + len(tokens))):
        raise KifError(
            f"Layer {layer!r}: its vocabulary table ({table.source}) does not map its tokens to indices {start}, {start + 1}, …",
            code="convert-unreadable",
            file=file,
            pointer=layer,
        )
    if table.source != "constants" and integers:
        try:
            return [int(t) for t in tokens]
        except ValueError:
            raise KifError(
                f"Layer {layer!r}: {table.source} should hold one integer per line", code="convert-unreadable", file=file
            ) from None
    if any(isinstance(t, str) == integers for t in tokens):
        raise KifError(
            f"Layer {layer!r}: its vocabulary table holds {'strings' if integers else 'integers'}",
            code="convert-unreadable",
            file=file,
            pointer=layer,
        )
    return tokens
