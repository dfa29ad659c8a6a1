"""to_keras: KIF weights (canonical roles) → a built Keras layer's variables, in ``layer.weights`` order."""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.errors import KifError

_MHA_PARTS = {"query": "query", "key": "key", "value": "value", "attention_output": "output", "gate": "gate"}


def _relative(layer: Any, variable: Any) -> list[str]:
    path = str(variable.path)
    prefix = f"{layer.path}/"
    return (path[len(prefix) :] if path.startswith(prefix) else path).split("/")


def _role(kif_type: str, parts: list[str]) -> str:
    """The KIF role of a Keras variable, from its path relative to its layer."""
    if kif_type in ("MultiHeadAttention", "GroupQueryAttention") and parts[0] in _MHA_PARTS:
        return f"{_MHA_PARTS[parts[0]]}_{parts[-1]}"
    if kif_type in ("DepthwiseConv1D", "DepthwiseConv2D") and parts[-1] == "kernel":
        return "depthwise_kernel"  # Keras 3.12+ names it kernel; KIF keeps the older role name
    return parts[-1]


def _weights_for(layer: Any, kif_type: str, attrs: dict[str, Any], values: dict[str, np.ndarray], where: str) -> list[np.ndarray]:
    """``values`` (KIF roles) → the list ``layer.set_weights`` expects, in ``layer.weights`` order."""
    out: list[np.ndarray] = []
    used: set[str] = set()
    for variable in layer.weights:
        role = _role(kif_type, _relative(layer, variable))
        shape = tuple(variable.shape)
        if kif_type == "GRU" and role == "bias" and attrs["reset_after"]:  # Keras stacks the two biases: [2, 3 * units]
            array = np.stack([values["bias"], values["recurrent_bias"]])
            used |= {"bias", "recurrent_bias"}
        elif role in values:
            array = np.asarray(values[role])
            used.add(role)
            if kif_type == "Normalization":
                array = array.reshape(shape)  # KIF flattens the kept axes' statistics
        elif kif_type == "Normalization" and role == "count":
            array = np.zeros(shape, np.dtype(str(variable.dtype)))  # adapt() bookkeeping, unused at inference
        elif kif_type == "LayerNormalization" and role == "gamma":
            array = np.ones(shape, np.float32)  # Keras makes gamma under rms_scaling even without scale
        else:
            raise KifError(f"{where}: Keras layer variable {variable.path!r} has no KIF weight {role!r}", code="layer-unsupported")
        if tuple(array.shape) != shape:
            raise KifError(
                f"{where}: expected weight {role!r} of shape {list(shape)} for Keras. Received: {list(array.shape)}",
                code="layer-unsupported",
            )
        out.append(array)
    unused = sorted(set(values) - used - ({"beta"} if kif_type == "LayerNormalization" and attrs.get("rms_scaling") else set()))
    if unused:
        raise KifError(f"{where}: KIF weights {unused} have no place in the Keras layer", code="layer-unsupported")
    return out


def set_layer_weights(layer: Any, kif_type: str, attrs: dict[str, Any], values: dict[str, np.ndarray], where: str) -> None:
    if kif_type == "Bidirectional":
        for side, sub in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
            nested = attrs[side]
            own = {role[len(side) + 1 :]: v for role, v in values.items() if role.startswith(side + "_")}
            set_layer_weights(sub, nested["type"], nested["attributes"], own, where)
        return
    if kif_type == "TimeDistributed":
        set_layer_weights(layer.layer, attrs["layer"]["type"], attrs["layer"]["attributes"], values, where)
        return
    if kif_type == "TextVectorization":
        from kif.keras.text_rebuild import set_idf

        set_idf(layer, values)
        return
    if layer.weights or values:
        layer.set_weights(_weights_for(layer, kif_type, attrs, values, where))
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()  # Normalization recomputes its broadcast statistics from the variables
