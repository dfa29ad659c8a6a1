"""KifModule's forward program, built once at load time: each layer call (or fused pair, kif/torch/fuse.py) as one
closure over numbered value slots, with the layout moves, the fusion choice and the slots to free after it already
decided, so a forward pass is a loop of calls and no per-call dict, plan lookups or name checks.

Freeing each intermediate right after its last reader lets torch's allocator reuse it (fresh memory costs page
faults on every call).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from kif.torch import fuse, layout
from kif.torch.layout import Step

Values = list[Tensor | None]
Call = Callable[..., list[Tensor]]
Op = Callable[[Values, Call], None]


class Program:
    """``ops[k](values, calls[k])`` in order over ``size`` slots; graph inputs go to ``inputs``, outputs come from
    ``outputs``. The ops hold slot numbers only and get their call (a layer module, a Folded pair or relu_) at run
    time, so a deep copy of the module runs its own copies of the layers."""

    def __init__(self, steps: Sequence[Step], modules: Sequence[nn.Module], inputs: list[str], outputs: list[str]) -> None:
        slots: dict[str, int] = {}

        def slot(name: str | None) -> int:
            return -1 if name is None else slots.setdefault(name, len(slots))

        self.inputs = [slot(n) for n in inputs]
        readers = Counter(t for s in steps for t in s.layer.inputs if t is not None)
        sole = {t for t, n in readers.items() if n == 1 and t not in outputs}
        producer: dict[str, str] = {}
        calls: list[tuple[Call, Step, list[str]]] = []  # (call, its step, the tensors it writes)
        self.folded: list[fuse.Folded] = []
        i = 0
        while i < len(steps):
            step, module = steps[i], modules[i]
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            if nxt is not None and fuse.can_fold(step, nxt, sole):
                folded = fuse.Folded(module, modules[i + 1], float(nxt.layer.attributes["epsilon"]))
                self.folded.append(folded)
                calls.append((folded, step, nxt.layer.outputs))
                producer.update(dict.fromkeys(nxt.layer.outputs, nxt.layer.type))
                i += 2
                continue
            made = [None if t is None else producer.get(t) for t in step.layer.inputs]
            into = fuse.add_in_place(step, made, sole)
            if made and fuse.relu_in_place(step, made[0], sole):
                calls.append((fuse.relu_, step, step.layer.outputs))
            elif into is not None:
                calls.append((fuse.adder(into), step, step.layer.outputs))
            else:
                calls.append((module, step, step.layer.outputs))
            producer.update(dict.fromkeys(step.layer.outputs, step.layer.type))
            i += 1
        last: dict[int, int] = {}
        wired = []
        for k, (call, step, writes) in enumerate(calls):
            ins, outs = [slot(t) for t in step.layer.inputs], [slot(t) for t in writes]
            for s in (*ins, *outs):
                if s >= 0:
                    last[s] = k
            wired.append((call, ins, outs, step.moves))
        keep = {slots[n] for n in outputs if n in slots}
        dead: list[list[int]] = [[] for _ in calls]
        for s, k in last.items():
            if s not in keep:
                dead[k].append(s)
        self.calls = [call for call, _, _, _ in wired]
        self.ops = [_op(ins, outs, moves, dead[k]) for k, (_, ins, outs, moves) in enumerate(wired)]
        self.size = len(slots)
        self.outputs = [slots[n] for n in outputs]

    def run(self, inputs: Sequence[Tensor]) -> Values:
        values: Values = [None] * self.size
        for s, x in zip(self.inputs, inputs, strict=True):
            values[s] = x
        for op, call in zip(self.ops, self.calls, strict=True):
            op(values, call)
        return [values[s] for s in self.outputs]


def _op(ins: list[int], outs: list[int], moves: tuple[tuple[int, str], ...], dead: list[int]) -> Op:
    if len(ins) == 1 and ins[0] >= 0 and len(outs) == 1 and not moves:  # most layers: one tensor in, one out
        i, o = ins[0], outs[0]
        if dead == [i]:

            def single_last(v: Values, call: Call) -> None:
                v[o] = call(v[i])[0]
                v[i] = None

            return single_last

        def single(v: Values, call: Call) -> None:
            v[o] = call(v[i])[0]
            for s in dead:
                v[s] = None

        return single
    to_first = [(pos, move == layout.TO_FIRST) for pos, move in moves]
    n = len(outs)

    def general(v: Values, call: Call) -> None:
        args = [v[s] if s >= 0 else None for s in ins]
        for pos, first in to_first:  # layout-plan boundaries: views, no copies
            x = args[pos]
            assert x is not None
            args[pos] = x.movedim(-1, 1) if first else x.movedim(1, -1)
        results = call(*args)
        for s, r in zip(outs, results[:n], strict=True):
            v[s] = r
        for s in dead:
            v[s] = None

    return general
