"""Keras's generic ``RNN`` wrapper over the built-in cells, as KIF SimpleRNN / LSTM / GRU layers.

``RNN(SimpleRNNCell|LSTMCell|GRUCell)`` computes exactly what SimpleRNN / LSTM / GRU compute (those Keras
layers are this wrapper over the same cell), so it maps onto that type. ``RNN(StackedRNNCells([c1, …, cn]))``
feeds each step through the cells in turn: it is a chain of n layers, the first with the wrapper's
``go_backwards``, the others reading the (already reversed) sequence forwards with the mask reversed to match,
every one but the last with ``return_sequences``. With ``return_state`` Keras returns every cell's states, in
cell order (spec/layers/SimpleRNN.md#notes).
"""

from __future__ import annotations

from typing import Any

from kif.keras.layer_mappers import _RNN_STATES, _rnn_parts
from kif.keras.mapping import Context, MappedLayer, mapper

CELLS = {"SimpleRNNCell": "SimpleRNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}
_WRAPPER_KEYS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask", "time_major")
_MAX_DEPTH = 8  # StackedRNNCells inside StackedRNNCells: flattened, to a bounded depth


def _snake(class_name: str) -> str:
    """The group a .keras file stores a cell under (LSTMCell → lstm_cell)."""
    from kif.keras.save_keys import snake_case

    return snake_case(class_name)


def _cells(ctx: Context, cell: Any, path: str = "cell", depth: int = 0) -> list[tuple[dict[str, Any], str]]:
    """The built-in cells of ``cell`` in step order (nested StackedRNNCells flattened), each with the path of
    its group in a .keras file: ``cell``, or ``cell/cells/<snake class name>[_<n>]`` numbered per class in list
    order as Keras's saving_lib names them."""
    if not isinstance(cell, dict) or not isinstance(cell.get("config"), dict):
        raise ctx.fail("expected option cell to be a serialized Keras cell (an object with a config object)")
    name = cell.get("class_name")
    if name == "StackedRNNCells":
        if depth >= _MAX_DEPTH:
            raise ctx.fail(f"expected StackedRNNCells nested at most {_MAX_DEPTH} deep. Received: deeper nesting")
        cells = cell["config"].get("cells")
        if not isinstance(cells, list) or not cells:
            raise ctx.fail("expected StackedRNNCells option cells to be a non-empty list of cells")
        found: list[tuple[dict[str, Any], str]] = []
        used: dict[str, int] = {}
        for inner in cells:
            snake = _snake(str(inner.get("class_name"))) if isinstance(inner, dict) else ""
            used[snake] = used.get(snake, -1) + 1
            key = snake if used[snake] == 0 else f"{snake}_{used[snake]}"
            found += _cells(ctx, inner, f"{path}/cells/{key}", depth + 1)
        return found
    if name not in CELLS:
        raise ctx.fail(
            f"option cell={name!r} is not a built-in Keras cell (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells); "
            "a custom cell is Python code, which KIF never stores or runs"
        )
    return [(cell, path)]


def _split(
    ctx: Context, items: list[tuple[str, Any]], cells: list[tuple[dict[str, Any], str]], counts: list[int]
) -> list[list[tuple[str, Any]]]:
    """Each cell's stored weights. A .keras file (``…/vars/<i>`` keys) holds them under the cell's group path; a
    legacy .h5 names them by the cell's name where every key names exactly one cell, else Keras's order
    (cell after cell) decides."""
    if items and all("vars/" in key for key, _ in items):
        groups = [[item for item in items if item[0].rsplit("vars/", 1)[0] == f"{path}/"] for _, path in cells]
        if [len(g) for g in groups] == counts:
            return groups
    names = [str(c["config"].get("name", "")) for c, _ in cells]
    if len(cells) > 1 and len(set(names)) == len(names):
        owner = [[n for n in names if n in key.split("/")] for key, _ in items]
        if all(len(o) == 1 for o in owner):
            groups = [[item for item, o in zip(items, owner, strict=True) if o[0] == n] for n in names]
            if [len(g) for g in groups] == counts:
                return groups
    if len(items) != sum(counts):
        raise ctx.fail(f"expected {sum(counts)} weights for its cells. Received: {len(items)}")
    out, start = [], 0
    for count in counts:
        out.append(items[start : start + count])
        start += count
    return out


def _initial_states(ctx: Context, counts: list[int]) -> list[list[str]]:
    node = ctx.node
    given = list(node.inputs[1:]) + node.kw_inputs.get("initial_state", [])
    if not given:
        return [[] for _ in counts]
    if len(given) != sum(counts):
        raise ctx.fail(f"expected {sum(counts)} initial state tensors (every cell's states, in cell order). Received: {len(given)}")
    out, start = [], 0
    for count in counts:
        out.append(given[start : start + count])
        start += count
    return out


@mapper("RNN")
def _rnn_wrapper(ctx: Context) -> list[MappedLayer]:
    config = ctx.config
    if config.get("stateful"):
        raise ctx.fail("option stateful=True carries state between calls, which a KIF graph cannot represent")
    if config.get("time_major"):
        raise ctx.fail("option time_major=True is not representable (KIF sequences are [N, T, features])")
    cells = _cells(ctx, config.get("cell"))
    types = [CELLS[str(c["class_name"])] for c, _ in cells]
    wrapper = {k: config[k] for k in _WRAPPER_KEYS if k in config}
    last = len(cells) - 1
    configs = []
    for i, (cell, _) in enumerate(cells):
        own = {k: v for k, v in cell["config"].items() if k not in _WRAPPER_KEYS}
        chained = {"return_sequences": True} if i < last else {}
        configs.append({**own, **wrapper, **chained, **({"go_backwards": False} if i > 0 else {})})
    counts = [3 if c.get("use_bias", True) else 2 for c in configs]
    stored = _split(ctx, ctx.load_weights().items, cells, counts)
    states = _initial_states(ctx, [_RNN_STATES[t] for t in types])
    x = ctx.node.inputs[0]
    mask = (ctx.node.kw_inputs.get("mask") or [None])[0] or ctx.mask_of(x)
    single = len(cells) == 1
    layers: list[MappedLayer] = []
    seq, inner_mask, position = x, mask, 1
    for i, (kif_type, cfg) in enumerate(zip(types, configs, strict=True)):
        attrs, weights = _rnn_parts(ctx, cfg, kif_type, stored[i])
        suffix = "" if single else f"/cell{i}"
        if i == 1 and mask is not None and configs[0].get("go_backwards"):
            inner_mask = f"{ctx.node.outputs[0]}/mask_reversed"  # the cells after the first see the steps reversed
            index = [[None, None, None], [None, None, -1]]
            layers.append(MappedLayer("op.strided_slice", {"index": index}, [mask], [inner_mask], {}, "/mask_reversed", None))
        inputs: list[str | None] = [seq, *states[i]]
        if inner_mask is not None:
            inputs += [None] * (1 + _RNN_STATES[kif_type] - len(inputs)) + [inner_mask]
        first = ctx.output(0) if i == last else f"{ctx.node.outputs[0]}/cell{i}"
        extra = _RNN_STATES[kif_type] if attrs["return_state"] else 0
        outputs = [first, *(ctx.output(position + j) for j in range(extra))]
        position += extra
        out_mask = ctx.mask_of(x) if i == last and attrs["return_sequences"] else None
        layers.append(MappedLayer(kif_type, attrs, inputs, outputs, weights, suffix, out_mask))
        seq = first
    return layers
