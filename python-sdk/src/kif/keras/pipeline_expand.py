"""Keras 3 ``layers.Pipeline`` → its layers, flattened into the node list in order (spec: none; it is no KIF type).

``Pipeline.call`` feeds each layer the previous one's output and passes ``training`` on; inside a model at
inference that is ``training=False``, so every inner layer computes what it computes alone, and each becomes the
node it would be on its own. Weights follow the nesting: ``layers/<pipeline>/layers/<inner>/vars`` in saving_lib
files, the outermost owner's group (``<inner>/<weight>``) in legacy ``.h5`` files, as for nested models.
"""

from __future__ import annotations

from typing import Any

from kif.keras.errors import ConversionError

PIPELINE = "Pipeline"
MAX_DEPTH = 8  # Pipelines inside Pipelines; config_check refuses deeper nesting before the topology is built


def _fail(message: str, layer: str) -> ConversionError:
    return ConversionError(f"Layer {layer!r} (Pipeline): {message}", code="convert-unsupported", pointer=layer)


def expand_pipeline(
    layer: dict[str, Any],
    scope: tuple[str, ...],
    node_index: int,
    args: list[str],
    kw_inputs: dict[str, list[str]],
    nodes: list[Any],
    path: tuple[str, ...],
    owners: tuple[str, ...],
    depth: int = 1,
) -> list[str]:
    """Append the nodes of one Pipeline call on ``args``; return its output tensor (the last layer's)."""
    from kif.keras.topology import MODEL_CLASSES, _node, _tensor_name, save_keys

    name = layer["config"]["name"]
    if depth > MAX_DEPTH:
        raise _fail(f"Pipelines nested more than {MAX_DEPTH} deep", name)
    if len(args) != 1 or kw_inputs:
        raise _fail("expected one input tensor and no mask tensor; KIF flattens single-input Pipelines only", name)
    entries = layer["config"]["layers"]
    if not entries:
        raise _fail("the Pipeline has no layers", name)
    sub_scope = (*scope, name + (f"_call{node_index}" if node_index else ""))
    keys = save_keys(entries)
    current = args[0]
    for entry in entries:
        inner = entry["config"]["name"]
        inner_path, inner_owners = (*path, keys[inner]), (*owners, name)
        if entry["class_name"] == PIPELINE:
            current = expand_pipeline(entry, sub_scope, 0, [current], {}, nodes, inner_path, inner_owners, depth + 1)[0]
            continue
        if entry["class_name"] in MODEL_CLASSES:
            raise _fail(f"inner layer {inner!r} is a {entry['class_name']} model, which KIF does not flatten out of a Pipeline", name)
        out = _tensor_name(sub_scope, inner, 0, 0)
        nodes.append(_node(entry, sub_scope, 0, [current], {}, {}, [out], inner_path, inner_owners))
        current = out
    return [current]
