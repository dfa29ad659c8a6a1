"""Shared machinery of the positive-case generators (``layers_*.py``, ``graph_features.py``, ``models.py``).

A generator lists ``Case`` objects; ``main`` turns each into a folder
``cases/<group>/<id>/`` holding ``model.kif`` (a STORED archive), ``inputs.safetensors``,
``expected.safetensors`` and ``case.json``. For every case:

1. the Keras 3 model is built (``KERAS_BACKEND=torch``) after resetting Keras's name
   counters and seeding, and every variable gets seeded values (variances positive);
2. the expected outputs come from ``model.predict`` — or from the case's own NumPy
   formula where Keras-torch departs from TensorFlow semantics (KIF follows TensorFlow);
3. the live model is written with ``kif.keras.export`` (the Keras converter on its config and variables);
4. the KIF reference runtime runs the bundle and MUST agree within the case tolerance,
   or the generator stops with the list of disagreements. Nothing is written then.

The output is byte-reproducible: seeds derive from the case id, archives carry fixed dates.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import kif
import numpy as np
from kif import catalog
from kif.keras import export
from safetensors.numpy import save_file

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"
Arrays = list[np.ndarray]


@dataclass
class Case:
    id: str
    description: str
    build: Callable[[], keras.Model]
    inputs: Arrays
    level: str = "core"
    sections: Sequence[str] = ()  # extra spec sections beyond each layer type's page
    formula: Callable[[keras.Model, Arrays], Arrays] | None = None  # oracle replacing model.predict
    tolerance: dict[str, Any] | None = None  # {"rtol", "atol", "reason"}: overrides the catalog class
    weights: Callable[[keras.Model, np.random.Generator], None] | None = None
    # Builds the bundle with kif.GraphBuilder from the Keras model (its weights, Keras layouts) where
    # kif.keras.export cannot represent the Keras config; None = kif.keras.export(model).
    bundle: Callable[[keras.Model], kif.Model] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Whole-file digests keep a case readable by 0.1 importers; "tensor" makes a case of the 0.2.0 per-tensor form.
    digests: str = "file"


def seed_of(case_id: str) -> int:
    return zlib.crc32(case_id.encode())


def rng_for(case_id: str, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(seed_of(case_id + salt))


def seeded_weights(model: keras.Model, rng: np.random.Generator) -> None:
    """Every float variable gets U(-0.5, 0.5); variances U(0.5, 1.5). Counters and seeds are left alone."""
    for var in model.weights:
        dtype = np.dtype(keras.backend.standardize_dtype(var.dtype))
        if dtype.kind != "f":
            continue
        low, high = (0.5, 1.5) if "variance" in var.path else (-0.5, 0.5)
        var.assign(rng.uniform(low, high, size=tuple(var.shape)).astype(dtype))


def layer_model(
    layer_factory: Callable[[], Any], shapes: Sequence[Sequence[int | None]], dtypes: Sequence[str] | str = "float32"
) -> Callable[[], keras.Model]:
    """A one-layer Keras model: inputs ``x`` (or ``x0``, ``x1``, …) without their batch dimension."""

    def build() -> keras.Model:
        kinds = [dtypes] * len(shapes) if isinstance(dtypes, str) else list(dtypes)
        names = ["x"] if len(shapes) == 1 else [f"x{i}" for i in range(len(shapes))]
        ins = [keras.Input(tuple(s), dtype=d, name=n) for s, d, n in zip(shapes, kinds, names, strict=True)]
        layer = layer_factory()
        out = layer(ins[0] if len(ins) == 1 else ins)
        return keras.Model(ins, out)

    return build


def normal(rng: np.random.Generator, *shape: int, dtype: str = "float32") -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def tolerance_for(types: Iterable[str], dtype: str) -> dict[str, Any]:
    """The loosest catalog tolerance among ``types`` for ``dtype`` (max rtol, max atol), with the loosest class's reason."""
    classes = []
    for t in sorted(set(types)):
        tol = catalog.get(t).tolerance
        cls = tol.get(dtype, tol["float32"])
        classes.append((float(cls["rtol"]), float(cls["atol"]), f"{t} ({dtype}): {tol.get('reason', '')}".strip()))
    rtol, atol = max(c[0] for c in classes), max(c[1] for c in classes)
    loosest = max(classes, key=lambda c: (c[0] + c[1], c[0]))
    reason = loosest[2] if (rtol, atol) != (0.0, 0.0) else "exact: every layer type involved has tolerance 0 (data movement only)"
    return {"rtol": rtol, "atol": atol, "reason": reason}


