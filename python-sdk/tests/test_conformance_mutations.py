"""The mutation check (benchmarks/mutations.py): each documented reading of a layer, flipped one at a time in the
reference runtime, makes at least two conformance cases fail; the committed report is the current one; and every
monkeypatch is undone afterwards."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kif.conformance import ReferenceBackend, runner, suite_dir
from kif.layers import activations, normalization, pooling, recurrent

ROOT = Path(__file__).resolve().parents[2]


def _mutations() -> ModuleType:
    if "kif_mutations" not in sys.modules:
        spec = importlib.util.spec_from_file_location("kif_mutations", ROOT / "benchmarks" / "mutations.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["kif_mutations"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["kif_mutations"]


@pytest.fixture(scope="module")
def outcomes() -> list:
    return _mutations().run_mutations()


def test_every_flipped_reading_is_caught_by_two_cases(outcomes: list) -> None:
    assert len(outcomes) >= 20
    weak = {o.mutation.id: o.caught for o in outcomes if len(o.caught) < 2}
    assert not weak, f"readings caught by fewer than 2 cases: {weak}"
    assert len({o.mutation.id for o in outcomes}) == len(outcomes)


def test_committed_report_is_current(outcomes: list) -> None:
    committed = (ROOT / "benchmarks" / "results" / "mutations.md").read_text(encoding="utf-8")
    assert _mutations().table(outcomes) in committed, "regenerate: python benchmarks/mutations.py --write benchmarks/results/mutations.md"


def test_patches_are_undone() -> None:
    watched = [
        (activations.ACTIVATIONS, "hard_sigmoid"), (recurrent._STEPS, "GRU"), (pooling, "pool"),
        (normalization.BatchNormalization, "run"),
    ]  # fmt: skip
    before = [owner[name] if isinstance(owner, dict) else getattr(owner, name) for owner, name in watched]
    for mutation in _mutations().MUTATIONS:
        with mutation.patch():
            pass
    after = [owner[name] if isinstance(owner, dict) else getattr(owner, name) for owner, name in watched]
    assert after == before
    module = runner()
    cases = [c for c in module.discover(suite_dir(), pattern="relu-at-threshold*") if c.kind == "model"]
    assert cases and all(r.status == "pass" for r in module.run_cases(ReferenceBackend(), cases))


def test_a_mutant_fails_the_threshold_cases() -> None:
    """The ReLU mutant alone: x == threshold kept as x fails exactly the cases with inputs at the threshold."""
    mutation = next(m for m in _mutations().MUTATIONS if m.id == "relu-threshold-inclusive")
    module = runner()
    cases = [c for c in module.discover(suite_dir(), pattern="ReLU") if c.kind == "model"]
    with mutation.patch():
        failed = {r.case.id for r in module.run_cases(ReferenceBackend(), cases) if r.status != "pass"}
    assert failed and all(case_id.startswith("relu-at-threshold") for case_id in failed)
