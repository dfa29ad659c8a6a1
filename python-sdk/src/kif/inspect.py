"""``kif inspect`` and ``kif layers``: describe a bundle or the catalog as plain data."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kif import catalog
from kif.bundle.reader import LazyWeights, load

FORMAT = "kif-inspect/1"  # the ``format`` of ``kif inspect --json``; schemas/inspect.schema.json describes it
_MAX_LABELS_SHOWN = 6


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle as plain data, in the shape schemas/inspect.schema.json documents (headers only: no tensor is read)."""
    from kif.shapes import infer

    model = load(path, verify=False)
    weights = model.weights
    lazy = isinstance(weights, LazyWeights)
    shapes = weights.shapes() if lazy else {n: tuple(a.shape) for n, a in weights.items()}
    types = infer(model.inputs, model.layers, shapes, strict=False)
    layers = []
    for layer in model.layers:
        params = sum(int(np.prod(shapes[t])) for t in layer.weights.values() if t in shapes)
        outputs = []
        for name in layer.outputs:
            found = types.get(name)
            outputs.append({"name": name, "dtype": found.dtype if found else None, "shape": list(found.shape) if found else None})
        layers.append(
            {
                "name": layer.name,
                "type": layer.type,
                "inputs": list(layer.inputs),
                "outputs": outputs,
                "weights": dict(layer.weights),
                "parameters": params,
            }
        )
    files = weights.files() if lazy else []
    return {
        "format": FORMAT,
        "path": str(path),
        "name": model.name,
        "kif_version": model.document_version(),
        "producer": dict(model.producer),
        "description": model.description,
        "license": model.license,
        "preprocessing": model.preprocessing,
        "metadata": dict(model.metadata),
        "inputs": [_spec(s) for s in model.inputs],
        "outputs": [_spec(s) for s in model.outputs],
        "layers": layers,
        "parameters": model.parameter_count(),
        "weight_bytes": sum(f["bytes"] for f in files),
        "weight_files": files,
        "self_test": model.self_test is not None,
    }


def _spec(spec: Any) -> dict[str, Any]:
    return {"name": spec.name, "dtype": spec.dtype, "shape": list(spec.shape), "meta": dict(spec.meta)}


def _shape(shape: list[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _size(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{nbytes} B"
        size /= 1024
    return f"{nbytes} B"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)  # no trailing blanks after the last column


def _numbers(value: Any) -> str:
    return ", ".join(f"{v:g}" for v in value) if isinstance(value, list) else f"{value:g}"


def _meta(meta: dict[str, Any]) -> str:
    """Typed I/O metadata in a few words: layout, colour order, value range, normalisation, labels."""
    parts = []
    if "layout" in meta:
        parts.append(f"layout {meta['layout']}")
    if "color_order" in meta:
        parts.append(meta["color_order"])
    if "value_range" in meta:
        parts.append(f"range [{_numbers(meta['value_range'])}]")
    if "normalization" in meta:
        norm = meta["normalization"]
        parts.append(f"normalize mean [{_numbers(norm['mean'])}] std [{_numbers(norm['std'])}]")
    if "labels" in meta:
        labels = meta["labels"]
        shown = ", ".join(labels[:_MAX_LABELS_SHOWN]) + (f", … ({len(labels)} labels)" if len(labels) > _MAX_LABELS_SHOWN else "")
        parts.append(f"labels: {shown}")
    return ("  (" + "; ".join(parts) + ")") if parts else ""


def _output(out: dict[str, Any]) -> str:
    return "?" if out["dtype"] is None else f"{out['dtype']} {_shape(out['shape'])}"


def render(info: dict[str, Any]) -> str:
    producer = info["producer"]
    out = [f"{info['name']}  (KIF {info['kif_version']}, written by {producer.get('name')} {producer.get('version')})"]
    for key, title in (("description", "Description"), ("license", "License"), ("preprocessing", "Preprocessing")):
        if info.get(key):
            out.append(f"{title}: {' '.join(str(info[key]).split())}")
    out.append("")
    out.append("Inputs:")
    out += [f"  {s['name']}: {s['dtype']} {_shape(s['shape'])}{_meta(s['meta'])}" for s in info["inputs"]]
    out.append("Outputs:")
    out += [f"  {s['name']}: {s['dtype']} {_shape(s['shape'])}{_meta(s['meta'])}" for s in info["outputs"]]
    out.append("")
    rows = [
        [
            layer["name"],
            layer["type"],
            ", ".join(str(t) for t in layer["inputs"]),
            "; ".join(_output(o) for o in layer["outputs"]),
            f"{layer['parameters']:,}",
        ]
        for layer in info["layers"]
    ]
    out.append(_table(["layer", "type", "inputs", "output", "params"], rows))
    out.append("")
    out.append(f"Parameters: {info['parameters']:,}   Weights: {_size(info['weight_bytes'])} in {len(info['weight_files'])} file(s)")
    out += [f"  {f['file']}: {f['tensors']} tensors, {_size(f['bytes'])}" for f in info["weight_files"]]
    out.append(f"Self-test: {'yes' if info['self_test'] else 'none'}")
    if info["metadata"]:
        out.append("Metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(info["metadata"].items())))
    return "\n".join(out)


def layer_table() -> list[dict[str, Any]]:
    from kif.layers import kernels

    implemented = kernels()
    return [
        {
            "type": d.type,
            "since": d.since,
            "tolerance": {"float32": d.tolerance["float32"], "float16": d.tolerance["float16"]},
            "runtime": d.type in implemented,
        }
        for d in catalog.catalog().values()
    ]


def render_layer_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            r["type"],
            r["since"],
            f"rtol={r['tolerance']['float32']['rtol']:g} atol={r['tolerance']['float32']['atol']:g}",
            "yes" if r["runtime"] else "no",
        ]
        for r in rows
    ]
    return _table(["type", "since", "float32 tolerance", "runtime"], body)
