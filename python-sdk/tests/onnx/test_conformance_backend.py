"""The ONNX Runtime backend (kif.onnx.conformance_backend) through the conformance runner: every case passes."""

from __future__ import annotations

import kif.onnx
from kif.conformance import runner, suite_dir

STRING_TYPES = {"Hashing", "HashedCrossing", "StringLookup", "TextVectorization"}
# refused with a reason in the support list (no implementation yet), never mis-computed
NOT_IMPLEMENTED_TYPES = {"ContrastLimitedAdaptiveHistogramEqualization"}


def test_onnx_backend_passes_every_conformance_case() -> None:
    module = runner()
    cases = module.discover(suite_dir(), level="extended")
    core = [c for c in cases if c.kind == "model" and c.level == "core"]
    assert len(core) >= 300, "the suite's core cases are present"
    results = module.run_cases(kif.onnx.conformance_backend, cases)
    assert {r.case.kind for r in results} == {"model"}, "the backend has no validate(): only model cases run"
    # ONNX Runtime's CPU provider has no bfloat16 kernels: the backend refuses those (extended) cases in one line
    refused = {r.case.id for r in results if r.status in ("error", "not-supported") and "cannot run bfloat16 tensors" in r.detail}
    assert refused == {c.id for c in cases if c.kind == "model" and c.spec["tolerance"]["dtype"] == "bfloat16"}
    assert not {c.id for c in core} & refused
    # ONNX has no string hashing (and kif.onnx no string lookup yet): those cases are refused, never mis-computed
    stringy = {c.id for c in cases if c.kind == "model" and set(c.layer_types) & (STRING_TYPES | NOT_IMPLEMENTED_TYPES)}
    stringy |= {c.id for c in cases if c.kind == "model" and "IntegerLookup" in c.layer_types and "farmhash" in c.id}  # hashes
    assert {r.case.id for r in results if r.status == "not-supported"} == refused | stringy
    refused |= stringy
    failures = [f"{r.case.id}: {r.status} {r.detail}" for r in results if r.status != "pass" and r.case.id not in refused]
    assert not failures, failures
    assert {r.case.id for r in results} >= {c.id for c in core}
