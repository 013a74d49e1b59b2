"""The shape-free part of lowering, worked out once per trace structure and re-used.

Which ops form each kernel, which tensors each kernel reads from outside and writes for
others, the dependency graph, what training keeps for backward and where the KV cache is: all of
it depends on the ops and tensor identities, not on batch or sequence length. A re-shaped
trace (same ops, new shapes) re-uses it and only re-runs the per-op formulas
(`workloads.lower.build`), which keeps a 70B-model sweep point in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.lower.grouping import FLASH, OPS, UNFUSED, Kernel, KernelMode, OpFacts
from workloads.lower.rewrites import REWRITES, applies_to
from workloads.op import OpKind, Pass, TensorRole
from workloads.raw import RawOp

Slot = tuple[int, int]              # (op index, input or output position)
WriteSlot = tuple[int, int, bool]   # (op index, position, True: an input mutated in place)
_ROW_KINDS = (OpKind.NORM, OpKind.SOFTMAX, OpKind.REDUCTION, OpKind.ELEMENTWISE, OpKind.COPY)
_UNFUSED_OPS = {Pass.FORWARD: 3, Pass.BACKWARD: 5}   # see passes/unfused_attention.py


@dataclass(slots=True)
class KernelPlan:
    mode: KernelMode
    kind: OpKind
    name: str
    head: int                                  # the op lending module, layer, pass, attrs
    members: tuple[int, ...]                   # ops whose FLOPs the kernel sums
    reads: tuple[tuple[Slot, ...], ...]        # per tensor read from outside: its read slots
    writes: tuple[WriteSlot, ...]              # per tensor written for later kernels
    n_ops: int = 1
    caps: tuple[WriteSlot | None, ...] = ()     # per tensor read through a view: its base


@dataclass
class Structure:
    facts: OpFacts
    formulas: list                              # the formula function of each op
    plans: list[KernelPlan]
    rep: list[int]                              # per kernel: the first kernel of its class
    graph: object                               # frozen networkx DiGraph over op indices
    rewrites: dict[int, tuple]                  # op -> the enabled rewrites that apply to it
    saved: tuple[WriteSlot, ...]                # forward writes that backward reads
    flash_forward_heads: tuple[int, ...]        # train: flash kernels keep a log-sum-exp
    unfused_forward_heads: tuple[int, ...]      # train: unfused attention keeps P
    cache_slots: tuple[Slot, ...]               # outputs holding the KV cache after the step
    passes: tuple[str, ...]


def build_structure(ops: tuple[RawOp, ...], facts: OpFacts, formulas: list,
                    kernels: list[Kernel], passes: tuple[str, ...]) -> Structure:
    kernel_of, readers = _kernel_index(facts, kernels, len(ops))
    kpass = [ops[k.members[0]].pass_ for k in kernels]
    plans = [_plan(ops, facts, k, i, readers, kpass) for i, k in enumerate(kernels)]
    first, n = [], 0
    for p in plans:
        first.append(n)
        n += p.n_ops
    graph = _graph(n, _edges(facts, kernel_of), first, plans)
    priced = sorted({i for p in plans for i in (p.members if p.mode is OPS else (p.head,))})
    enabled = [(REWRITES[name], name) for name in REWRITES if name in passes]
    rewrites: dict[int, tuple] = {}
    for i in priced:
        found = tuple(fn for fn, name in enabled if applies_to(name, ops[i], facts.kinds[i]))
        if found:
            rewrites[i] = found
    saved, flash_heads, unfused_heads = _saved(ops, facts, kernels, plans)
    cache = tuple((i, pos) for i, op in enumerate(ops)
                  if op.attrs.get("cache_update") and not facts.aliases[i]
                  for pos, t in enumerate(op.outputs) if t.role is TensorRole.KV_CACHE)
    return Structure(facts, formulas, plans, _classes(ops, plans), graph, rewrites, saved,
                     flash_heads, unfused_heads, cache, passes)


def _classes(ops: tuple[RawOp, ...], plans: list[KernelPlan]) -> list[int]:
    """For each kernel, the first kernel made of the very same op records (a copied layer).

    Copies share their tensor tuples, arguments and attrs objects with the layer they were
    copied from, so one kernel per class is priced and the rest reuse it, once the builder
    has checked the records are still shared in the trace at hand (`same_records`).
    """
    first: dict[tuple, int] = {}
    rep = []
    for k, p in enumerate(plans):
        if p.mode is not OPS:
            rep.append(k)
            continue
        where = {i: j for j, i in enumerate(p.members)}
        key = (p.name, p.kind, where[p.head],
               tuple((ops[i].target, id(ops[i].inputs), id(ops[i].outputs), id(ops[i].args),
                      id(ops[i].attrs)) for i in p.members),
               tuple(tuple((where[i], pos) for i, pos in slots) for slots in p.reads),
               tuple((where[i], pos, m) for i, pos, m in p.writes))
        rep.append(first.setdefault(key, k))
    return rep


def same_records(ops: tuple[RawOp, ...], a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether ops `a` and `b` (same length) share every record field a formula reads."""
    for i, j in zip(a, b, strict=True):
        x, y = ops[i], ops[j]
        if x.inputs is not y.inputs or x.outputs is not y.outputs or x.args is not y.args \
                or x.attrs is not y.attrs:
            return False
    return True


