"""The closed list of finding codes (mirrored, and tested against, spec/errors.md).

Codes are stable: tools and the conformance suite match on them, never on message
text. A code is never reused for a different rule.
"""

from __future__ import annotations

ERROR = "error"
WARNING = "warning"
INFO = "info"

# code: (severity, what the rule is)
CODES: dict[str, tuple[str, str]] = {
    # container
    "bundle-not-found": (ERROR, "The path does not exist."),
    "bundle-unreadable": (ERROR, "The path is neither a bundle directory nor a ZIP archive."),
    "bundle-missing-member": (ERROR, "A member the document names (or model.json) is absent."),
    "bundle-unlisted-member": (ERROR, "An archive member is neither model.json nor a file the document lists."),
    "bundle-unlisted-file": (WARNING, "A file in a bundle directory is not part of the bundle."),
    "bundle-symlink": (ERROR, "A member is a symbolic link."),
    "archive-corrupt": (ERROR, "The ZIP structure is damaged or inconsistent."),
    "archive-unsafe-path": (ERROR, "A member name is absolute, contains '..', a backslash or a directory."),
    "archive-duplicate-member": (ERROR, "Two members have the same name."),
    "archive-compressed-member": (ERROR, "A member is not STORED."),
    "archive-encrypted-member": (ERROR, "A member is encrypted."),
    "archive-bomb": (ERROR, "Declared sizes exceed the archive or a limit, or members overlap."),
    "archive-too-many-members": (ERROR, "The archive has more members than the reader accepts."),
    # graph document
    "document-too-large": (ERROR, "model.json is larger than the reader accepts."),
    "document-invalid-json": (ERROR, "model.json is not UTF-8 JSON, repeats an object key, or holds a number beyond the binary64 range."),
    "schema-violation": (ERROR, "The document breaks the graph schema."),
    "version-unsupported-major": (ERROR, "kif_version has a major version this reader does not read."),
    "version-newer-minor": (WARNING, "kif_version is a newer minor version; unknown optional fields are ignored."),
    "layer-type-unknown": (ERROR, "A layer type is neither in the catalog nor namespaced."),
    "layer-type-too-new": (ERROR, "A layer type or enumerated value (activation name) is from a later spec version than the document's."),
    "layer-custom": (INFO, "A layer has a namespaced custom type."),
    "layer-attribute-invalid": (ERROR, "An attribute breaks the layer type's schema."),
    "layer-attribute-missing": (ERROR, "An attribute is absent (writers emit every attribute)."),
    "layer-attribute-unknown": (ERROR, "An attribute is not defined for the layer type."),
    "layer-arity": (ERROR, "A layer has the wrong number of inputs or outputs."),
    "layer-input-missing": (ERROR, "A required input is null, or an input its page requires together with others is given without them."),
    "layer-weight-missing": (ERROR, "A layer lacks a weight its type and attributes require."),
    "layer-weight-unknown": (ERROR, "A layer names a weight role its type does not define."),
    "layer-weight-rank": (ERROR, "A weight has the wrong rank for its role."),
    "graph-duplicate-name": (ERROR, "Two layers, or two graph inputs/outputs, have the same name."),
    "graph-duplicate-tensor": (ERROR, "A tensor name is produced more than once."),
    "graph-dangling-reference": (ERROR, "A layer reads a tensor that nothing produces."),
    "composite-recursive": (ERROR, "A composite type's body uses that type again, directly or through others."),
    "graph-cycle": (ERROR, "Layers depend on each other in a cycle."),
    "graph-not-topological": (ERROR, "A layer reads a tensor produced by a later layer."),
    "graph-output-unproduced": (ERROR, "A graph output names a tensor that nothing produces."),
    "graph-unused-layer": (WARNING, "A layer's outputs reach no graph output."),
    "shape-mismatch": (ERROR, "Shape inference finds a shape a layer cannot accept."),
    "limit-exceeded": (ERROR, "A shape, size, count or depth exceeds a limit of spec/limits.md."),
    # weights
    "weights-reference-unknown": (ERROR, "A layer references a tensor missing from the weights index."),
    "weights-file-unknown": (ERROR, "The weights index names a file that weights.files lacks."),
    "weights-file-duplicate": (ERROR, "weights.files lists the same path twice."),
    "weights-header-too-large": (ERROR, "A safetensors header is larger than the reader accepts."),
    "weights-header-invalid": (ERROR, "A safetensors header is malformed or its length lies."),
    "weights-offsets-invalid": (ERROR, "Tensor data offsets overlap, leave gaps or disagree with shapes."),
    "weights-truncated": (ERROR, "A safetensors file ends before its data does."),
    "weights-size-mismatch": (ERROR, "A weight file's size differs from weights.files."),
    "weights-tensor-missing": (ERROR, "A tensor of the index is absent from its file."),
    "weights-tensor-extra": (ERROR, "A weight file holds a tensor the index does not list."),
    "weights-dtype-mismatch": (ERROR, "A tensor's dtype differs between the index and the file header."),
    "weights-shape-mismatch": (ERROR, "A tensor's shape differs between the index and the file header."),
    "weights-bool-invalid": (ERROR, "A bool tensor of a weight or self-test file holds a byte other than 0 or 1."),
    "weights-checksum-mismatch": (ERROR, "A file's SHA-256 differs from the document."),
    "weights-unreferenced": (WARNING, "A tensor of the index is used by no layer."),
    # self-test
    "self-test-invalid": (ERROR, "The self-test file lacks a tensor for a graph input or output, or its dtype or shape differs."),
    "self-test-mismatch": (ERROR, "The runtime's outputs differ from the self-test beyond its tolerance."),
    "self-test-skipped": (INFO, "The self-test was not run (runtime lacks a layer type)."),
}


def severity(code: str) -> str:
    return CODES[code][0]
