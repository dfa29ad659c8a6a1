"""Stage 2b: required inputs are present, and grouped inputs (initial states) are given all or none (spec/graph.md)."""

from __future__ import annotations

from typing import Any

from kif import catalog
from kif.validate.report import Report

_STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2, "ConvLSTM1D": 2, "ConvLSTM2D": 2, "ConvLSTM3D": 2}  # after x, in order


def groups(layer: dict[str, Any]) -> list[range]:
    """The input positions its page requires all or none of: a recurrent layer's initial states, per direction."""
    layer_type = layer["type"]
    if layer_type in _STATES:
        return [range(1, 1 + _STATES[layer_type])]
    if layer_type == "Bidirectional":
        sides = [_STATES.get(layer["attributes"].get(side, {}).get("type"), 0) for side in ("forward", "backward")]
        return [range(1, 1 + sides[0]), range(1 + sides[0], 1 + sides[0] + sides[1])]
    return []


def check_inputs(doc: dict[str, Any], report: Report, file: str) -> None:
    """``layer-input-missing`` at each null required input and each absent member of a partly given group."""
    for index, layer in enumerate(doc["layers"]):
        definition = catalog.catalog().get(layer["type"])
        if definition is None:
            continue  # custom types and composite calls: their inputs are theirs to define
        inputs = layer["inputs"]
        low, high = definition.inputs
        required = len(inputs) if high is None else min(low, len(inputs))  # every input of a variadic type is required
        for slot in range(required):
            if inputs[slot] is None:
                message = f"Layer {layer['name']!r} ({layer['type']}): input {slot} is required"
                report.add("layer-input-missing", message, file, _at(index, slot))
        for group in groups(layer):
            given = [slot for slot in group if slot < len(inputs) and inputs[slot] is not None]
            if given and len(given) < len(group):
                for slot in group:
                    if slot not in given:
                        message = f"Layer {layer['name']!r} ({layer['type']}): inputs {list(group)} are given all or none; {slot} is absent"
                        report.add("layer-input-missing", message, file, _at(index, slot))


def _at(index: int, slot: int) -> str:
    return f"/layers/{index}/inputs/{slot}"
