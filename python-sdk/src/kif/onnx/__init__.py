"""Export KIF bundles to ONNX (the ``kif-format[onnx]`` extra): ``kif.onnx.export(bundle_or_model, "model.onnx")``.

The graph uses the default ONNX domain at **opset 21** (``OPSET``): Gelu needs 20, and 21 is the
first opset whose GroupNormalization takes per-channel scale and bias; nothing needs 22+ (RMS
normalization is written out with ReduceMean/Sqrt rather than opset 23's RMSNormalization, so
ONNX Runtime releases from 1.18 on can run the files). Data stays in the layout the KIF graph declares:
channels_last convolutions and poolings are wrapped in Transposes. Models whose initializers exceed
2 GB are written with ONNX external data (``<name>.data`` beside the model).

``SUPPORTED`` lists the exported layer types (today every catalog type); ``UNSUPPORTED`` maps any
other catalog type to the reason (custom namespaced types are always refused), and ``LIMITATIONS``
names the variants refused per type (mostly: sizes that must be static in the graph). A refused
model fails with ``UnsupportedLayerError`` naming the layer and type before anything is written.
``onnx`` is imported only inside this package.
"""

from __future__ import annotations

from kif._optional import require

require("onnx", "kif.onnx (ONNX export)")  # one line with the install command instead of a traceback

from kif.onnx.conformance import OnnxRuntimeBackend  # noqa: E402
from kif.onnx.export import EXTERNAL_DATA_THRESHOLD, OPSET, build, export  # noqa: E402
from kif.onnx.support import LIMITATIONS, supported, unsupported  # noqa: E402

SUPPORTED: frozenset[str] = supported()
UNSUPPORTED: dict[str, str] = unsupported()
conformance_backend = OnnxRuntimeBackend()  # the conformance runner's backend contract


__all__ = [
    "EXTERNAL_DATA_THRESHOLD",
    "LIMITATIONS",
    "OPSET",
    "SUPPORTED",
    "UNSUPPORTED",
    "OnnxRuntimeBackend",
    "build",
    "conformance_backend",
    "export",
]
