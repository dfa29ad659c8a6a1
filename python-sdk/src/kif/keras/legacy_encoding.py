"""Discretization and CategoryEncoding as TF 2.3-2.5 wrote them (``tf.keras.layers.experimental.preprocessing``).

Read from TensorFlow's sources of those releases (tensorflow/python/keras/layers/preprocessing/):

- **Discretization, TF 2.3**: ``Discretization(bins)``, config ``{"bins": [...]}``, no weights; ``Bucketize``
  (left-closed, as today), int32 ids.
- **Discretization, TF 2.4 and 2.5**: config ``{"bins", "epsilon"}`` (2.4) or ``{"bin_boundaries", "num_bins",
  "epsilon"}`` (2.5) and a state weight ``bins`` (the boundaries with ``+inf`` appended, or the adapted ones). Ids
  come from ``BoostedTreesBucketize`` on that weight ``w``: the index of the first ``w[k] >= x``, clamped to
  ``len(w) - 1``, i.e. ``#{k < len(w) - 1 : w[k] < x}``: right-closed buckets (``bins=[0, 1, 2]`` sends ``1.0`` to
  bucket 1, the doctests of those releases), int32. On float32 values ``b < x`` is ``nextafter(b, +inf) <= x``, so
  KIF's left-closed Discretization with the boundaries ``w[:-1]`` moved up by one float32 step computes the same ids
  (a ``+inf`` boundary, which no value exceeds, is dropped). KIF's NaN rule (the last bucket) applies to NaN.
- **CategoryEncoding, TF 2.3 and 2.4**: config ``{"max_tokens", "output_mode", "sparse"}`` (``binary``, ``count``
  or ``tf-idf``), or ``max_tokens=None`` with an adapted ``num_elements`` weight; ``bincount`` gives int64 counts,
  so KIF's float32 encoding is followed by ``op.cast`` to int64. ``tf-idf`` is refused. (TF 2.5 renamed
  ``max_tokens`` to ``num_tokens`` and outputs float32, which the current mapping reads.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kif.keras.mapping import Context, MappedLayer


def _stored(ctx: Context, short: str) -> np.ndarray | None:
    weights = ctx.load_weights()
    for (_, ds), name in zip(weights.items, weights.short_names(), strict=True):
        if name.split(":")[0] == short:
            return np.asarray(ds[()])
    return None


def discretization(ctx: Context, config: dict[str, Any]) -> dict[str, Any] | None:
    """The config rewritten with ``bin_boundaries`` and ``output_dtype`` for a TF 2.3-2.5 layer, else None."""
    if ctx.generation >= 3:
        return None
    state = _stored(ctx, "bins")
    if state is not None:  # TF 2.4 / 2.5: BoostedTreesBucketize on the state weight
        w = state.astype(np.float32).reshape(-1)
        if w.size < 1 or np.isnan(w).any() or (np.diff(w) < 0).any():
            raise ctx.fail(f"expected a non-decreasing bins weight without NaN (TF 2.4/2.5). Received: {w.tolist()}")
        kept = w[:-1][w[:-1] < np.inf]
        up = np.nextafter(kept, np.float32(np.inf))
        boundaries = [float(b) for b in up]
    elif "bins" in config and "bin_boundaries" not in config:  # TF 2.3: Bucketize on the config's list
        bins = config["bins"]
        if not isinstance(bins, list):
            raise ctx.fail(f"option bins={bins!r} without a stored bins weight: the layer was never adapted")
        boundaries = bins
    else:
        return None
    out = {k: v for k, v in config.items() if k not in ("bins", "num_bins", "epsilon")}
    return {**out, "bin_boundaries": boundaries, "output_mode": "int", "output_dtype": "int32"}


def category_encoding(ctx: Context, config: dict[str, Any], attrs_of: Any) -> list[MappedLayer] | None:
    """TF 2.3/2.4's CategoryEncoding (``max_tokens``, int64 counts), else None. ``attrs_of(config)`` gives the
    KIF attributes of a config in today's form."""
    if ctx.generation >= 3 or "max_tokens" not in config or "num_tokens" in config:
        return None
    mode = config.get("output_mode", "count")
    if mode == "tf-idf":
        raise ctx.fail("option output_mode='tf-idf' (TF 2.3/2.4 CategoryEncoding) cannot be represented in KIF CategoryEncoding")
    tokens = config["max_tokens"]
    if tokens is None:
        stored = _stored(ctx, "num_elements")
        tokens = int(stored) if stored is not None and stored.size == 1 else 0
        if tokens < 1:
            raise ctx.fail("has max_tokens=None and no adapted num_elements weight: the layer was never adapted")
    rest = {k: v for k, v in config.items() if k != "max_tokens"}
    attrs = attrs_of({**rest, "num_tokens": tokens, "output_mode": "multi_hot" if mode == "binary" else mode})
    if ctx.node.kw_inputs or len(ctx.node.inputs) > 1:
        raise ctx.fail("count_weights in a TF 2.3/2.4 CategoryEncoding (its output dtype follows the weights') is not mapped")
    encoded = f"{ctx.node.outputs[0]}_encoded"
    inputs = list(ctx.node.inputs)
    return [
        MappedLayer("CategoryEncoding", attrs, inputs, [encoded]),
        MappedLayer("op.cast", {"dtype": "int64"}, [encoded], list(ctx.node.outputs), name_suffix="_cast"),
    ]
