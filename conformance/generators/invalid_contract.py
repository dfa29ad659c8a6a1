"""Generate the conformance/invalid/ cases of the validator contract (spec/errors.md): warning codes, forward
compatibility, and rules that had no code or no case.

Built on the base bundle of ``invalid_bundles.py`` (x -> Dense -> Dense), or on a small LSTM / Softmax bundle
made here; every byte comes from first principles (JSON, struct, hashlib), independent of the KIF SDK. A warning
case holds a valid bundle and its case.json says ``"severity": "warning"``. Only this module's case folders are
replaced: ``python conformance/generators/invalid_contract.py [OUT]``.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from invalid_bundles import (
    DEFAULT_OUT,
    WEIGHTS,
    Bundle,
    Entry,
    Tensor,
    base_bundle,
    base_tensors,
    file_entry,
    safetensors_bytes,
    zip_bytes,
)
from invalid_digests import Case, write_cases

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "layers"
CASES: list[Case] = []
WARNINGS: set[str] = set()  # ids of the warning cases
ARCHIVES: list[tuple[str, str, str, str | None, Callable[[], list[Entry]]]] = []


def case(code: str, pointer: str | None, description: str, warning: bool = False) -> Callable[[Callable[[], Bundle]], Callable[[], Bundle]]:
    def decorate(make: Callable[[], Bundle]) -> Callable[[], Bundle]:
        case_id = make.__name__.replace("_", "-")
        CASES.append((case_id, description, code, pointer, make))
        if warning:
            WARNINGS.add(case_id)
        return make

    return decorate


def archive_case(code: str, pointer: str | None, description: str) -> Callable[[Callable[[], list[Entry]]], Callable[[], list[Entry]]]:
    def decorate(make: Callable[[], list[Entry]]) -> Callable[[], list[Entry]]:
        ARCHIVES.append((make.__name__.replace("_", "-"), description, code, pointer, make))
        return make

    return decorate


def _floats(count: int, start: int) -> bytes:
    """Small exact float32 values (multiples of 1/16)."""
    return b"".join(struct.pack("<f", ((start + i) % 13 - 6) / 16) for i in range(count))


def defaults(layer_type: str, **given: Any) -> dict[str, Any]:
    """Every attribute of ``layer_type`` (writers emit all): the schema's defaults, overridden by ``given``."""
    schema = json.loads((SCHEMAS / f"{layer_type}.schema.json").read_text(encoding="utf-8"))
    out = {name: spec["default"] for name, spec in schema["properties"].items() if "default" in spec}
    return {**out, **given}


def bundle_of(doc: dict[str, Any], tensors: list[Tensor]) -> Bundle:
    """``doc`` with its weights index and file filled in from ``tensors``."""
    blob = safetensors_bytes(tensors)
    doc["weights"] = {
        "files": [file_entry(WEIGHTS, blob)],
        "tensors": {t.name: {"file": WEIGHTS, "dtype": t.dtype, "shape": t.shape} for t in tensors},
    }
    return Bundle(doc, {WEIGHTS: blob})


def _document(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kif_version": "0.1.0",
        "producer": {"name": "kif-conformance", "version": "0.1.0"},
        "name": "contract",
        "inputs": inputs,
        "outputs": outputs,
        "layers": layers,
    }


# -- warnings --------------------------------------------------------------------


@case("bundle-unlisted-file", None, "Bundle directory holds a file model.json does not list", warning=True)
def directory_unlisted_file() -> Bundle:
    bundle = base_bundle()
    bundle.files["notes.txt"] = b"not part of the bundle\n"
    return bundle


@case("graph-unused-layer", "/layers/2", "A layer's output reaches no graph output", warning=True)
def unused_layer() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    attributes = {"activation": "tanh"}
    spare = {"name": "spare", "type": "Activation", "attributes": attributes, "inputs": ["dense_1"], "outputs": ["spare"], "weights": {}}
    bundle.document["layers"].append(spare)
    return bundle


@case("weights-unreferenced", "/weights/tensors/spare", "The weights index lists a tensor no layer uses", warning=True)
def unreferenced_tensor() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    return bundle_of(bundle.document, [*base_tensors(), Tensor("spare", "float32", [2], _floats(2, 0))])


@case("version-newer-minor", "/kif_version", "kif_version is a newer minor version (0.99.0)", warning=True)
def newer_minor_version() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    bundle.document["kif_version"] = "0.99.0"
    return bundle


def generate(out: Path = DEFAULT_OUT) -> list[str]:
    """Write this module's cases under ``out`` (replacing only folders of the same ids); return the case ids."""
    ids = write_cases(CASES, out)
    for case_id in sorted(WARNINGS):
        path = out / case_id / "case.json"
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec["expect"]["severity"] = "warning"
        path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    for case_id, description, code, pointer, make in ARCHIVES:
        folder = out / case_id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "bundle.kif").write_bytes(zip_bytes(make()))
        spec = {"id": case_id, "description": description, "expect": {"code": code, "pointer": pointer}}
        (folder / "case.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return ids + [a[0] for a in ARCHIVES]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {len(generate(target))} cases to {target}")
