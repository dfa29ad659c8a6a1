"""Generate the conformance/invalid/ cases of per-tensor digests (spec/integrity.md, since 0.2.0).

The bundles are the base bundle of ``invalid_bundles.py`` (x -> Dense -> Dense) in the per-tensor form: its weight
file entry has ``header_sha256`` and each tensor of the index its ``sha256``; each case breaks one rule. Every byte
is built here from first principles (JSON, struct, hashlib), independent of the KIF SDK. Only this module's case
folders are replaced: ``python conformance/generators/invalid_digests.py [OUT]``.
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

from invalid_bundles import DEFAULT_OUT, WEIGHTS, Bundle, Tensor, base_document, base_tensors, write_directory

_METADATA = {"format": "pt"}
Case = tuple[str, str, str, str | None, Callable[[], Bundle]]
CASES: list[Case] = []


def _header(tensors: list[Tensor]) -> bytes:
    """Length prefix + header JSON (with ``__metadata__``), padded with spaces to 8 bytes."""
    header: dict[str, Any] = {"__metadata__": _METADATA}
    position = 0
    for t in tensors:
        header[t.name] = {"dtype": "F32", "shape": t.shape, "data_offsets": [position, position + len(t.data)]}
        position += len(t.data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-(8 + len(encoded)) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def per_tensor_bundle() -> Bundle:
    """The base bundle at 0.2.0 with per-tensor digests (and no whole-file digest)."""
    tensors = base_tensors()
    head = _header(tensors)
    blob = head + b"".join(t.data for t in tensors)
    doc = base_document(tensors, blob)
    doc["kif_version"] = "0.2.0"
    doc["weights"]["files"] = [{"path": WEIGHTS, "header_sha256": hashlib.sha256(head).hexdigest(), "size": len(blob)}]
    for t in tensors:
        doc["weights"]["tensors"][t.name]["sha256"] = hashlib.sha256(t.data).hexdigest()
    return Bundle(doc, {WEIGHTS: blob})


def case(code: str, pointer: str | None, description: str) -> Callable[[Callable[[], Bundle]], Callable[[], Bundle]]:
    def decorate(make: Callable[[], Bundle]) -> Callable[[], Bundle]:
        CASES.append((make.__name__.replace("_", "-"), description, code, pointer, make))
        return make

    return decorate


@case(
    "weights-checksum-mismatch",
    "/weights/tensors/dense_1~1kernel/sha256",
    "Per-tensor form: one data byte of dense_1/kernel differs from its sha256",
)
def tensor_checksum_mismatch() -> Bundle:
    bundle = per_tensor_bundle()
    blob = bytearray(bundle.files[WEIGHTS])
    head = 8 + struct.unpack("<Q", blob[:8])[0]
    blob[head + 3 * 4 + 5] ^= 0x01  # dense_1/bias is 3 floats; dense_1/kernel starts after it
    bundle.files[WEIGHTS] = bytes(blob)
    return bundle


@case(
    "weights-checksum-mismatch",
    "/weights/files/0/header_sha256",
    "Per-tensor form: the header matches the index but not header_sha256",
)
def header_checksum_mismatch() -> Bundle:
    bundle = per_tensor_bundle()
    blob = bundle.files[WEIGHTS]
    bundle.files[WEIGHTS] = blob.replace(b'"format":"pt"', b'"format":"pu"', 1)
    return bundle


@case(
    "schema-violation",
    "/weights/tensors/dense_2~1bias",
    "Per-tensor form: the file has header_sha256, one of its tensors no sha256",
)
def tensor_digest_missing() -> Bundle:
    bundle = per_tensor_bundle()
    assert bundle.document is not None
    del bundle.document["weights"]["tensors"]["dense_2/bias"]["sha256"]
    return bundle


@case(
    "schema-violation",
    "/weights/tensors/dense_1~1bias/sha256",
    "A tensor has sha256 although its file has only a whole-file digest",
)
def tensor_digest_without_header_digest() -> Bundle:
    bundle = per_tensor_bundle()
    assert bundle.document is not None
    entry = bundle.document["weights"]["files"][0]
    del entry["header_sha256"]
    entry["sha256"] = hashlib.sha256(bundle.files[WEIGHTS]).hexdigest()
    for name, tensor in bundle.document["weights"]["tensors"].items():
        if name != "dense_1/bias":
            del tensor["sha256"]
    return bundle


@case(
    "schema-violation",
    "/weights/files/0/header_sha256",
    "A kif_version 0.1.0 document uses header_sha256, a spec 0.2.0 field",
)
def tensor_digests_in_0_1_0() -> Bundle:
    bundle = per_tensor_bundle()
    assert bundle.document is not None
    bundle.document["kif_version"] = "0.1.0"
    bundle.document["weights"]["files"][0]["sha256"] = hashlib.sha256(bundle.files[WEIGHTS]).hexdigest()
    return bundle


@case(
    "schema-violation",
    "/weights/files/0",
    "A weight file entry has neither sha256 nor header_sha256",
)
def file_digest_missing() -> Bundle:
    bundle = per_tensor_bundle()
    assert bundle.document is not None
    del bundle.document["weights"]["files"][0]["header_sha256"]
    for tensor in bundle.document["weights"]["tensors"].values():
        del tensor["sha256"]
    return bundle


def write_cases(cases: list[Case], out: Path) -> list[str]:
    """Write ``cases`` under ``out``, replacing only folders of the same ids; return the case ids."""
    out.mkdir(parents=True, exist_ok=True)
    for case_id, description, code, pointer, make in cases:
        folder = out / case_id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        write_directory(folder / "bundle", make().members())
        spec = {"id": case_id, "description": description, "expect": {"code": code, "pointer": pointer}}
        (folder / "case.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return [c[0] for c in cases]


def generate(out: Path = DEFAULT_OUT) -> list[str]:
    """Write this module's cases under ``out`` (replacing only folders of the same ids); return the case ids."""
    return write_cases(CASES, out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {len(generate(target))} cases to {target}")
