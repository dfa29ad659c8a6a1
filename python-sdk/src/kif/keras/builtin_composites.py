"""Composites for well-known third-party Keras classes found in real files, used when no ``--custom`` entry names them.

Each is the class's inference-time math written with catalog layers and ops (the formulas cited per entry):

- tensorflow_addons ``InstanceNormalization`` / ``GroupNormalization``: tfa normalises each group of channels over
  its channels and every non-batch axis, ``(x - mean) / sqrt(var + epsilon) * gamma + beta``
  (``tf.nn.batch_normalization``); an instance normalisation is one group per channel, and tfa records the built
  group count in the config, so both are KIF's GroupNormalization with the config's ``groups``. keras-contrib's
  InstanceNormalization (epsilon added to the standard deviation, no ``groups`` key) is refused, lacking ``groups``.
- ``LayerScale`` (Keras and tf.keras ConvNeXt): ``x * gamma``, gamma a per-channel weight.
- ``StochasticDepth`` (Keras ConvNeXt): the identity at inference; tfa's ``Addons>StochasticDepth`` takes
  ``[shortcut, residual]`` and returns ``shortcut + survival_probability * residual`` at inference.
"""

from __future__ import annotations

from typing import Any

from kif.keras.custom_defs import CustomEntry

_GN_PARAMS = {
    "groups": {"type": "integer", "description": "Channel groups as tfa records them after build (-1: one per channel)."},
    "axis": {"type": "integer", "default": -1},
    "epsilon": {"type": "number", "default": 0.001},
}


def _group_norm(namespace_type: str) -> list[CustomEntry]:
    """The four weight variants of a tfa group/instance normalisation (center and scale each on or off)."""
    entries = []
    for center in (True, False):
        for scale in (True, False):
            roles = [r for r, on in (("gamma", scale), ("beta", center)) if on]
            suffix = {(True, True): "", (True, False): "_beta_only", (False, True): "_gamma_only", (False, False): "_no_affine"}
            inner: dict[str, Any] = {"name": "norm", "type": "GroupNormalization", "inputs": ["x"], "outputs": ["y"],
                                     "attributes": {"groups": {"$param": "groups"}, "axis": {"$param": "axis"},
                                                    "epsilon": {"$param": "epsilon"}, "center": center, "scale": scale},
                                     "weights": {r: r for r in roles}}  # fmt: skip
            definition = {
                "description": "tensorflow_addons group normalisation: (x - mean) / sqrt(var + epsilon) * gamma + beta",
                "parameters": _GN_PARAMS,
                "inputs": ["x"],
                "outputs": ["y"],
                "weights": roles,
                "layers": [inner],
            }
            when = {"center": center, "scale": scale}
            entries.append(CustomEntry(namespace_type + suffix[(center, scale)], definition, when, {}, frozenset({"center", "scale"})))
    return entries


_LAYER_SCALE = CustomEntry(
    "keras.applications:LayerScale",
    {
        "description": "ConvNeXt LayerScale: x * gamma, gamma broadcast along the last axis",
        "inputs": ["x"],
        "outputs": ["y"],
        "weights": ["gamma"],
        "layers": [
            {
                "name": "gamma",
                "type": "op.constant",
                "attributes": {"dtype": "float32"},
                "inputs": [],
                "outputs": ["g"],
                "weights": {"value": "gamma"},
            },
            {"name": "scale", "type": "op.multiply", "attributes": {}, "inputs": ["x", "g"], "outputs": ["y"], "weights": {}},
        ],
    },
    ignore=frozenset({"init_values", "projection_dim"}),
)
_STOCHASTIC_DEPTH = CustomEntry(
    "keras.applications:StochasticDepth",
    {
        "description": "ConvNeXt StochasticDepth: drops residual paths in training, the identity at inference",
        "inputs": ["x"],
        "outputs": ["y"],
        "layers": [{"name": "identity", "type": "Identity", "attributes": {}, "inputs": ["x"], "outputs": ["y"], "weights": {}}],
    },
    ignore=frozenset({"drop_path_rate"}),
)
_TFA_STOCHASTIC_DEPTH = CustomEntry(
    "tfa.layers:StochasticDepth",
    {
        "description": "tensorflow_addons StochasticDepth at inference: shortcut + survival_probability * residual",
        "parameters": {"survival_probability": {"type": "number", "default": 0.5}},
        "inputs": ["shortcut", "residual"],
        "outputs": ["y"],
        "layers": [
            {
                "name": "scale",
                "type": "Rescaling",
                "attributes": {"scale": {"$param": "survival_probability"}, "offset": 0.0},
                "inputs": ["residual"],
                "outputs": ["scaled"],
                "weights": {},
            },
            {"name": "add", "type": "Add", "attributes": {}, "inputs": ["shortcut", "scaled"], "outputs": ["y"], "weights": {}},
        ],
    },
)

LIBRARY: dict[str, list[CustomEntry]] = {
    "InstanceNormalization": _group_norm("tfa.layers:InstanceNormalization"),
    "Addons>InstanceNormalization": _group_norm("tfa.layers:InstanceNormalization"),
    "Addons>GroupNormalization": _group_norm("tfa.layers:GroupNormalization"),
    "LayerScale": [_LAYER_SCALE],
    "StochasticDepth": [_STOCHASTIC_DEPTH],
    "Addons>StochasticDepth": [_TFA_STOCHASTIC_DEPTH],
}
HELPERS: dict[str, dict[str, Any]] = {}  # composites the library's bodies call (none yet)

__all__ = ["HELPERS", "LIBRARY"]
