"""CategoryEncoding, Discretization and IntegerLookup: Keras options the generic rule would ignore but KIF cannot
express (``sparse=True``, a non-float32 dtype policy), and Keras's old spellings (spec/layers/CategoryEncoding.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kif.keras import legacy_encoding
from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper
from kif.keras.text_mappers import _salt as text_salt


def _policy(value: Any) -> str:
    if isinstance(value, dict):
        config = value.get("config")
        return str(config.get("name", "float32")) if isinstance(config, dict) else "float32"
    return "float32" if value is None else str(value)


def check_common(ctx: Context) -> dict[str, Any]:
    """The config less the options every encoding layer refuses; ``binary`` read as ``multi_hot``."""
    config = dict(ctx.config)
    if config.get("sparse"):
        raise ctx.fail("option sparse=True (a sparse output tensor) cannot be represented in KIF; save with sparse=False")
    if config.get("ragged"):
        raise ctx.fail("option ragged=True (a ragged output tensor) cannot be represented in KIF")
    if config.get("output_mode") == "binary":
        config["output_mode"] = "multi_hot"
    return config


def finite_numbers(ctx: Context, key: str, value: Any) -> None:
    """A list of finite numbers (a KIF document is JSON: no NaN or infinities), else one error naming the option."""
    if value is None:
        return
    ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    if not ok:
        raise ctx.fail(f"option {key} must be a list of finite numbers (NaN and infinities cannot be stored)")


def with_config(ctx: Context, config: dict[str, Any]) -> Context:
    return replace(ctx, node=replace(ctx.node, config=config))


@mapper("CategoryEncoding")
def _category_encoding(ctx: Context) -> list[MappedLayer]:
    config = check_common(ctx)
    old = legacy_encoding.category_encoding(ctx, config, lambda c: generic_attributes(with_config(ctx, c), "CategoryEncoding"))
    if old is not None:  # TF 2.3/2.4: max_tokens, int64 counts
        return old
    policy = _policy(config.get("dtype"))
    if policy != "float32":
        raise ctx.fail(f"option dtype={policy!r}: KIF CategoryEncoding outputs float32 only")
    attrs = generic_attributes(with_config(ctx, config), "CategoryEncoding")
    inputs = list(ctx.node.inputs) + ctx.node.kw_inputs.get("count_weights", [])  # by position or keyword
    others = sorted(set(ctx.node.kw_inputs) - {"count_weights"})
    if others:
        raise ctx.fail(f"call argument {others[0]} (a tensor) cannot be represented in KIF CategoryEncoding")
    if len(inputs) > 2:
        raise ctx.fail(f"expected the ids and at most count_weights as call arguments. Received: {len(inputs)} tensors")
    if len(inputs) == 2 and attrs["output_mode"] != "count":
        raise ctx.fail(f"option count_weights needs output_mode='count' (Keras raises too). Received: {attrs['output_mode']!r}")
    return [MappedLayer("CategoryEncoding", attrs, inputs, list(ctx.node.outputs))]


def _summary_boundaries(ctx: Context, num_bins: Any) -> list[float]:
    """tf.keras 2 keeps an adapted layer's boundaries only as its quantile summary ([2, n]: values, weights); its
    ``get_bin_boundaries(summary, num_bins)`` (``_compress_summary_numpy`` with epsilon 1 / num_bins) gives them."""
    if not isinstance(num_bins, int) or isinstance(num_bins, bool) or not 1 <= num_bins <= 1 << 20:
        raise ctx.fail(f"expected bin_boundaries, or num_bins in [1, 2**20] with an adapted summary. Received: num_bins={num_bins!r}")
    stored = ctx.load_weights()
    if len(stored) != 1:
        raise ctx.fail("has no bin_boundaries and no adapted quantile summary: it was never adapted")
    summary = np.asarray(stored.items[0][1][()], np.float32)
    if summary.ndim != 2 or summary.shape[0] != 2 or summary.shape[1] < 1 or not np.isfinite(summary).all():
        raise ctx.fail(f"expected an adapted quantile summary of shape [2, n] with finite values. Received: shape {list(summary.shape)}")
    epsilon = 1.0 / num_bins
    if summary.shape[1] * epsilon >= 1:
        percents = epsilon + np.arange(0.0, 1.0, epsilon)
        cum = summary[1].cumsum()
        if not cum[-1] > 0:
            raise ctx.fail("expected an adapted quantile summary with positive total weight")
        summary = np.interp(percents, cum / cum[-1], summary[0])[None].astype(np.float32)
    return [float(v) for v in summary[0, :-1]]


@mapper("Discretization")
def _discretization(ctx: Context) -> list[MappedLayer]:
    config = check_common(ctx)
    old = legacy_encoding.discretization(ctx, config)
    if old is not None:  # TF 2.3-2.5: bins / BoostedTreesBucketize, int32 ids
        finite_numbers(ctx, "bin_boundaries", old["bin_boundaries"])
        attrs = generic_attributes(with_config(ctx, old), "Discretization")
        return [MappedLayer("Discretization", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
    mode = config.get("output_mode", "int")
    policy = _policy(config.get("dtype"))
    if mode == "int":
        want = "int32" if ctx.generation >= 3 else "int64"
        if ctx.generation < 3 and policy in ("int32", "int64"):
            want = policy  # tf.keras 2 casts the bucket ids to the layer's dtype
        elif ctx.generation < 3 and policy != "float32":
            raise ctx.fail(f"option dtype={policy!r}: KIF Discretization outputs int32 or int64 in int mode")
        config["output_dtype"] = want
    elif policy != "float32":
        raise ctx.fail(f"option dtype={policy!r}: KIF Discretization outputs float32 in output_mode={mode!r}")
    if config.get("bin_boundaries") is None:
        config["bin_boundaries"] = _summary_boundaries(ctx, config.get("num_bins"))
    finite_numbers(ctx, "bin_boundaries", config["bin_boundaries"])
    attrs = generic_attributes(with_config(ctx, config), "Discretization", extra_ignored={"num_bins", "epsilon"})
    return [MappedLayer("Discretization", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]


def _adapted_vocabulary(ctx: Context, mode: str) -> tuple[list[int], list[float] | None]:
    """An adapted Keras 3 layer: the vocabulary (special tokens in front) from the .keras archive's
    ``assets/<layer path>/vocabulary.txt``, the idf weights of every index from its ``idf_weights`` variable."""
    path = ctx.node.save_fallback or ctx.node.save_path
    data = ctx.asset("/".join(f"layers/{key}" for key in path) + "/vocabulary.txt") if path else None
    if data is None:
        raise ctx.fail(
            "has no vocabulary in its config and the file holds no vocabulary asset: an adapted layer keeps it only in a "
            ".keras archive's assets (a tf.keras 2 .h5 does not save it); save the model as .keras"
        )
    try:
        lines = data.decode("utf-8").splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        vocab = [int(line) for line in lines]
    except ValueError:
        raise ctx.fail("expected the vocabulary asset to hold one integer per line") from None
    if mode != "tf_idf":
        return vocab, None
    stored = [ds for key, ds in ctx.load_weights().items if key.split("/")[-1].split(":")[0] == "idf_weights"]
    if len(stored) != 1:
        raise ctx.fail("output_mode='tf_idf' needs the adapted idf_weights variable; the weights file holds none")
    return vocab, [float(v) for v in np.asarray(stored[0][()], np.float64).reshape(-1)]


def _lookup_vocabulary(ctx: Context, config: dict[str, Any]) -> tuple[list[int], list[float] | None]:
    """The vocabulary without its leading special tokens (Keras strips them too) and idf weights for every slot."""
    vocab, idf = config.get("vocabulary"), config.get("idf_weights")
    if vocab is None:
        vocab, idf = _adapted_vocabulary(ctx, config.get("output_mode", "int"))
    if isinstance(vocab, str) or not isinstance(vocab, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in vocab):
        raise ctx.fail("option vocabulary must be a list of integers (a vocabulary file path is not stored in the model)")
    mask, oov, n = config.get("mask_token"), config.get("oov_token", -1), config.get("num_oov_indices", 1)
    mode = config.get("output_mode", "int")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ctx.fail(f"option num_oov_indices={n!r} must be a non-negative integer")
    special = [mask] * (1 if mask is not None and mode == "int" else 0) + [oov] * n
    found = len(special) > 0 and vocab[: len(special)] == special
    tokens = vocab[len(special) :] if found else vocab
    if mode != "tf_idf" or idf is None:
        return tokens, None
    finite_numbers(ctx, "idf_weights", idf)
    if len(idf) != len(vocab):
        raise ctx.fail(f"expected idf_weights of the vocabulary's length {len(vocab)}")
    weights = [float(w) for w in idf]
    if not found:
        weights = [float(np.average(weights))] * len(special) + weights  # Keras pads the special slots with the mean
    max_tokens = config.get("max_tokens")
    if config.get("pad_to_max_tokens") and isinstance(max_tokens, int) and max_tokens > len(weights):
        weights += [0.0] * (max_tokens - len(weights))
    return tokens, weights


@mapper("IntegerLookup")
def _integer_lookup(ctx: Context) -> list[MappedLayer]:
    config = check_common(ctx)
    if config.get("vocabulary_dtype", "int64") != "int64":
        raise ctx.fail(f"option vocabulary_dtype={config['vocabulary_dtype']!r}: KIF IntegerLookup holds int64 tokens")
    config["salt"] = text_salt(ctx, config.get("salt"))
    if config["salt"] is not None and config.get("oov_method", "floormod") != "farmhash":
        raise ctx.fail(f"option salt={config['salt']!r} needs oov_method='farmhash' (Keras refuses it with floormod)")
    mode = config.get("output_mode", "int")
    policy = _policy(config.get("dtype"))
    if ctx.generation < 3 and mode != "int" and policy != "float32":
        raise ctx.fail(f"option dtype={policy!r}: KIF IntegerLookup outputs float32 encodings for tf.keras 2")
    config["vocabulary"], idf = _lookup_vocabulary(ctx, config)
    if mode == "tf_idf" and idf is None:
        raise ctx.fail("output_mode='tf_idf' without idf_weights in the config (an adapted layer keeps them as a weight)")
    config["output_dtype"] = "int64" if ctx.generation >= 3 else "float32"
    extra = {"vocabulary_size", "vocabulary_dtype", "idf_weights"}
    attrs = generic_attributes(with_config(ctx, config), "IntegerLookup", extra_ignored=extra)
    weights = {} if idf is None else {"idf_weights": np.asarray(idf, np.float32)}
    return [MappedLayer("IntegerLookup", attrs, list(ctx.node.inputs), list(ctx.node.outputs), weights)]
