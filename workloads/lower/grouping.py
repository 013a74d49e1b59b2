"""Lowering passes that decide which traced ops run as one kernel.

- `flash_attention`: the ops of one attention call that did not reach a fused kernel (the SDPA
  math path: bmm, mask, softmax, dropout, bmm; forward or backward) become one flash kernel.
  Switched off, the fused SDPA ops run as the unfused math instead (see `unfused_attention`).
- `views`: views, allocations and bookkeeping ops vanish (they move no data).
- `fuse_elementwise`: pointwise ops, casts and copies fuse into the GEMM that produced their
  input (an epilogue, while each result has that one consumer) or, with row-wise ops (norms,
  softmax, reductions), into one kernel per chain: an op joins the kernel just before it when
  it reads something that kernel made, or runs in the same module (rotary on q and k). A
  layer's optimizer updates run as one multi-tensor kernel.

Kernels are runs of the traced order; the one exception, an epilogue joining an earlier GEMM,
only moves an op before kernels it does not depend on, so the kernel graph stays acyclic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from workloads.op import OpKind
from workloads.ops.work import Fuse
from workloads.raw import RawOp


class KernelMode(enum.Enum):
    """How a kernel of traced ops is priced."""

    OPS = "ops"            # the sum of its ops (pointwise chains fused by tensor identity)
    FLASH = "flash"        # one flash-attention kernel
    UNFUSED = "unfused"    # attention as the math kernels an unfused stack runs


OPS, FLASH, UNFUSED = KernelMode.OPS, KernelMode.FLASH, KernelMode.UNFUSED
_GEMMS = (OpKind.GEMM, OpKind.GROUPED_GEMM)


@dataclass(slots=True)
class Kernel:
    """Traced ops (indices, in order) that run as one kernel; `mode` says how it is priced."""

    members: list[int]
    mode: KernelMode = KernelMode.OPS
    produced: set[int] = field(default_factory=set)   # bases made inside (while fusing)
    chain_out: int = -1                               # GEMM epilogue: the latest result
    kind: OpKind | None = None                        # set by a pass (MoE routing); else
                                                      # from its ops


@dataclass(slots=True)
class OpFacts:
    """What grouping needs of each traced op, computed once per trace."""

    kinds: list[OpKind]
    fuses: list[Fuse]
    aliases: list[bool]
    in_bases: list[tuple[int, ...]]
    out_bases: list[tuple[int, ...]]
    readers: dict[int, int]          # base id -> number of (non-view) ops reading it
    # where each base tensor first appears, (op, position, as an output?): a read through a
    # view (an expand) moves at most the base's bytes
    base_slots: dict[int, tuple[int, int, bool]]


def attention_runs(ops: tuple[RawOp, ...], kinds: list[OpKind]) -> list[tuple[int, int, bool]]:
    """(first, last, has_fused_sdpa) of each contiguous run of ops inside one attention call."""
    runs = []
    n = len(ops)
    i = 0
    while i < n:
        op = ops[i]
        if not op.attrs.get("attention"):
            i += 1
            continue
        key = _call_key(op)
        j = i
        while j + 1 < n and ops[j + 1].attrs.get("attention") and _call_key(ops[j + 1]) == key:
            j += 1
        fused = any(kinds[x] is OpKind.ATTENTION for x in range(i, j + 1))
        has_gemm = any(kinds[x] in _GEMMS for x in range(i, j + 1))
        if fused or has_gemm:
            runs.append((i, j, fused))
        i = j + 1
    return runs


def _call_key(op: RawOp) -> tuple:
    return op.pass_, op.layer, op.module, op.attrs.get("sdpa_call")


def initial_kernels(ops: tuple[RawOp, ...], facts: OpFacts, flash: bool,
                    drop_views: bool) -> list[Kernel]:
    """One kernel per op, attention math runs grouped (flash on) or SDPA unfused (flash off)."""
    grouped: dict[int, int] = {}
    unfused: set[int] = set()
    if flash:
        grouped = {first: last for first, last, fused in attention_runs(ops, facts.kinds)
                   if not fused}
    else:
        unfused = {i for i, kind in enumerate(facts.kinds) if kind is OpKind.ATTENTION}
    kernels = []
    i, n = 0, len(ops)
    kinds = facts.kinds
    while i < n:
        last = grouped.get(i)
        if last is not None:
            kernels.append(Kernel(list(range(i, last + 1)), FLASH))
            i = last + 1
            continue
        if not (drop_views and kinds[i] is OpKind.VIEW):
            kernels.append(Kernel([i], UNFUSED if i in unfused else OPS))
        i += 1
    return kernels


def fuse_elementwise(ops: tuple[RawOp, ...], facts: OpFacts,
                     kernels: list[Kernel]) -> list[Kernel]:
    out: list[Kernel] = []
    tail: Kernel | None = None
    tail_pos = -1
    made: dict[int, int] = {}              # tensor base -> position in `out` of its kernel
    epilogues: dict[int, int] = {}         # a GEMM result only one op reads -> its kernel
    kinds, fuses = facts.kinds, facts.fuses
    for k in kernels:
        i = k.members[0]
        if k.mode is OPS and kinds[i] is OpKind.VIEW:
            out.append(k)            # a kept view or allocation: leaves the chain open
            for b in facts.out_bases[i]:
                made[b] = len(out) - 1
            continue
        target = None
        if k.mode is OPS:
            if tail is not None and _joins(ops, facts, tail, i) and all(
                    made.get(x, -1) <= tail_pos for x in facts.in_bases[i]):
                target = tail_pos
            else:
                target = _epilogue(ops, facts, out, made, epilogues, i)
        if target is not None:
            _add(facts, out[target], i, epilogues, target)
            for b in facts.out_bases[i]:
                made[b] = target
            continue
        out.append(k)
        pos = len(out) - 1
        for b in facts.out_bases[i]:
            made[b] = pos
        opens = k.mode is OPS and (fuses[i] is not Fuse.NONE or kinds[i] in _GEMMS
                                   or kinds[i] is OpKind.OPTIMIZER)
        tail, tail_pos = (k, pos) if opens else (None, -1)
        if tail is not None:
            tail.produced = set(facts.out_bases[i])
            tail.chain_out = -1
            if kinds[i] in _GEMMS and facts.out_bases[i]:
                _open(facts, tail, facts.out_bases[i][0], epilogues, pos)
    return out


def _open(facts: OpFacts, kernel: Kernel, result: int, epilogues: dict[int, int],
          pos: int) -> None:
    kernel.chain_out = result
    if facts.readers.get(result, 0) == 1:
        epilogues[result] = pos


def _add(facts: OpFacts, kernel: Kernel, i: int, epilogues: dict[int, int], pos: int) -> None:
    kernel.members.append(i)
    kernel.produced.update(facts.out_bases[i])
    if kernel.chain_out >= 0:
        epilogues.pop(kernel.chain_out, None)
        if facts.out_bases[i]:
            _open(facts, kernel, facts.out_bases[i][0], epilogues, pos)
        else:
            kernel.chain_out = -1


def _epilogue(ops: tuple[RawOp, ...], facts: OpFacts, out: list[Kernel], made: dict[int, int],
              epilogues: dict[int, int], i: int) -> int | None:
    """An earlier GEMM whose sole-reader result op i reads: i moves into its epilogue if
    everything else it reads was made by then (the weight-gradient copy after dX's GEMM)."""
    if facts.fuses[i] is not Fuse.POINTWISE:
        return None
    for b in facts.in_bases[i]:
        pos = epilogues.get(b)
        if pos is None or ops[out[pos].members[0]].pass_ is not ops[i].pass_:
            continue
        if all(made.get(x, -1) <= pos for x in facts.in_bases[i]):
            return pos
    return None


def _joins(ops: tuple[RawOp, ...], facts: OpFacts, tail: Kernel, i: int) -> bool:
    head = tail.members[0]
    if ops[head].pass_ is not ops[i].pass_:
        return False
    if facts.kinds[head] is OpKind.OPTIMIZER:   # multi-tensor apply: a layer's updates at once
        return facts.kinds[i] is OpKind.OPTIMIZER and ops[i].layer == ops[head].layer
    fuse = facts.fuses[i]
    if fuse is Fuse.NONE:
        return False
    if facts.kinds[head] in _GEMMS:
        c = tail.chain_out
        return (fuse is Fuse.POINTWISE and c >= 0 and c in facts.in_bases[i]
                and facts.readers.get(c, 0) == 1)
    if any(b in tail.produced for b in facts.in_bases[i]):
        return True
    return ops[i].module == ops[tail.members[-1]].module
