"""Generate the conformance/invalid/ cases of the validator contract (spec/errors.md): warning codes, forward
compatibility, and rules that had no code or no case.

Built on the base bundle of ``invalid_bundles.py`` (x -> Dense -> Dense), or on a small LSTM / Softmax bundle
made here; every byte comes from first principles (JSON, struct, hashlib), independent of the KIF SDK. A warning
case holds a valid bundle and its case.json says ``"severity": "warning"``. Only this module's case folders are
replaced: ``python conformance/generators/invalid_contract.py [OUT]``.
"""

from __future__ import annotations

import hashlib
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
    DOCUMENT,
    WEIGHTS,
    Bundle,
    Entry,
    Tensor,
    archive,
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


# Unknown fields a later minor version could add: the top level, a graph input and its meta, a layer entry, the
# producer, the weights object, a file entry and an index entry (never a layer attribute: spec/versioning.md).
UNKNOWN_FIELDS = (
    "/future_top",
    "/producer/future_producer",
    "/inputs/0/future_input",
    "/inputs/0/meta/future_meta",
    "/layers/1/future_layer",
    "/weights/future_weights",
    "/weights/files/0/future_file",
    "/weights/tensors/dense_1~1kernel/future_tensor",
)


@case("version-newer-minor", "/kif_version", "A newer minor version adds unknown fields at eight levels", warning=True)
def newer_minor_unknown_fields() -> Bundle:
    bundle = base_bundle()
    doc = bundle.document
    assert doc is not None
    doc["kif_version"] = "0.99.0"
    doc["inputs"][0]["meta"] = {"value_range": [0.0, 1.0]}
    for where in UNKNOWN_FIELDS:
        *parents, key = [part.replace("~1", "/") for part in where.split("/")[1:]]
        target: Any = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[key] = {"added_in": "0.99.0", "values": [1, 2]}
    return bundle


# -- numbers, inputs, bool bytes, self-test dtypes, ZIP versions ----------------------

_ST = {"float32": "F32", "float16": "F16", "bool": "BOOL"}


def raw_safetensors(tensors: list[tuple[str, str, list[int], bytes]]) -> bytes:
    """A safetensors file of (name, KIF dtype, shape, data) in order, any dtype (invalid_bundles' knows floats only)."""
    header: dict[str, Any] = {}
    position = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": _ST[dtype], "shape": shape, "data_offsets": [position, position + len(data)]}
        position += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-(8 + len(encoded)) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(t[3] for t in tensors)


def with_self_test(bundle: Bundle, sample: bytes) -> Bundle:
    assert bundle.document is not None
    bundle.files["self_test.safetensors"] = sample
    digest = hashlib.sha256(sample).hexdigest()
    bundle.document["self_test"] = {"file": "self_test.safetensors", "sha256": digest, "size": len(sample), "rtol": 1e-5, "atol": 1e-6}
    return bundle


@case("document-invalid-json", None, "model.json holds an integer beyond the binary64 range (10^309)")
def integer_out_of_range() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    text = (json.dumps(bundle.document, indent=1) + "\n").encode()
    assert text.count(b'"units": 3,') == 1
    bundle.raw_document = text.replace(b'"units": 3,', b'"units": 1' + b"0" * 309 + b",")
    return bundle


@case("layer-input-missing", "/layers/0/inputs/0", "A Dense layer's one required input is written null")
def required_input_null() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    bundle.document["layers"][0]["inputs"] = [None]
    return bundle


@case("layer-input-missing", "/layers/2/inputs/1", "An input of Add, whose inputs are all required, is null")
def variadic_input_null() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    add = {"name": "sum", "type": "Add", "attributes": {}, "inputs": ["dense_2", None], "outputs": ["sum"], "weights": {}}
    bundle.document["layers"].append(add)
    bundle.document["outputs"].append({"name": "sum", "dtype": "float32", "shape": [None, 2]})
    return bundle