def worst(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> float:
    """max |got - want| / (atol + rtol |want|); a case passes at <= 1 (0/0 counts as 0)."""
    if got.dtype.kind in "biu" or want.dtype.kind in "biu":
        return 0.0 if np.array_equal(got, want) else float("inf")
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isnan(g), np.isnan(w)):
        return float("inf")
    g, w = np.nan_to_num(g), np.nan_to_num(w)
    diff = np.abs(g - w)
    bound = atol + rtol * np.abs(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    return float(ratio.max()) if ratio.size else 0.0


def _layer_types(document: dict[str, Any]) -> list[str]:
    """The catalog types a reader runs: a composite call counts as its body's types (spec/composites.md)."""
    defs = document.get("composites", {})

    def expand(layer_type: str) -> list[str]:
        return [t for inner in defs[layer_type]["layers"] for t in expand(inner["type"])] if layer_type in defs else [layer_type]

    return sorted({t for layer in document["layers"] for t in expand(layer["type"])})


def write_case(group: str, case: Case, out: Path) -> None:
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed_of(case.id) % (2**31))
    model = case.build()
    (case.weights or seeded_weights)(model, rng_for(case.id, "weights"))
    if case.formula is not None:
        expected = list(case.formula(model, case.inputs))
    else:
        feed = case.inputs[0] if len(case.inputs) == 1 else list(case.inputs)
        predicted = model.predict(feed, verbose=0, batch_size=len(case.inputs[0]))
        expected = [np.asarray(p) for p in (predicted if isinstance(predicted, (list, tuple)) else [predicted])]
    folder = out / case.id
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "model.kif"
        if case.bundle is not None:
            kif.save(case.bundle(model), bundle, digests=case.digests)
        else:
            export(model, bundle, digests=case.digests)
        loaded = kif.load(bundle)
        document = json.loads(loaded_document(bundle))
        in_names = [s.name for s in loaded.inputs]
        out_names = [s.name for s in loaded.outputs]
        if len(in_names) != len(case.inputs) or len(out_names) != len(expected):
            counts = f"{len(in_names)} inputs / {len(out_names)} outputs, the case {len(case.inputs)} / {len(expected)}"
            raise CaseDisagrees(f"{case.id}: the bundle has {counts}")
        inputs = dict(zip(in_names, case.inputs, strict=True))
        exp = {}
        for spec, value in zip(loaded.outputs, expected, strict=True):
            typed = value.astype(np.dtype(spec.dtype)) if spec.dtype != "bool" else value.astype(bool)
            exp[spec.name] = np.array(typed, order="C")  # 0-d stays 0-d (np.ascontiguousarray would make it 1-d)
        types = _layer_types(document)
        dtype = "float16" if any(s.dtype == "float16" for s in loaded.outputs) else "float32"
        tol = dict(case.tolerance) if case.tolerance else tolerance_for(types, dtype)
        got = kif.run(loaded, inputs)
        ratios = {name: worst(np.asarray(got[name]), exp[name], tol["rtol"], tol["atol"]) for name in out_names}
        shape_ok = all(np.asarray(got[n]).shape == exp[n].shape for n in out_names)
        if not shape_ok or max(ratios.values()) > 1:
            shapes = {n: (np.asarray(got[n]).shape, exp[n].shape) for n in out_names}
            raise CaseDisagrees(f"{case.id}: reference runtime disagrees with the oracle: worst/tol={ratios} shapes={shapes}")
        report = kif.validate(bundle)
        if not report.ok:
            raise CaseDisagrees(f"{case.id}: bundle invalid: {[str(f) for f in report.errors]}")
        del loaded, got
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(bundle, folder / "model.kif")
    save_file({k: np.ascontiguousarray(v) for k, v in inputs.items()}, str(folder / "inputs.safetensors"))
    save_file(exp, str(folder / "expected.safetensors"))
    sections = list(dict.fromkeys(catalog.get(t).spec_page for t in types)) + list(case.sections)  # ops share family pages
    record = {
        "id": case.id,
        "description": case.description,
        "group": group,
        "level": case.level,
        "spec_version": document["kif_version"],  # the version the bundle is written in (the lowest it needs)
        "spec_sections": sections,
        "layer_types": types,
        "oracle": "numpy-formula" if case.formula is not None else "keras",
        "tolerance": {"dtype": dtype, **tol},
        "inputs": in_names,
        "outputs": out_names,
        **case.extra,
    }
    (folder / "case.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


class CaseDisagrees(Exception):
    pass


def loaded_document(bundle: Path) -> str:
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        return archive.read("model.json").decode()


def main(
    group: str,
    cases: Callable[[], Iterable[Any]],
    argv: Sequence[str] | None = None,
    writer: Callable[[str, Any, Path], None] | None = None,
) -> None:
    """``python <generator>.py [OUT_ROOT] [-k SUBSTRING]``: (re)write ``OUT_ROOT/<group>/``.

    ``writer(group, case, out)`` writes one case (default ``write_case``; coverage_gaps also writes hand-built ones)."""
    args = list(sys.argv[1:] if argv is None else argv)
    pattern = None
    if "-k" in args:
        i = args.index("-k")
        pattern = args[i + 1]
        del args[i : i + 2]
    root = Path(args[0]) if args else CASES_DIR
    out = root / group
    todo = [c for c in cases() if pattern is None or pattern in c.id]
    ids = [c.id for c in todo]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate case ids: {duplicates}")
    if pattern is None and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    for case in todo:
        try:
            (writer or write_case)(group, case, out)
        except Exception as exc:
            failures.append(str(exc) if isinstance(exc, CaseDisagrees) else f"{case.id}: {type(exc).__name__}: {exc}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        raise SystemExit(f"{len(failures)} case(s) disagree with the reference runtime; fix them before committing")
    print(f"{group}: wrote {len(todo)} cases to {out}")


def one_layer_bundle(
    layer_type: str, weights: Sequence[str] = (), flatten: bool = False, **attributes: Any
) -> Callable[[keras.Model], kif.Model]:
    """A builder bundle for a one-layer Keras model: inputs as the Keras model's, weights by role in Keras order."""

    def make(model: keras.Model) -> kif.Model:
        b = kif.GraphBuilder(model.name)
        names = [b.input(t.name, keras.backend.standardize_dtype(t.dtype), tuple(t.shape)) for t in model.inputs]
        layer = model.layers[-1]
        values = {
            role: np.asarray(keras.ops.convert_to_numpy(v)).reshape(-1) if flatten else np.asarray(keras.ops.convert_to_numpy(v))
            for role, v in zip(weights, layer.weights, strict=False)
        }
        out = b.add(layer_type, names if len(names) > 1 else names[0], name=layer.name, weights=values, **attributes)
        b.output(out)
        return b.build()

    return make


def layer_case(
    case_id: str,
    description: str,
    factory: Callable[[], Any],
    *shapes: Sequence[int],
    dtype: Sequence[str] | str = "float32",
    inputs: Arrays | None = None,
    **kwargs: Any,
) -> Case:
    """One Keras layer on batch-2 inputs of the given shapes (without batch); inputs default to N(0, 1)."""
    rng = rng_for(case_id, "inputs")
    kinds = [dtype] * len(shapes) if isinstance(dtype, str) else list(dtype)
    arrays = inputs if inputs is not None else [normal(rng, 2, *s, dtype=d) for s, d in zip(shapes, kinds, strict=True)]
    return Case(case_id, description, layer_model(factory, shapes, dtype), arrays, **kwargs)
