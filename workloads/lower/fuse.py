"""Lowering a raw trace to the kernels a real stack runs, by named, switchable passes.

The raw trace is every aten op as PyTorch's eager CPU path ran it; a GPU serving or training
stack runs fewer, fused kernels. In order:

- `kv_cache_in_place`: the KV cache is read in place; an update writes the new K/V only.
- `embedding_gather`: an embedding reads the B*S rows it gathers, not its whole table.
- `moe_expected_experts`: MoE grouped GEMMs read the experts the step's tokens are expected
  to pick, E*(1-(1-k/E)^T), not all E.
- `flash_attention`: attention is one flash kernel; off, it is the unfused math with the
  q x kv scores in memory.
- `views`: views, allocations and bookkeeping vanish.
- `fuse_elementwise`: casts and pointwise chains fuse into their producer (a GEMM epilogue) or
  into one kernel with the norm, softmax or reduction they feed, and a layer's optimizer
  updates run as one multi-tensor kernel (the "fold, merge, prune" graph optimizations).
- `moe_fused_routing`: an MoE layer's routing ops (softmax, top-k, sort, histogram, gathers;
  the scatter and weighted sum after) run as one routing kernel before the experts and one
  after, and the activation as the up-projection's epilogue (`workloads.lower.moe_fusion`).
- `mla_absorb`: in a decode step, multi-head latent attention absorbs its up-projections into
  the query and the output and attends over the compressed latent cache, as serving engines do
  (`workloads.lower.mla_absorb`); prefill keeps the expanded form.

`structure(ops, disabled)` groups the traced ops into kernels (cached per trace structure, so
a re-shaped trace re-uses it); `op_work` prices one op at this trace's shapes;
`workloads.lower.build` turns both into `Op`s. Any pass can be disabled by
name, so a user sees what each optimization is worth.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from workloads.lower.grouping import OpFacts, fuse_elementwise, initial_kernels
from workloads.lower.kernel_plan import Structure, build_structure
from workloads.lower.moe_fusion import fuse_moe_routing
from workloads.op import OpKind
from workloads.ops import formula_for, is_alias
from workloads.ops.work import Work
from workloads.raw import RawOp


@dataclass(frozen=True)
class LoweringPass:
    name: str
    description: str


PASSES: tuple[LoweringPass, ...] = (
    LoweringPass("kv_cache_in_place", "KV cache read in place; updates write only new K/V"),
    LoweringPass("embedding_gather", "embedding reads the gathered rows, not the table"),
    LoweringPass("moe_expected_experts", "MoE reads the expected distinct experts, not all"),
    LoweringPass("flash_attention", "attention is one flash kernel (no q x kv scores)"),
    LoweringPass("views", "views, allocations and bookkeeping ops vanish"),
    LoweringPass("fuse_elementwise", "casts and pointwise chains fuse into their producer; "
                 "a layer's optimizer updates are one kernel"),
    LoweringPass("moe_fused_routing", "an MoE layer's routing is one kernel before its "
                 "experts and one after; the activation is the up-projection's epilogue"),
    LoweringPass("mla_absorb", "MLA decode absorbs the up-projections and attends over the "
                 "latent cache"),
)
PASS_NAMES: tuple[str, ...] = tuple(p.name for p in PASSES)


def check_passes(disabled: Iterable[str]) -> frozenset[str]:
    """The disabled pass names, or a ValueError naming an unknown one."""
    if isinstance(disabled, str):
        disabled = [disabled]
    names = frozenset(str(d).strip() for d in disabled)
    for name in sorted(names):
        if name not in PASS_NAMES:
            close = [p for p in PASS_NAMES if name and name in p] or \
                difflib.get_close_matches(name, PASS_NAMES, n=1)
            hint = f"did you mean {close[0]}?" if close else f"passes: {', '.join(PASS_NAMES)}"
            raise ValueError(f"unknown lowering pass {name!r}; {hint}")
    return names


def op_facts(ops: tuple[RawOp, ...]) -> tuple[OpFacts, list]:
    """Kinds, fusion classes and tensor identities (views resolved to their base)."""
    entries = [formula_for(op.target) for op in ops]
    alias: dict[int, int] = {}
    aliases = [False] * len(ops)
    in_bases: list[tuple[int, ...]] = []
    out_bases: list[tuple[int, ...]] = []
    readers: dict[int, int] = {}
    base_slots: dict[int, tuple[int, int, bool]] = {}
    for i, op in enumerate(ops):
        ins = tuple([alias.get(x, x) for x in op.input_ids])
        in_bases.append(ins)
        for pos, (x, b) in enumerate(zip(op.input_ids, ins, strict=True)):
            if x == b and b not in base_slots:
                base_slots[b] = (i, pos, False)
        if ins and is_alias(op.target):
            aliases[i] = True
            for o in op.output_ids:
                if o != ins[0]:
                    alias[o] = ins[0]
            out_bases.append(())
            continue
        out_bases.append(tuple([alias.get(x, x) for x in op.output_ids]))
        for pos, b in enumerate(out_bases[-1]):
            base_slots.setdefault(b, (i, pos, True))
        if entries[i].kind is not OpKind.VIEW:      # an allocation reads only a shape
            for b in set(ins):
                readers[b] = readers.get(b, 0) + 1
    facts = OpFacts([e.kind for e in entries], [e.fuse for e in entries], aliases, in_bases,
                    out_bases, readers, base_slots)
    return facts, [e.fn for e in entries]


_STRUCTURAL = attrgetter("target", "input_ids", "output_ids", "module")
_CACHE: OrderedDict[tuple, Structure] = OrderedDict()
_CACHE_SIZE = 8   # structures kept: a sweep re-shapes a few traces over and over


def structure(ops: tuple[RawOp, ...], disabled: Iterable[str] = ()) -> Structure:
    """The kernels of a trace with every pass not in `disabled`, cached by trace structure."""
    off = check_passes(disabled)
    # NB: keyed by the 64-bit hash of the op structure, not the structure itself (comparing
    # thousands of ops on every hit costs as much as the lowering); a collision is ~1e-18.
    key = (off, len(ops), hash(tuple(map(_STRUCTURAL, ops))))
    found = _CACHE.get(key)
    if found is not None:
        _CACHE.move_to_end(key)
        return found
    facts, formulas = op_facts(ops)
    kernels = initial_kernels(ops, facts, flash="flash_attention" not in off,
                              drop_views="views" not in off)
    if "fuse_elementwise" not in off:
        kernels = fuse_elementwise(ops, facts, kernels)
    if "moe_fused_routing" not in off:
        kernels = fuse_moe_routing(ops, facts, kernels)
    applied = tuple(n for n in PASS_NAMES if n not in off)
    found = _CACHE[key] = build_structure(ops, facts, formulas, kernels, applied)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found


def op_work(ops: tuple[RawOp, ...], st: Structure, i: int, facts_of_model) -> Work:
    """Per-op work of op `i` at this trace's shapes, after the enabled rewrites."""
    op = ops[i]
    w = st.formulas[i](op)
    for rewrite in st.rewrites.get(i, ()):
        w = rewrite(op, w, facts_of_model)
    return w


__all__ = ["PASSES", "PASS_NAMES", "LoweringPass", "Structure", "check_passes", "op_work",
           "structure"]
