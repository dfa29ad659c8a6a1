"""``kif diff A B``: what differs between two bundles — metadata and version, graph inputs and outputs, layers, weights.

``diff(a, b)`` returns plain data (``kif diff --json`` prints it); ``render`` turns it into a short report. The
structure (format ``kif-diff/1``, fixed by schemas/diff.schema.json; tests/test_diff_schema.py):

- ``format``, ``a``, ``b`` (the paths), ``identical`` (true when every list below is empty);
- ``metadata``: ``[{field, a, b}]`` for kif_version, name, producer, description, license, preprocessing,
  metadata and self_test (present or not) that differ;
- ``inputs``, ``outputs``: ``[{index, fields, a, b}]``, graph inputs and outputs compared by position (``a`` or
  ``b`` is null when one side has fewer);
- ``layers``: ``added`` and ``removed`` (``[{name, type}]``), ``renamed`` (``[{a, b, type}]``: matched by
  structure, see ``kif.diff_graph``), ``changed`` (``[{a, b, type, changes}]``, each change a ``{what, ...}`` with
  ``what`` one of type, attribute, inputs, weight_roles, outputs, output_type);
- ``tensors_renamed``: ``[{a, b}]`` activation tensors of matched layers and graph inputs whose names differ;
- ``weights``: ``identical`` (a count), ``changed`` (``[{layer, role, a, b, shape, dtype, max_abs_diff,
  max_rel_diff, elements_differing, elements}]``) and ``reshaped`` (``[{layer, role, a, b, a_shape, b_shape,
  a_dtype, b_dtype}]``), over the weights of matched layers by role (see ``kif.diff_weights``); in ``--json``
  an infinite difference is the string ``"inf"``.

Both bundles are loaded with ``kif.load`` (checksums verified): an invalid or unreadable bundle is an error, not a
difference.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from kif import diff_graph, diff_weights
from kif.errors import KifError
from kif.graph import Model

FORMAT = "kif-diff/1"
_META_FIELDS = ("kif_version", "name", "producer", "description", "license", "preprocessing", "metadata")


def _open(path: str | os.PathLike[str]) -> Model:
    from kif.bundle.reader import load

    try:
        return load(path)
    except KifError as exc:  # an input kif diff cannot compare: reported as unreadable (exit 2), never as "different"
        raise KifError(
            f"Cannot compare {path}: {exc.message}", code="bundle-unreadable", file=exc.file or str(path), pointer=exc.pointer
        ) from None


def _types(model: Model) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, Any]]:
    from kif.bundle.reader import LazyWeights
    from kif.shapes import infer

    weights = model.weights
    shapes = weights.shapes() if isinstance(weights, LazyWeights) else {n: tuple(a.shape) for n, a in weights.items()}
    return shapes, _dtypes_of(weights), infer(model.inputs, model.layers, shapes, strict=False)


def _dtypes_of(weights: Any) -> dict[str, str]:
    entries = getattr(weights, "_entries", None)
    if entries is not None:  # LazyWeights: from the headers, no tensor read
        return {name: entry.dtype.name for name, (_, entry, _) in entries.items()}
    return {name: diff_weights._dtype_name(array) for name, array in weights.items()}


def _metadata(a: Model, b: Model) -> list[dict[str, Any]]:
    out = []
    for name in _META_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            out.append({"field": name, "a": va, "b": vb})
    if (a.self_test is None) != (b.self_test is None):
        out.append({"field": "self_test", "a": a.self_test is not None, "b": b.self_test is not None})
    return out


def compare(a: Model, b: Model, label_a: str = "a", label_b: str = "b") -> dict[str, Any]:
    """The differences between two loaded models, in the structure the module docstring describes."""
    shapes_a, dtypes_a, types_a = _types(a)
    shapes_b, dtypes_b, types_b = _types(b)
    keys_a = diff_graph.structural_keys(a, shapes_a, dtypes_a)
    keys_b = diff_graph.structural_keys(b, shapes_b, dtypes_b)
    pairs, removed, added = diff_graph.match_layers(a, b, keys_a, keys_b)
    renames = diff_graph.tensor_renames(a, b, pairs)
    layers: dict[str, list[dict[str, Any]]] = {
        "added": [{"name": la.name, "type": la.type} for la in added],
        "removed": [{"name": la.name, "type": la.type} for la in removed],
        "renamed": [{"a": la.name, "b": lb.name, "type": lb.type} for la, lb, how in pairs if how == "structure"],
        "changed": [],
    }
    weights: dict[str, Any] = {"identical": 0, "changed": [], "reshaped": []}
    for la, lb, _ in pairs:
        changes = diff_graph.layer_changes(la, lb, renames, types_a, types_b)
        if changes:
            layers["changed"].append({"a": la.name, "b": lb.name, "type": lb.type, "changes": changes})
        for role in sorted(set(la.weights) & set(lb.weights)):
            ta, tb = la.weights[role], lb.weights[role]
            result = diff_weights.compare(a.weights[ta], b.weights[tb])
            status = result.pop("status")
            if status == "identical":
                weights["identical"] += 1
            else:
                weights[status].append({"layer": lb.name, "role": role, "a": ta, "b": tb, **result})
    tensors_renamed = [{"a": ta, "b": tb} for ta, tb in renames.items() if ta != tb]
    result = {
        "format": FORMAT,
        "a": label_a,
        "b": label_b,
        "identical": False,
        "metadata": _metadata(a, b),
        "inputs": diff_graph.io_changes(a, b, "inputs"),
        "outputs": diff_graph.io_changes(a, b, "outputs"),
        "layers": layers,
        "tensors_renamed": tensors_renamed,
        "weights": weights,
    }
    result["identical"] = not (
        result["metadata"]
        or result["inputs"]
        or result["outputs"]
        or any(layers.values())
        or tensors_renamed
        or weights["changed"]
        or weights["reshaped"]
    )
    return result


def diff(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> dict[str, Any]:
    """Load two bundles (paths or fsspec URLs) and compare them; raise KifError (``bundle-unreadable``) for either."""
    return compare(_open(a), _open(b), str(a), str(b))


def dumps(result: dict[str, Any]) -> str:
    """``result`` as strict JSON: an infinite difference (NaN against a number) is written as the string "inf"."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return "inf"
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(result), indent=2, allow_nan=False)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _change_text(change: dict[str, Any]) -> str:
    what = change["what"]
    if what == "attribute":
        return f"attribute {change['attribute']}: {_short(change['a'])} -> {_short(change['b'])}"
    if what == "output_type":
        fmt = lambda t: "unknown" if t is None else f"{t[0]}{t[1]}"  # noqa: E731
        return f"output {change['b_tensor']}: {fmt(change['a'])} -> {fmt(change['b'])}"
    return f"{what}: {_short(change['a'])} -> {_short(change['b'])}"


