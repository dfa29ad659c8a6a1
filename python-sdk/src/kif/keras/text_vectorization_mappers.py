"""TextVectorization: Keras config + vocabulary + idf weights -> KIF (spec/layers/TextVectorization.md).

Where the vocabulary is: in the config when it was passed to the constructor (every file kind); after ``adapt()``
only in a .keras archive's ``assets/<layer path>/vocabulary.txt`` (written by Keras 3 and tf_keras), or in a tf_keras
SavedModel's lookup table (savedmodel/lookup_tables.py; its config holds none, even when given). A legacy .h5 or an
architecture JSON of an adapted layer does not hold it, and the conversion is refused. The idf weights of
tf_idf mode are stored as the layer's ``idf_weights`` variable (.keras), its one weight (tf_keras .h5), or only
the config's ``idf_weights`` (Keras 3 .h5), which Keras pads with their mean for the OOV index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.keras.mapping import IGNORED, Context, MappedLayer, mapper

_MODES = {"int": "int", "multi_hot": "multi_hot", "binary": "multi_hot", "count": "count", "tf_idf": "tf_idf", "tf-idf": "tf_idf"}
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_SPLIT = ("whitespace", "character", None)
_OOV, _MASK = "[UNK]", ""


def _choice(ctx: Context, key: str, allowed: tuple[Any, ...], default: Any) -> Any:
    value = ctx.config.get(key, default)
    if value not in allowed:
        raise ctx.fail(f"option {key}={value!r} cannot be represented in KIF TextVectorization (a Python callable is not stored)")
    return value


def _positive(ctx: Context, key: str) -> int | None:
    value = ctx.config.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ctx.fail(f"expected {key} to be a positive integer or None. Received: {value!r}")
    return value


def _ngrams(ctx: Context) -> list[int] | None:
    value = ctx.config.get("ngrams")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64:
        return list(range(1, value + 1))  # Keras: an integer n means every width up to n
    if isinstance(value, list) and 1 <= len(value) <= 64 and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in value):
        return list(value)
    raise ctx.fail(f"expected ngrams to be None, an integer 1..64 or a list of positive widths. Received: {value!r}")


def _strip_reserved(tokens: list[str], mode: str) -> list[str]:
    """Keras's get_vocabulary() starts with the reserved tokens; KIF's vocabulary attribute holds the rest."""
    reserved = [_MASK, _OOV] if mode == "int" else [_OOV]
    return tokens[len(reserved) :] if tokens[: len(reserved)] == reserved else tokens


def _vocabulary(ctx: Context, mode: str) -> list[str]:
    given = ctx.config.get("vocabulary")
    held = ctx.table(2 if mode == "int" else 1, False, False) if given is None or isinstance(given, str) else None
    if held is not None:
        return list(held)  # a tf_keras SavedModel: the layer's lookup table (or its vocabulary asset)
    if isinstance(given, str):
        raise ctx.fail(f"vocabulary is the path {given!r} of a file on the writer's machine, which the model file does not hold")
    if isinstance(given, list):
        if not all(isinstance(t, str) for t in given):
            raise ctx.fail("expected the vocabulary to be a list of strings")
        return _strip_reserved(list(given), mode)
    if given is not None:
        raise ctx.fail(f"expected the vocabulary to be a list of strings. Received: {type(given).__name__}")
    if ctx.config.get("has_input_vocabulary"):
        raise ctx.fail(
            "this file records that a vocabulary was given to the constructor but does not hold it: save the model as .keras"
        )
    return _strip_reserved(asset_vocabulary(ctx), mode)


def asset_vocabulary(ctx: Context) -> list[str]:
    """An adapted lookup layer's get_vocabulary(), reserved tokens first, from a .keras archive's
    ``assets/layers/<save path>/vocabulary.txt`` (Keras's save_assets); one error when the file does not hold it."""
    path = ctx.node.save_fallback or ctx.node.save_path
    data = ctx.asset("/".join(f"layers/{key}" for key in path) + "/vocabulary.txt") if path else None
    if data is None:
        raise ctx.fail(
            "the vocabulary was learned by adapt() and this file does not hold it (Keras writes it only into a .keras "
            "archive's assets/ or a SavedModel's lookup table; a legacy .h5 or an architecture JSON loses it): save the model as .keras"
        )
    try:
        lines = data.decode("utf-8").splitlines()  # as Keras's load_assets reads it
    except UnicodeDecodeError:
        raise ctx.fail("expected the vocabulary asset to be UTF-8 text") from None
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def _idf(ctx: Context, attrs: dict[str, Any]) -> Any:
    from kif.layers.text_vectorization import width

    stored = ctx.load_weights().items
    own = [ds for key, ds in stored if key in ("vars/idf_weights", "Variable:0") or key.endswith(("/Variable:0", "/idf_weights"))]
    if own:
        return own[0]
    given = ctx.config.get("idf_weights")
    if not isinstance(given, list) or len(given) != len(attrs["vocabulary"]) or not all(isinstance(v, (int, float)) for v in given):
        raise ctx.fail("output_mode tf_idf needs idf weights, one per vocabulary token; the file holds none")
    idf = np.asarray(given, np.float32)
    mean = np.float32(np.average(idf)) if idf.size else np.float32(0)
    full = np.concatenate([np.full(1, mean, np.float32), idf])  # the OOV index gets the mean, as Keras's set_vocabulary
    return np.pad(full, (0, max(width(attrs) - full.size, 0)))


_KNOWN = {
    "max_tokens", "standardize", "split", "ngrams", "output_mode", "output_sequence_length", "pad_to_max_tokens",
    "sparse", "ragged", "vocabulary", "idf_weights", "encoding", "vocabulary_size", "has_input_vocabulary",
}  # fmt: skip


@mapper("TextVectorization")
def _text_vectorization(ctx: Context) -> list[MappedLayer]:
    config = ctx.config
    unknown = sorted(set(config) - _KNOWN - IGNORED)
    if unknown:
        raise ctx.fail(f"option {unknown[0]}={config[unknown[0]]!r} cannot be represented in KIF TextVectorization")
    mode = _MODES.get(config.get("output_mode", "int"))
    if mode is None:
        raise ctx.fail(f"option output_mode={config.get('output_mode')!r} cannot be represented in KIF TextVectorization")
    for key in ("sparse", "ragged"):
        if config.get(key):
            raise ctx.fail(f"option {key}=True cannot be represented in KIF (outputs are dense tensors)")
    if config.get("encoding", "utf-8").lower().replace("-", "") != "utf8":
        raise ctx.fail(f"option encoding={config.get('encoding')!r} cannot be represented in KIF (strings are UTF-8)")
    attrs: dict[str, Any] = {
        "standardize": _choice(ctx, "standardize", _STANDARDIZE, "lower_and_strip_punctuation"),
        "split": _choice(ctx, "split", _SPLIT, "whitespace"),
        "ngrams": _ngrams(ctx),
        "output_mode": mode,
        "output_sequence_length": _positive(ctx, "output_sequence_length") if mode == "int" else None,
        "max_tokens": _positive(ctx, "max_tokens"),
        "pad_to_max_tokens": bool(config.get("pad_to_max_tokens", False)),
        "vocabulary": _vocabulary(ctx, mode),
    }
    expected = config.get("vocabulary_size")
    size = len(attrs["vocabulary"]) + (2 if mode == "int" else 1)
    if isinstance(expected, int) and expected != size:
        raise ctx.fail(f"the config records vocabulary_size={expected}; the stored vocabulary has {size} entries with the reserved ones")
    weights = {"idf_weights": _idf(ctx, attrs)} if mode == "tf_idf" else {}
    return [MappedLayer("TextVectorization", attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]
