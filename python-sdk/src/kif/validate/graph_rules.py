"""Stage 2b: the graph as a whole (unique names, SSA tensors, order, cycles, outputs)."""

from __future__ import annotations

from typing import Any

from kif.validate.report import Report, pointer


def check_graph(doc: dict[str, Any], report: Report, file: str) -> None:
    layers = doc["layers"]
    _check_unique_names(doc, report, file)
    producer: dict[str, int] = {}  # tensor -> index of the layer making it (-1: graph input)
    for index, spec in enumerate(doc["inputs"]):
        if spec["name"] in producer:
            report.add("graph-duplicate-tensor", f"Tensor {spec['name']!r} is declared twice", file, pointer("inputs", index, "name"))
        producer[spec["name"]] = -1
    for index, layer in enumerate(layers):
        for slot, tensor in enumerate(layer["outputs"]):
            if tensor in producer:
                report.add(
                    "graph-duplicate-tensor",
                    f"Layer {layer['name']!r} produces tensor {tensor!r}, which is already produced",
                    file,
                    pointer("layers", index, "outputs", slot),
                )
            else:
                producer[tensor] = index
    late: list[tuple[int, int]] = []
    for index, layer in enumerate(layers):
        for slot, tensor in enumerate(layer["inputs"]):
            if tensor is None:
                continue
            where = pointer("layers", index, "inputs", slot)
            if tensor not in producer:
                report.add(
                    "graph-dangling-reference",
                    f"Layer {layer['name']!r} reads tensor {tensor!r}, which no input or layer produces",
                    file,
                    where,
                )
            elif producer[tensor] >= index:
                late.append((index, slot))
    if late:
        _report_order(layers, producer, late, report, file)
    for index, spec in enumerate(doc["outputs"]):
        if spec["name"] not in producer:
            report.add(
                "graph-output-unproduced",
                f"Graph output {spec['name']!r} is produced by no layer or input",
                file,
                pointer("outputs", index, "name"),
            )
    _check_unused(doc, producer, report, file)


def _check_unique_names(doc: dict[str, Any], report: Report, file: str) -> None:
    for section in ("layers", "inputs", "outputs"):
        seen: set[str] = set()
        for index, item in enumerate(doc[section]):
            if item["name"] in seen:
                report.add(
                    "graph-duplicate-name",
                    f"Name {item['name']!r} is used by more than one entry of {section}",
                    file,
                    pointer(section, index, "name"),
                )
            seen.add(item["name"])


def _report_order(layers: list[dict[str, Any]], producer: dict[str, int], late: list[tuple[int, int]], report: Report, file: str) -> None:
    """Forward references are either a cycle or just a wrong order; tell which."""
    edges = {i: {producer[t] for t in layer["inputs"] if t is not None and producer.get(t, -1) >= 0} for i, layer in enumerate(layers)}
    on_cycle = _nodes_on_cycles(edges)
    for index, slot in late:
        where = pointer("layers", index, "inputs", slot)
        name = layers[index]["name"]
        tensor = layers[index]["inputs"][slot]
        if index in on_cycle:
            report.add("graph-cycle", f"Layer {name!r} is part of a cycle through tensor {tensor!r}", file, where)
        else:
            report.add(
                "graph-not-topological",
                f"Layer {name!r} reads tensor {tensor!r} before the layer producing it; layers must be in topological order",
                file,
                where,
            )


def _nodes_on_cycles(edges: dict[int, set[int]]) -> set[int]:
    """Tarjan's strongly connected components, iteratively; nodes in an SCC of size > 1 or a self-loop."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    result: set[int] = set()
    counter = 0
    for root in edges:
        if root in index_of:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index_of[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    result.update(component)
    return result


def _check_unused(doc: dict[str, Any], producer: dict[str, int], report: Report, file: str) -> None:
    layers = doc["layers"]
    needed = {spec["name"] for spec in doc["outputs"]}
    used_layers: set[int] = set()
    for index in range(len(layers) - 1, -1, -1):
        if any(t in needed for t in layers[index]["outputs"]):
            used_layers.add(index)
            needed.update(t for t in layers[index]["inputs"] if t is not None)
    for index, layer in enumerate(layers):
        if index not in used_layers:
            report.add(
                "graph-unused-layer",
                f"Layer {layer['name']!r} contributes to no graph output",
                file,
                pointer("layers", index),
            )