def _kernel_index(facts: OpFacts, kernels: list[Kernel], n: int):
    """Kernel of each op (-1: dropped), and the kernels reading each tensor."""
    kernel_of = [-1] * n
    for k, kernel in enumerate(kernels):
        for i in kernel.members:
            kernel_of[i] = k
    readers: dict[int, set[int]] = {}
    for i, k in enumerate(kernel_of):
        if k < 0 or facts.kinds[i] is OpKind.VIEW:
            continue
        for b in facts.in_bases[i]:
            s = readers.get(b)
            if s is None:
                readers[b] = {k}
            else:
                s.add(k)
    return kernel_of, readers


def _plan(ops, facts: OpFacts, kernel: Kernel, k: int, readers: dict[int, set[int]],
          kpass: list[Pass]) -> KernelPlan:
    """Tensors a kernel reads from outside (once each) and writes for others.

    Inside a fused kernel a tensor is written only if another kernel reads it or none does
    (a result); a flash kernel writes only what its own pass reads on (backward recomputes).
    """
    produced: dict[int, WriteSlot] = {}
    reads: dict[int, list[Slot]] = {}
    members = tuple(i for i in kernel.members if not facts.aliases[i]) or tuple(kernel.members)
    for i in members:
        for pos, b in enumerate(facts.in_bases[i]):
            if b not in produced:
                reads.setdefault(b, []).append((i, pos))
        for pos, b in enumerate(facts.out_bases[i]):
            produced[b] = (i, pos, False)
        if facts.kinds[i] is OpKind.OPTIMIZER:
            for pos, b in enumerate(facts.in_bases[i]):
                produced[b] = (i, pos, True)
    if len(members) == 1:
        writes = list(produced.values())
    elif kernel.mode is FLASH:
        own = kpass[k]
        writes = [s for b, s in produced.items() if not readers.get(b) or
                  any(r != k and kpass[r] is own for r in readers[b])]
    else:
        writes = [s for b, s in produced.items() if not readers.get(b) or readers[b] != {k}
                  or _is_state(ops, s)]
    head = members[0]
    n_ops = _UNFUSED_OPS[ops[head].pass_] if kernel.mode is UNFUSED else 1
    caps = tuple(facts.base_slots.get(b) if any(ops[i].input_ids[p] != b for i, p in slots)
                 else None for b, slots in reads.items())
    kind = kernel.kind or _kind(ops, facts, kernel.mode, members)
    return KernelPlan(kernel.mode, kind, _name(ops, members),
                      head, members, tuple(tuple(v) for v in reads.values()), tuple(writes),
                      n_ops, caps if any(caps) else ())


