"""Stage 4: shape inference, reporting a shape error at the layer where it arises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kif.bundle.container import DOCUMENT
from kif.errors import GraphError
from kif.graph import Layer, TensorSpec
from kif.shapes import compatible, infer
from kif.validate.report import Report, pointer

if TYPE_CHECKING:
    from kif.validate.pipeline import Parsed


def check_shapes(parsed: Parsed, report: Report) -> None:
    doc = parsed.document
    file = parsed.container.member_label(DOCUMENT)
    inputs = [TensorSpec.from_json(s) for s in doc["inputs"]]
    layers = [Layer.from_json(layer) for layer in doc["layers"]]
    origin: list[int] | None = None
    if "composites" in doc:  # shape rules run through each composite's body, errors found at its call
        from kif.composites import inline, remap_pointer

        layers, origin = inline(layers, doc["composites"])
    weight_shapes = {name: tuple(info["shape"]) for name, info in doc["weights"]["tensors"].items()}
    try:
        known = infer(inputs, layers, weight_shapes)
    except GraphError as exc:
        where = exc.pointer if origin is None else remap_pointer(exc.pointer, origin)
        report.add(exc.code, exc.message, file, where)  # shape-mismatch, or limit-exceeded
        return
    for index, spec in enumerate(doc["outputs"]):
        found = known.get(spec["name"])
        if found is None:
            continue
        if not compatible(tuple(spec["shape"]), found.shape) or spec["dtype"] != found.dtype:
            report.add(
                "shape-mismatch",
                f"Graph output {spec['name']!r} is declared {spec['dtype']} {spec['shape']}; "
                f"the layers produce {found.dtype} {list(found.shape)}",
                file,
                pointer("outputs", index),
            )