def _count(result: dict[str, Any]) -> int:
    layers, weights = result["layers"], result["weights"]
    return (
        len(result["metadata"])
        + len(result["inputs"])
        + len(result["outputs"])
        + sum(len(v) for v in layers.values())
        + len(result["tensors_renamed"])
        + len(weights["changed"])
        + len(weights["reshaped"])
    )


def render(result: dict[str, Any]) -> str:
    """A short human report: one line per difference, grouped; the last line says identical or how many differ."""
    lines: list[str] = []
    if result["metadata"]:
        lines.append("metadata:")
        lines += [f"  {m['field']}: {_short(m['a'])} -> {_short(m['b'])}" for m in result["metadata"]]
    for kind in ("inputs", "outputs"):
        if result[kind]:
            lines.append(f"{kind}:")
            for item in result[kind]:
                lines.append(
                    f"  #{item['index']} ({', '.join(item['fields']) or 'added/removed'}): {_short(item['a'])} -> {_short(item['b'])}"
                )
    layers = result["layers"]
    if any(layers.values()):
        lines.append("layers:")
        lines += [f"  - {la['name']} ({la['type']}) removed" for la in layers["removed"]]
        lines += [f"  + {la['name']} ({la['type']}) added" for la in layers["added"]]
        lines += [f"  ~ {la['a']} -> {la['b']} ({la['type']}) renamed (matched by structure)" for la in layers["renamed"]]
        for la in layers["changed"]:
            name = la["b"] if la["a"] == la["b"] else f"{la['a']} -> {la['b']}"
            lines.append(f"  ~ {name} ({la['type']}): " + "; ".join(_change_text(c) for c in la["changes"]))
    if result["tensors_renamed"]:
        shown = result["tensors_renamed"][:8]
        more = len(result["tensors_renamed"]) - len(shown)
        lines.append("tensors renamed: " + ", ".join(f"{t['a']} -> {t['b']}" for t in shown) + (f" and {more} more" if more else ""))
    weights = result["weights"]
    changed, reshaped = weights["changed"], weights["reshaped"]
    if changed or reshaped:
        lines.append(f"weights: {weights['identical']} identical, {len(changed)} changed, {len(reshaped)} with another shape or dtype")
        for w in changed:
            lines.append(
                f"  {w['b']} ({w['layer']}.{w['role']}): max abs diff {w['max_abs_diff']:.6g}, max rel diff {w['max_rel_diff']:.6g}, "
                f"{w['elements_differing']} of {w['elements']} elements differ"
            )
        for w in reshaped:
            lines.append(f"  {w['b']} ({w['layer']}.{w['role']}): {w['a_dtype']}{w['a_shape']} -> {w['b_dtype']}{w['b_shape']}")
    verdict = "identical" if result["identical"] else f"{_count(result)} difference{'s' * (_count(result) != 1)}"
    lines.append(f"{result['a']} vs {result['b']}: {verdict}")
    return "\n".join(lines)