_STATE = (TensorRole.WEIGHT, TensorRole.KV_CACHE, TensorRole.GRADIENT,
          TensorRole.OPTIMIZER_STATE)


def _is_state(ops, slot: WriteSlot) -> bool:
    """A write into state that outlives the step (in place, or a cache or gradient)."""
    i, pos, mutated = slot
    return mutated or ops[i].outputs[pos].role in _STATE


def _kind(ops, facts: OpFacts, mode: KernelMode, members: tuple[int, ...]) -> OpKind:
    head_kind = facts.kinds[members[0]]
    if mode is not OPS:
        return OpKind.ATTENTION
    if len(members) == 1 or head_kind in (OpKind.GEMM, OpKind.GROUPED_GEMM, OpKind.OPTIMIZER):
        return head_kind
    kinds = {facts.kinds[i] for i in members}
    if OpKind.NORM in kinds or any("norm" in ops[i].module.rpartition(".")[2].lower()
                                   for i in members):
        return OpKind.NORM
    for kind in _ROW_KINDS:
        if kind in kinds:
            return kind
    return head_kind


def short_name(target: str) -> str:
    name = target.split(".")[1] if "." in target else target
    return name.replace("_scaled_dot_product_", "sdpa_").replace("_for_cpu", "")


def _name(ops, members: tuple[int, ...]) -> str:
    names: list[str] = []
    for i in members:
        s = short_name(ops[i].target)
        if s not in names:
            names.append(s)
    return "+".join(names[:3]) + ("+..." if len(names) > 3 else "")


def _edges(facts: OpFacts, kernel_of: list[int]) -> set[tuple[int, int]]:
    producer: dict[int, int] = {}
    edges: set[tuple[int, int]] = set()
    for i, k in enumerate(kernel_of):
        if k < 0:
            continue
        for b in facts.in_bases[i]:
            p = producer.get(b)
            if p is not None and p != k:
                edges.add((p, k))
        for b in facts.out_bases[i]:
            producer[b] = k
    return edges


def _graph(n: int, edges: set[tuple[int, int]], first: list[int], plans: list[KernelPlan]):
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((first[u] + plans[u].n_ops - 1, first[v]) for u, v in sorted(edges))
    for f, p in zip(first, plans, strict=True):    # an expanded kernel's ops run in a chain
        g.add_edges_from((j, j + 1) for j in range(f, f + p.n_ops - 1))
    # NB: shared by every workload of this structure, so frozen: copy it to modify it.
    return nx.freeze(g)


def _saved(ops, facts: OpFacts, kernels: list[Kernel], plans: list[KernelPlan]):
    """Forward writes read in backward; a flash backward reads its forward's inputs/outputs."""
    forward: dict[int, WriteSlot] = {}
    flash_forward: dict[tuple, set[int]] = {}
    backward: set[int] = set()
    flash_heads, unfused_heads = [], []
    for kernel, plan in zip(kernels, plans, strict=True):
        head = ops[plan.head]
        read_keys = {facts.in_bases[i][pos] for slots in plan.reads for i, pos in slots[:1]}
        write_keys = {(facts.in_bases[i][pos] if mut else facts.out_bases[i][pos]): (i, pos, mut)
                      for i, pos, mut in plan.writes}
        if head.pass_ is Pass.FORWARD:
            forward.update(write_keys)
            if kernel.mode is FLASH:
                flash_forward[_call(head)] = read_keys | set(write_keys)
                flash_heads.append(plan.head)
            elif kernel.mode is UNFUSED:
                unfused_heads.append(plan.head)
        elif head.pass_ is Pass.BACKWARD:
            backward |= read_keys
            if kernel.mode is FLASH:
                backward |= flash_forward.get(_call(head), set())
    saved = tuple(s for key, s in forward.items() if key in backward)
    return saved, tuple(flash_heads), tuple(unfused_heads)


def _call(op: RawOp) -> tuple:
    return op.layer, op.module, op.attrs.get("sdpa_call")
