"""Hashing, HashedCrossing, StringLookup: Keras configs to KIF attributes (spec/layers/<Type>.md).

Keras writes the salt as one integer or a pair, a StringLookup vocabulary with or without its reserved tokens in
front, and the TF-IDF weights of the vocabulary only; KIF stores the pair, the bare vocabulary and the weight of every
index (spec/tensors.md#vocabularies).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper

_LOOKUP_EXTRA = {"vocabulary_size", "oov_method", "encoding", "idf_weights", "vocabulary_dtype", "has_input_vocabulary"}


def _with(ctx: Context, config: dict[str, Any]) -> Context:
    return replace(ctx, node=replace(ctx.node, config=config))


def _refuse_sparse(ctx: Context) -> None:
    if ctx.config.get("sparse"):
        raise ctx.fail("option sparse=True cannot be represented in KIF: KIF tensors are dense")


def _salt(ctx: Context, salt: Any) -> list[int] | None:
    if salt is None:
        return None
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]  # Keras: one integer s means the key [s, s]
    if isinstance(salt, (list, tuple)) and len(salt) == 2 and all(isinstance(s, int) and not isinstance(s, bool) for s in salt):
        return list(salt)
    raise ctx.fail(f"expected salt to be an integer or a pair of integers. Received: salt={salt!r}")


def _dtype_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("config", {}).get("name"))
    return None if value is None else str(value)


def _check_dtype(ctx: Context, mode: str, kif_type: str) -> None:
    """KIF's Hashing/HashedCrossing return int64 indices and float32 encodings (the Keras defaults)."""
    want = "int64" if mode == "int" else "float32"
    got = _dtype_name(ctx.config.get("dtype"))
    if got is not None and got != want:
        raise ctx.fail(f"option dtype={got!r} cannot be represented in KIF {kif_type} (output_mode={mode!r} gives {want})")


