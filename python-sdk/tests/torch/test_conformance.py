"""The conformance suite (conformance/cases) through the torch backend: ``kif.torch.conformance_backend``.

Run by hand with ``python conformance/runner/kif_conformance.py --backend kif.torch:conformance_backend``.
"""

from __future__ import annotations

import pytest

import kif.torch
from kif.conformance import runner, suite_dir


@pytest.mark.parametrize("level", ["core", "extended"])
def test_torch_backend_passes_the_conformance_cases(level: str) -> None:
    module = runner()
    cases = module.discover(suite_dir(), level)
    if level == "extended":  # "extended" selects every case; keep the ones beyond core
        cases = [c for c in cases if c.level == "extended"]
    assert cases or level == "extended", "no core conformance cases found"
    results = module.run_cases(kif.torch.conformance_backend, cases)
    failures = [f"{r.case.id}: {r.status} {r.detail}" for r in results if r.status != "pass"]
    assert not failures, failures