def lstm_bundle(inputs: list[str | None]) -> Bundle:
    """x [N, 3, 2] and the initial states h, c [N, 4] -> LSTM(4) reading ``inputs``."""
    graph_inputs = [{"name": "x", "dtype": "float32", "shape": [None, 3, 2]}]
    graph_inputs += [{"name": n, "dtype": "float32", "shape": [None, 4]} for n in ("h0", "c0") if n in inputs]
    layer = {
        "name": "lstm",
        "type": "LSTM",
        "attributes": defaults("LSTM", units=4),
        "inputs": inputs,
        "outputs": ["lstm"],
        "weights": {"kernel": "lstm/kernel", "recurrent_kernel": "lstm/recurrent_kernel", "bias": "lstm/bias"},
    }
    tensors = [
        Tensor("lstm/bias", "float32", [16], _floats(16, 0)),
        Tensor("lstm/kernel", "float32", [2, 16], _floats(32, 1)),
        Tensor("lstm/recurrent_kernel", "float32", [4, 16], _floats(64, 2)),
    ]
    doc = _document(graph_inputs, [{"name": "lstm", "dtype": "float32", "shape": [None, 4]}], [layer])
    return bundle_of(doc, tensors)


@case("layer-input-missing", "/layers/0/inputs/2", "LSTM given its initial h without its initial c")
def lstm_initial_h_only() -> Bundle:
    return lstm_bundle(["x", "h0"])


@case("layer-input-missing", "/layers/0/inputs/1", "LSTM given its initial c with its initial h null")
def lstm_initial_c_only() -> Bundle:
    return lstm_bundle(["x", None, "c0"])


@case("weights-bool-invalid", "/inputs~1mask", "A bool self-test input holds the byte 0x02")
def self_test_bool_byte() -> Bundle:
    doc = _document(
        [{"name": "x", "dtype": "float32", "shape": [None, 4]}, {"name": "mask", "dtype": "bool", "shape": [None, 4]}],
        [{"name": "softmax", "dtype": "float32", "shape": [None, 4]}],
        [{"name": "softmax", "type": "Softmax", "attributes": {"axis": -1}, "inputs": ["x", "mask"], "outputs": ["softmax"], "weights": {}}],  # noqa: E501
    )
    bundle = bundle_of(doc, [])
    sample = raw_safetensors(
        [
            ("inputs/x", "float32", [1, 4], struct.pack("<4f", 0.0, 0.0, 0.0, 0.0)),
            ("inputs/mask", "bool", [1, 4], bytes([1, 0, 2, 1])),
            ("outputs/softmax", "float32", [1, 4], struct.pack("<4f", 0.5, 0.0, 0.0, 0.5)),
        ]
    )
    return with_self_test(bundle, sample)


@case("weights-bool-invalid", "/flags", "A bool weight tensor holds the byte 0xFF")
def weight_bool_byte() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    floats = [(t.name, t.dtype, t.shape, t.data) for t in base_tensors()]
    blob = raw_safetensors([*floats, ("flags", "bool", [3], bytes([0, 255, 1]))])
    bundle.set_weights(blob)
    bundle.document["weights"]["tensors"]["flags"] = {"file": WEIGHTS, "dtype": "bool", "shape": [3]}
    return bundle


@case("self-test-invalid", "/outputs/0", "Self-test output is float16 where the graph output is float32")
def self_test_output_wrong_dtype() -> Bundle:
    half = struct.pack("<2e", 0.5, -0.25)
    sample = raw_safetensors([("inputs/x", "float32", [1, 4], _floats(4, 0)), ("outputs/dense_2", "float16", [1, 2], half)])
    return with_self_test(base_bundle(), sample)


@archive_case("archive-corrupt", None, "Member needs ZIP version 4.6 to extract, above the 4.5 KIF reads")
def archive_version_4_6() -> list[Entry]:
    entries = archive()
    entries[0].version = 46
    return entries


@archive_case("archive-corrupt", None, "model.json member needs ZIP version 6.3 (LZMA) to extract")
def archive_version_6_3() -> list[Entry]:
    entries = archive()
    assert entries[-1].name == DOCUMENT
    entries[-1].version = 63
    return entries


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
