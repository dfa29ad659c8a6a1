"""Generate the conformance/invalid/ cases the runner completes at run time (spec/conformance.md, "Negative
cases"): a bundle that is absent, a model.json padded past 64 MiB (too big to commit), and a self-test that only
running the bundle (validation level ``numeric``) shows to be wrong.

Every byte comes from first principles (JSON, struct, hashlib), independent of the KIF SDK. Only this module's
case folders are replaced: ``python conformance/generators/invalid_prepared.py [OUT]``.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from invalid_bundles import DEFAULT_OUT, base_bundle, write_directory
from invalid_contract import _document, bundle_of, raw_safetensors, with_self_test

MAX_DOCUMENT_BYTES = 64 * 2**20  # spec/bundle.md, "Limits"


def _softmax_with_wrong_self_test() -> dict[str, bytes]:
    """Softmax of four zeros is exactly 0.25 each (hand-derived); the self-test claims [0.5, 0, 0, 0.5]."""
    doc = _document(
        [{"name": "x", "dtype": "float32", "shape": [None, 4]}],
        [{"name": "softmax", "dtype": "float32", "shape": [None, 4]}],
        [{"name": "softmax", "type": "Softmax", "attributes": {"axis": -1}, "inputs": ["x"], "outputs": ["softmax"], "weights": {}}],
    )
    sample = raw_safetensors(
        [
            ("inputs/x", "float32", [1, 4], struct.pack("<4f", 0.0, 0.0, 0.0, 0.0)),
            ("outputs/softmax", "float32", [1, 4], struct.pack("<4f", 0.5, 0.0, 0.0, 0.5)),
        ]
    )
    return with_self_test(bundle_of(doc, []), sample).members()


# id, description, expect, extra case.json fields, members of bundle/ (None: no bundle at all)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, bytes] | None]] = [
    (
        "bundle-absent",
        "The path given to the validator does not exist",
        {"code": "bundle-not-found", "pointer": None},
        {"bundle_absent": True},
        None,
    ),
    (
        "document-over-64-mib",
        "model.json padded with spaces to 64 MiB + 1 byte",
        {"code": "document-too-large", "pointer": None},
        {"pad_document_to": MAX_DOCUMENT_BYTES + 1},
        base_bundle().members(),
    ),
    (
        "self-test-mismatch",
        "Self-test expects [0.5, 0, 0, 0.5] where Softmax gives 0.25 each",
        {"code": "self-test-mismatch", "pointer": "/outputs~1softmax"},
        {"validation_level": "numeric"},
        _softmax_with_wrong_self_test(),
    ),
]


def generate(out: Path = DEFAULT_OUT) -> list[str]:
    """Write this module's cases under ``out`` (replacing only folders of the same ids); return the case ids."""
    out.mkdir(parents=True, exist_ok=True)
    for case_id, description, expect, extra, members in CASES:
        folder = out / case_id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        if members is not None:
            write_directory(folder / "bundle", members)
        spec = {"id": case_id, "description": description, **extra, "expect": expect}
        (folder / "case.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return [c[0] for c in CASES]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {len(generate(target))} cases to {target}")
