"""Stage 2c: the sizes model.json declares, against the format's bound and the reader's limits.

Shapes of graph inputs, outputs and the weights index stay within 2^53 - 1 (kif.sizes); the
number of layers and a layer's fan-in stay within ``max_layers`` and ``max_layer_inputs``.
Each breach is ``limit-exceeded`` at the offending value, found before anything is allocated.
"""

from __future__ import annotations

from typing import Any

from kif import limits, sizes
from kif.validate.report import Report, pointer


def check_bounds(doc: dict[str, Any], report: Report, file: str) -> None:
    # The message and the pointer are built only for a shape that breaks the bound (this runs on every open).
    for section in ("inputs", "outputs"):
        for index, spec in enumerate(doc[section]):
            if (problem := sizes.shape_problem(spec["shape"])) is not None:
                _report_shape(problem, f"{section[:-1].capitalize()} {spec['name']!r}", report, file, pointer(section, index, "shape"))
    for name, entry in doc["weights"]["tensors"].items():
        if (problem := sizes.shape_problem(entry["shape"])) is not None:
            _report_shape(problem, f"Tensor {name!r}", report, file, pointer("weights", "tensors", name, "shape"))
    bound = limits.current()
    layers = doc["layers"]
    if len(layers) > bound.max_layers:
        report.add(
            "limit-exceeded", f"Expected at most {bound.max_layers} layers (the max_layers limit). Received: {len(layers)}", file, "/layers"
        )
    for index, layer in enumerate(layers):
        if len(layer["inputs"]) > bound.max_layer_inputs:
            report.add(
                "limit-exceeded",
                f"Layer {layer['name']!r}: expected at most {bound.max_layer_inputs} inputs (the max_layer_inputs limit). "
                f"Received: {len(layer['inputs'])}",
                file,
                pointer("layers", index, "inputs"),
            )


def _report_shape(problem: str, what: str, report: Report, file: str, where: str) -> None:
    report.add("limit-exceeded", f"{what}: expected a shape within the format's bounds; {problem}", file, where)
