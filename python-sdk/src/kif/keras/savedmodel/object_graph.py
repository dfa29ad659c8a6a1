"""The checkpoint's object graph (trackable_object_graph.proto), stored as the string tensor
``_CHECKPOINTABLE_OBJECT_GRAPH``: which object owns which checkpoint key.

TrackableObjectGraph: repeated TrackableObject nodes = 1 (node 0 is the root, the saved model).
TrackableObject: repeated ObjectReference children = 1 {int32 node_id = 1; string local_name = 2},
repeated SerializedTensor attributes = 2 {string name = 1; string full_name = 2; string checkpoint_key = 3},
repeated SlotVariableReference slot_variables = 3 (optimizer slots, never read here).
"""

from __future__ import annotations

from dataclasses import dataclass

from kif.errors import KifError
from kif.keras.savedmodel import wire

VARIABLE_VALUE = "VARIABLE_VALUE"


@dataclass(frozen=True)
class TrackableNode:
    children: tuple[tuple[str, int], ...]  # (local_name, node_id) in tracking order
    attributes: tuple[tuple[str, str, str], ...]  # (name, full_name, checkpoint_key)

    def child(self, name: str) -> int | None:
        return next((node_id for local, node_id in self.children if local == name), None)

    @property
    def variable_key(self) -> str | None:
        """The checkpoint key of this node's value when the node is a variable."""
        return next((key for name, _, key in self.attributes if name == VARIABLE_VALUE), None)


def parse_object_graph(data: bytes | memoryview, file: str) -> list[TrackableNode]:
    what = f"{file}: _CHECKPOINTABLE_OBJECT_GRAPH"
    nodes = []
    for fields in wire.messages(wire.parse(data, what), 1, what, 0):
        children = []
        for ref in wire.messages(fields, 1, what, 1):
            children.append((wire.text(ref, 2, what), wire.integer(ref, 1, what, bits=32)))
        attributes = tuple(
            (wire.text(a, 1, what), wire.text(a, 2, what), wire.text(a, 3, what)) for a in wire.messages(fields, 2, what, 1)
        )
        nodes.append(TrackableNode(tuple(children), attributes))
    if not nodes:
        raise KifError("The checkpoint's object graph has no nodes", code="convert-unreadable", file=file)
    for index, node in enumerate(nodes):
        for local, node_id in node.children:
            if not 0 <= node_id < len(nodes):
                raise KifError(
                    f"Object {index} names child {local!r} as node {node_id}, but the graph has {len(nodes)} nodes",
                    code="convert-unreadable",
                    file=file,
                )
    return nodes


def variables_under(nodes: list[TrackableNode], start: int, stop: set[int]) -> list[tuple[str, str]]:
    """(path, checkpoint key) of every variable reachable from ``start``, depth-first in tracking order.

    ``stop`` holds nodes not to enter (other Keras layers met inside this one belong to themselves);
    each variable is listed once, at the first path that reaches it.
    """
    out: list[tuple[str, str]] = []
    seen: set[int] = set()

    def walk(node_id: int, path: str, depth: int) -> None:
        if depth > 64:
            raise KifError("The checkpoint's object graph nests deeper than 64 objects", code="convert-unreadable")
        node = nodes[node_id]
        for local, child in node.children:
            if child in seen or child in stop:
                continue
            seen.add(child)
            key = nodes[child].variable_key
            child_path = f"{path}/{local}" if path else local
            if key is not None:
                out.append((child_path, key))
            else:
                walk(child, child_path, depth + 1)

    seen.add(start)
    walk(start, "", 0)
    return out
