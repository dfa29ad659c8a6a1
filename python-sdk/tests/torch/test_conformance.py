"""The conformance suite (conformance/cases) through the torch backend: ``kif.torch.conformance_backend``.

Run by hand with ``python conformance/runner/kif_conformance.py --backend kif.torch:conformance_backend``.
"""

from __future__ import annotations

import pytest

import kif.torch
from kif.conformance import runner, suite_dir

STRING_TYPES = {"Hashing", "HashedCrossing", "StringLookup", "TextVectorization"}


@pytest.mark.parametrize("level", ["core", "extended"])
def test_torch_backend_passes_the_conformance_cases(level: str) -> None:
    module = runner()
    cases = module.discover(suite_dir(), level)
    if level == "extended":  # "extended" selects every case; keep the ones beyond core
        cases = [c for c in cases if c.level == "extended"]
    assert cases or level == "extended", "no core conformance cases found"
    results = module.run_cases(kif.torch.conformance_backend, cases)
    # torch has no string tensors (nor TF's string hashes): cases holding these types are refused, never mis-computed
    stringy = {c.id for c in cases if set(c.layer_types) & STRING_TYPES}
    assert {r.case.id for r in results if r.status == "not-supported"} == stringy
    failures = [f"{r.case.id}: {r.status} {r.detail}" for r in results if r.status != "pass" and r.case.id not in stringy]
    assert not failures, failures
