"""Stage 5 (level numeric): run the embedded golden sample with the reference runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kif.bundle.container import DOCUMENT
from kif.errors import KifError, UnsupportedLayerError
from kif.validate.pointer import pointer
from kif.validate.report import Report

if TYPE_CHECKING:
    from kif.validate.pipeline import Parsed


def check_self_test(parsed: Parsed, report: Report) -> None:
    from kif.bundle.reader import LazyWeights, _self_test
    from kif.graph import Model
    from kif.runtime import run

    doc = parsed.document
    file = parsed.container.member_label(DOCUMENT)
    if "self_test" not in doc:
        return
    model = Model.from_document(doc, LazyWeights(parsed.container, doc["weights"]["tensors"], parsed.headers))
    sample = _self_test(parsed.container, doc)
    try:
        outputs = run(model, sample.inputs)
    except UnsupportedLayerError as exc:
        report.add("self-test-skipped", f"Self-test not run: {exc.message}", file, "/self_test")
        return
    except KifError as exc:
        if exc.code == "limit-exceeded":  # the golden sample asks for more than the limits allow
            report.add("limit-exceeded", f"Self-test not run: {exc.message}", file, "/self_test")
            return
        report.add("self-test-mismatch", f"Self-test failed to run: {exc.message}", file, "/self_test")
        return
    for name, expected in sample.outputs.items():
        if name not in outputs:
            continue  # a golden for no graph output compares nothing (and must not crash the validator)
        got = outputs[name].astype(np.float64)
        want = np.asarray(expected, dtype=np.float64)
        if got.shape != want.shape or not np.allclose(got, want, rtol=sample.rtol, atol=sample.atol):
            worst = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
            # Located at the golden tensor: a JSON pointer into the self-test file's header.
            report.add(
                "self-test-mismatch",
                f"Output {name!r} differs from the self-test (max abs error {worst:.3g}, rtol={sample.rtol}, atol={sample.atol})",
                parsed.container.member_label(doc["self_test"]["file"]),
                pointer(f"outputs/{name}"),
            )
