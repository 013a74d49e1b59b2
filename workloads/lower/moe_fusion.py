"""`moe_fused_routing`: an MoE layer's routing runs as the few kernels serving engines fuse it
into, not the dozen small ops the Hugging Face code traces.

The traced MoE block (the parent module of its grouped-GEMM experts, `...mlp`) runs the
router GEMM, then softmax, top-k, normalization, sort, histogram, cumulative sum and index
gathers (each a kernel launch), the expert grouped GEMMs with the activation between them,
then the scatter back into token order and the weighted sum. Engines (TensorRT-LLM's fused
MoE, vLLM's and SGLang's fused_moe) run it as: router GEMM, one routing kernel (top-k and the
permute of tokens to their experts), the gated up-projection with the activation in its
epilogue, the down-projection, and one combine kernel (un-permute and weighted sum).

So, inside one MoE block (same pass and layer):
- a pointwise kernel right after a GEMM of the block, reading what that GEMM wrote, joins it
  as its epilogue (the activation between the expert GEMMs);
- every other run of consecutive non-GEMM kernels becomes one kernel of kind ROUTING, whose
  bytes are what the run reads from outside and writes for later kernels (as any fused
  kernel's) and whose fixed cost is the routing class's.

This is the layout `validation.fit.moe_layer` prices a measured MoE layer with.
"""

from __future__ import annotations

from workloads.lower.grouping import OPS, Kernel, OpFacts
from workloads.op import OpKind
from workloads.ops.work import Fuse
from workloads.raw import RawOp

_GEMMS = (OpKind.GEMM, OpKind.GROUPED_GEMM)


def moe_blocks(ops: tuple[RawOp, ...], facts: OpFacts) -> set[tuple]:
    """(pass, layer, block module) of every MoE block: the parents of grouped-GEMM modules."""
    return {(op.pass_, op.layer, op.module.rpartition(".")[0])
            for op, kind in zip(ops, facts.kinds, strict=True)
            if kind is OpKind.GROUPED_GEMM and "." in op.module}


def _block_of(op: RawOp, blocks: set[tuple]) -> tuple | None:
    module = op.module
    while module:
        key = (op.pass_, op.layer, module)
        if key in blocks:
            return key
        module = module.rpartition(".")[0]
    return None


def fuse_moe_routing(ops: tuple[RawOp, ...], facts: OpFacts,
                     kernels: list[Kernel]) -> list[Kernel]:
    blocks = moe_blocks(ops, facts)
    if not blocks:
        return kernels
    out: list[Kernel] = []
    run: Kernel | None = None          # the routing kernel being built
    run_block = None
    for k in kernels:
        head = k.members[0]
        block = _block_of(ops[head], blocks) if k.mode is OPS else None
        kind = facts.kinds[head]
        if block is None or kind is OpKind.VIEW:
            out.append(k)
            run = None
            continue
        if kind in _GEMMS:
            out.append(k)
            run = None
            continue
        prev = out[-1] if out else None
        if run is None and prev is not None and _is_epilogue(ops, facts, prev, k, block, blocks):
            prev.members.extend(k.members)
            continue
        if run is not None and run_block == block:
            run.members.extend(k.members)
            continue
        run = Kernel(list(k.members), OPS, kind=OpKind.ROUTING)
        run_block = block
        out.append(run)
    return out


def _is_epilogue(ops: tuple[RawOp, ...], facts: OpFacts, prev: Kernel, k: Kernel,
                 block: tuple, blocks: set[tuple]) -> bool:
    """`k` is pointwise and reads what the GEMM kernel just before it, in the same block,
    wrote."""
    gemm = prev.members[0]
    if facts.kinds[gemm] not in _GEMMS or _block_of(ops[gemm], blocks) != block:
        return False
    if any(facts.fuses[i] is not Fuse.POINTWISE for i in k.members):
        return False
    made = {b for i in prev.members for b in facts.out_bases[i]}
    return any(b in made for i in k.members for b in facts.in_bases[i])