@mapper("Hashing")
def _hashing(ctx: Context) -> list[MappedLayer]:
    _refuse_sparse(ctx)
    config = dict(ctx.config)
    config["salt"] = _salt(ctx, config.get("salt"))
    config.setdefault("output_mode", "int")
    _check_dtype(ctx, config["output_mode"], "Hashing")
    attrs = generic_attributes(_with(ctx, config), "Hashing")
    attrs["mask_value"] = config.get("mask_value")  # null means no mask (the generic rule keeps defaults only)
    return [MappedLayer("Hashing", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


@mapper("HashedCrossing")
def _crossing(ctx: Context) -> list[MappedLayer]:
    _refuse_sparse(ctx)
    config = dict(ctx.config)
    config.setdefault("output_mode", "int")
    _check_dtype(ctx, config["output_mode"], "HashedCrossing")
    attrs = generic_attributes(_with(ctx, config), "HashedCrossing")
    return [MappedLayer("HashedCrossing", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


def lookup_vocabulary(ctx: Context, config: dict[str, Any]) -> tuple[list[str], np.ndarray | None]:
    """The bare vocabulary and, for tf_idf, the weight of every index (Keras's IndexLookup.set_vocabulary)."""
    vocab = config.get("vocabulary")
    if vocab is None or isinstance(vocab, str):
        held = _table_vocabulary(ctx, config)
        if held is not None:
            return held
    if vocab is None:  # learned by adapt(): a .keras archive keeps it in assets/
        from kif.keras.text_vectorization_mappers import asset_vocabulary

        vocab = asset_vocabulary(ctx)
    if isinstance(vocab, str):
        raise ctx.fail(f"option vocabulary={vocab!r} names a file outside the model; KIF needs the vocabulary in the config")
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ctx.fail("expected the vocabulary to be a list of strings")
    mode = config.get("output_mode", "int")
    num_oov = int(config.get("num_oov_indices", 1))
    mask = config.get("mask_token")
    reserved = [mask] * (1 if mask is not None and mode == "int" else 0) + [config.get("oov_token", "[UNK]")] * num_oov
    found = vocab[: len(reserved)] == reserved and len(reserved) > 0
    tokens = vocab[len(reserved) :] if found else vocab
    if mode != "tf_idf":
        return tokens, None
    idf = config.get("idf_weights")
    if not isinstance(idf, list) or len(idf) != len(vocab):
        raise ctx.fail(f"expected idf_weights of the vocabulary's length {len(vocab)} for output_mode='tf_idf'")
    weights = np.asarray(idf, dtype=np.float32)
    front = 0 if found else len(reserved)
    if front:
        weights = np.concatenate([np.full(front, np.float32(np.average(np.asarray(idf, dtype=np.float64)))), weights])
    max_tokens = config.get("max_tokens")
    if config.get("pad_to_max_tokens") and isinstance(max_tokens, int) and max_tokens > len(weights):
        weights = np.concatenate([weights, np.zeros(max_tokens - len(weights), dtype=np.float32)])
    return tokens, weights.astype(np.float32)


def _table_vocabulary(ctx: Context, config: dict[str, Any]) -> tuple[list[str], np.ndarray | None] | None:
    """A tf_keras SavedModel's lookup table: the bare tokens and, for tf_idf, the checkpoint's idf_weights variable."""
    mode = config.get("output_mode", "int")
    start = (1 if config.get("mask_token") is not None and mode == "int" else 0) + int(config.get("num_oov_indices", 1))
    tokens = ctx.table(start, False, bool(config.get("invert")))
    if tokens is None:
        return None
    if mode != "tf_idf":
        return list(tokens), None
    stored = [ds for key, ds in ctx.load_weights().items if key.split("/")[-1].split(":")[0] == "idf_weights"]
    if len(stored) != 1:
        raise ctx.fail("output_mode='tf_idf' needs the adapted idf_weights variable; the checkpoint holds none")
    return list(tokens), np.asarray(stored[0][()], np.float32).reshape(-1)


@mapper("StringLookup")
def _string_lookup(ctx: Context) -> list[MappedLayer]:
    _refuse_sparse(ctx)
    config = dict(ctx.config)
    if config.get("encoding", "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ctx.fail(f"option encoding={config['encoding']!r} cannot be represented in KIF: strings are UTF-8")
    if config.get("output_mode") == "binary":
        config["output_mode"] = "multi_hot"  # Keras's deprecated name
    if config.get("output_mode") == "tf-idf":
        config["output_mode"] = "tf_idf"
    tokens, idf = lookup_vocabulary(ctx, config)
    config["vocabulary"] = tokens
    config["salt"] = _salt(ctx, config.get("salt"))
    attrs = generic_attributes(_with(ctx, config), "StringLookup", extra_ignored=_LOOKUP_EXTRA)
    for key in ("mask_token", "max_tokens", "salt"):
        attrs[key] = config.get(key)  # null is meaningful
    weights = {} if idf is None else {"idf_weights": idf}
    inputs, outputs = list(ctx.node.inputs), list(ctx.node.outputs)
    cast = _tf_keras_dtype(ctx, attrs["output_mode"])
    if cast is None:
        return [MappedLayer("StringLookup", attrs, inputs, outputs, weights)]
    indices = f"{outputs[0]}_encoded"
    return [
        MappedLayer("StringLookup", attrs, inputs, [indices], weights),
        MappedLayer("op.cast", {"dtype": cast}, [indices], outputs, name_suffix="_cast"),
    ]


def _tf_keras_dtype(ctx: Context, mode: str) -> str | None:
    """tf.keras 2 encodes one_hot/multi_hot/count in the layer's dtype (float32 by default); Keras 3 always in int64."""
    if ctx.generation != 2 or mode not in ("one_hot", "multi_hot", "count"):
        return None
    name = _dtype_name(ctx.config.get("dtype")) or "float32"
    if name not in ("float16", "float32", "float64", "int32", "int64"):
        raise ctx.fail(f"option dtype={name!r} cannot be represented in KIF StringLookup")
    return None if name == "int64" else name
