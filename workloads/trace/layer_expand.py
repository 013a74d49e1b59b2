"""Rebuild the full model's op list from a trace of a few of its layers (see `layer_plan`).

Each pass (forward, backward, optimizer) of the reduced trace must read: ops outside the
stack, one contiguous run per traced layer in pass order, ops outside the stack. The full
list puts every layer's run in order, copied from its source layer with the layer index, module
path and tensor identities rewritten:
- a tensor the source layer owns (made by its ops, or a parameter or cache only it reads) gets a
  fresh identity per copy, the same in every pass, so forward, backward and optimizer agree;
- a tensor another traced layer owns (the hidden state from the layer before; in backward the
  gradient from the layer after) is found at the same offset from the copy, in the same place
  among that layer's exports;
- anything else (masks, rotary tables, the embedding output's consumers outside the stack) is
  kept.
Anything that does not fit raises `NotExpandable`, and the tracer runs every layer instead.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import ModelFacts, Pass, Phase
from workloads.raw import RawOp, RawTrace
from workloads.trace.layer_plan import LayerPlan


class NotExpandable(Exception):
    """The reduced trace cannot be copied into the full one exactly."""


# One op of the full list: the index of its reduced op, and the fields that differ (or None;
# "sdpa_call" stands for attrs["sdpa_call"]).
Step = tuple[int, "dict[str, Any] | None"]


@dataclass(frozen=True)
class ReducedTrace:
    """A trace as recorded (a few layers) and how to build the full op list (`layer_expand`):
    what the disk cache keeps for a size traced as asked, a fraction of the full list."""

    facts: ModelFacts
    phase: Phase
    batch: int
    seq: int
    context: int
    dtype: DType
    ops: tuple[RawOp, ...]
    steps: tuple[Step, ...]

    def full(self) -> RawTrace:
        return RawTrace(self.facts, self.phase, self.batch, self.seq, self.context, self.dtype,
                        apply_expansion(self.ops, self.steps))


def expand_layers(ops: tuple[RawOp, ...], plan: LayerPlan, stack_path: str) -> tuple[RawOp, ...]:
    return apply_expansion(ops, expansion(ops, plan, stack_path))


def expansion(ops: tuple[RawOp, ...], plan: LayerPlan, stack_path: str) -> tuple[Step, ...]:
    """How to build the full op list from `ops`, a trace of the `plan.traced` layers only."""
    if not plan.reduced:
        return _renumber_attention(ops, [(k, None) for k in range(len(ops))])
    ctx = _Context(ops, plan, stack_path)
    out: list[Step] = []
    for pass_ in Pass:
        block = [k for k, op in enumerate(ops) if op.pass_ is pass_]
        if block:
            out.extend(ctx.expand_pass(block, descending=pass_ is Pass.BACKWARD))
    return _renumber_attention(ops, out)


def apply_expansion(ops, steps: tuple[Step, ...]) -> tuple[RawOp, ...]:
    out = []
    make = object.__new__
    paused = gc.isenabled()
    gc.disable()       # tens of thousands of acyclic objects: no cycle to collect meanwhile
    try:
        for k, changes in steps:
            op = ops[k]
            if changes is not None:
                # NB: a frozen dataclass filled through __dict__: 5x faster than replace().
                new = make(RawOp)
                fields = new.__dict__
                fields.update(op.__dict__)
                fields.update(changes)
                if "sdpa_call" in changes:
                    fields["attrs"] = {**op.attrs, "sdpa_call": fields.pop("sdpa_call")}
                op = new
            out.append(op)
    finally:
        if paused:
            gc.enable()
    return tuple(out)


class _Context:
    def __init__(self, ops, plan: LayerPlan, stack_path: str):
        self.ops = ops
        self.plan = plan
        self.pos = {layer: k for k, layer in enumerate(plan.traced)}
        self.owner = _owners(ops)
        self.exports = _exports(ops, self.owner)
        self.next_id = 1 + max((i for op in ops for i in (*op.input_ids, *op.output_ids)),
                               default=0)
        self.fresh: dict[tuple[int, int], int] = {}
        self.path = re.compile(re.escape(stack_path) + r"\.(\d+)(?=\.|$)")
        self.stack_path = stack_path

    def expand_pass(self, block: list[int], descending: bool) -> list[Step]:
        runs = _runs(self.ops, block)
        layer_runs = [r for r in runs if self.ops[r[0]].layer >= 0]
        order = [self.ops[r[0]].layer for r in layer_runs]
        if not order:
            return [(k, None) for k in block]
        if order != sorted(self.plan.traced, reverse=descending):
            raise NotExpandable(f"layer runs {order} are not one per traced layer in order")
        first, last = runs.index(layer_runs[0]), runs.index(layer_runs[-1])
        by_layer = dict(zip(order, layer_runs, strict=True))
        out: list[Step] = [(k, None) for r in runs[:first] for k in r]
        targets = range(self.plan.layers)
        for i in (reversed(targets) if descending else targets):
            src = self.plan.source[i]
            out.extend((k, self._changes(self.ops[k], i, src)) for k in by_layer[src])
        out.extend((k, None) for r in runs[last + 1:] for k in r)
        return out

    def _changes(self, op: RawOp, i: int, src: int) -> dict[str, Any] | None:
        if i == src and not self._crosses(op, src):
            return None
        return {"input_ids": tuple(self._map(x, i, src) for x in op.input_ids),
                "output_ids": tuple(self._map(x, i, src) for x in op.output_ids),
                "module": self.path.sub(f"{self.stack_path}.{i}", op.module, count=1),
                "layer": i}

    def _crosses(self, op: RawOp, src: int) -> bool:
        """An op of a traced layer reading another traced layer (its neighbour may differ)."""
        return any(self.owner.get(x, -1) not in (-1, src) for x in op.input_ids)

    def _map(self, x: int, i: int, src: int) -> int:
        o = self.owner.get(x, -1)
        if o == -1:
            return x
        if o == src:
            return self._own(x, i, src)
        t = i + self.pos[o] - self.pos[src]
        if not 0 <= t < self.plan.layers:
            raise NotExpandable(f"layer {i} would read layer {t}")
        mine, theirs = self.exports[o], self.exports.get(self.plan.source[t], [])
        if [m for _, m in mine] != [m for _, m in theirs]:
            raise NotExpandable(f"layers {o} and {self.plan.source[t]} export different tensors")
        ids = [e for e, _ in mine]
        if x not in ids:
            raise NotExpandable(f"layer {src} reads a tensor only layer {o} has")
        return self._own(theirs[ids.index(x)][0], t, self.plan.source[t])

    def _own(self, x: int, i: int, src: int) -> int:
        if i == src:
            return x
        found = self.fresh.get((x, i))
        if found is None:
            found = self.fresh[(x, i)] = self.next_id
            self.next_id += 1
        return found


def _runs(ops, block: list[int]) -> list[list[int]]:
    """Maximal runs of consecutive ops (indices) with the same layer."""
    runs: list[list[int]] = []
    for k in block:
        if runs and ops[runs[-1][0]].layer == ops[k].layer:
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


def _owners(ops) -> dict[int, int]:
    """The layer that makes each tensor, or the only layer that reads it; -1 if none."""
    owner: dict[int, int] = {}
    readers: dict[int, set[int]] = {}
    for op in ops:
        for x in op.input_ids:
            if x not in owner:
                readers.setdefault(x, set()).add(op.layer)
        for x in op.output_ids:
            if x not in owner and x not in readers:
                owner[x] = op.layer
    for x, layers in readers.items():
        if x not in owner:
            owner[x] = next(iter(layers)) if len(layers) == 1 else -1
    return owner


def _exports(ops, owner: dict[int, int]) -> dict[int, list[tuple[int, tuple]]]:
    """Per layer, the tensors it owns that ops elsewhere read, in order, with shape and dtype."""
    out: dict[int, list[tuple[int, tuple]]] = {}
    seen: set[int] = set()
    for op in ops:
        for x, t in zip(op.input_ids, op.inputs, strict=True):
            o = owner.get(x, -1)
            if o >= 0 and o != op.layer and x not in seen:
                seen.add(x)
                out.setdefault(o, []).append((x, (t.shape, t.dtype)))
    return out


def _renumber_attention(ops, steps: list[Step]) -> tuple[Step, ...]:
    """Give each copied SDPA call its own `sdpa_call` number, in order of appearance."""
    numbers: dict[tuple[int, int], int] = {}
    out: list[Step] = []
    for k, changes in steps:
        op = ops[k]
        call = op.attrs.get("sdpa_call")
        if call is not None:
            layer = changes["layer"] if changes else op.layer
            n = numbers.setdefault((layer, call), len(numbers))
            if n != call:
                changes = {**(changes or {}), "sdpa_call": n}
        out.append((k, changes))
    return tuple(out)
