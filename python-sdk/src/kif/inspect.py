"""``kif inspect`` and ``kif layers``: describe a bundle or the catalog as plain data."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kif import catalog
from kif.bundle.reader import LazyWeights, load


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    model = load(path, verify=False)
    weights = model.weights
    layers = []
    for layer in model.layers:
        params = sum(int(np.prod(weights[t].shape)) for t in layer.weights.values())
        layers.append({"name": layer.name, "type": layer.type, "inputs": layer.inputs, "outputs": layer.outputs, "parameters": params})
    files = weights.bytes_per_file() if isinstance(weights, LazyWeights) else {}
    return {
        "path": str(path),
        "name": model.name,
        "kif_version": model.kif_version,
        "producer": model.producer,
        "inputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in model.inputs],
        "outputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in model.outputs],
        "layers": layers,
        "parameters": model.parameter_count(),
        "weight_bytes": sum(files.values()),
        "weight_files": files,
        "metadata": model.metadata,
        "self_test": model.self_test is not None,
    }


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


def render(info: dict[str, Any]) -> str:
    out = [f"{info['name']}  (KIF {info['kif_version']}, written by {info['producer'].get('name')} {info['producer'].get('version')})", ""]
    out.append("Inputs:")
    out += [f"  {s['name']}: {s['dtype']} {_shape(s['shape'])}" for s in info["inputs"]]
    out.append("Outputs:")
    out += [f"  {s['name']}: {s['dtype']} {_shape(s['shape'])}" for s in info["outputs"]]
    out.append("")
    rows = [
        [layer["name"], layer["type"], ", ".join(str(t) for t in layer["inputs"]), f"{layer['parameters']:,}"] for layer in info["layers"]
    ]
    out.append(_table(["layer", "type", "inputs", "params"], rows))
    out.append("")
    out.append(f"Parameters: {info['parameters']:,}   Weights: {_size(info['weight_bytes'])} in {len(info['weight_files'])} file(s)")
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
