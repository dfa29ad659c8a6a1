"""Every layer test of tests/layers, re-run with the layer executed by kif.torch instead of the NumPy runtime.

The layer tests compare ``run_layer``'s output with Keras 3 (torch backend) or with hand-derived
values; here ``run_layer`` is swapped for ``run_torch`` (same bundle, built, saved and validated
the same way, then loaded with kif.torch.load), so each assertion checks the torch module
against the same independent oracle with the type's declared tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.layers import (
    test_activation_layers,
    test_activations,
    test_activations_extra,
    test_adaptive_pooling,
    test_attention,
    test_conv,
    test_dense,
    test_einsum_dense,
    test_embedding,
    test_locally_connected,
    test_masking,
    test_merge,
    test_merge_more,
    test_noop,
    test_normalization,
    test_pooling,
    test_preprocessing,
    test_recurrent,
    test_reshaping,
    test_shape_ops,
    test_upsampling_tf,
    test_wrappers,
)
from tests.torch.harness import run_torch

SUITES = [
    test_activation_layers, test_activations, test_activations_extra, test_adaptive_pooling, test_attention, test_conv,
    test_dense, test_einsum_dense, test_embedding, test_locally_connected, test_masking, test_merge, test_merge_more, test_noop,
    test_normalization, test_pooling, test_preprocessing, test_recurrent, test_reshaping, test_shape_ops, test_upsampling_tf,
    test_wrappers,
]  # fmt: skip

# Tests of the reference runtime's own error text (torch reports a bad id as its IndexError): covered by test_models.py.
MESSAGE_TESTS = {"test_embedding_rejects_out_of_range_ids_naming_the_layer"}


@pytest.fixture(autouse=True)
def _torch_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for suite in SUITES:
        if hasattr(suite, "run_layer"):
            monkeypatch.setattr(suite, "run_layer", run_torch)
    yield


# Collected again here (pytest collects imported test functions), now running through kif.torch.
for _suite in SUITES:
    for _name in dir(_suite):
        if _name.startswith("test_") and callable(getattr(_suite, _name)) and _name not in MESSAGE_TESTS:
            globals()[f"{_name}__{_suite.__name__.rsplit('.', 1)[-1]}"] = getattr(_suite, _name)
