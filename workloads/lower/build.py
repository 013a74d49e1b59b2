"""From a raw trace to a `Workload`: lowered kernels as `Op`s, their data-dependency graph,
the activations training keeps for backward and the KV cache an inference step leaves.

A kernel's bytes are counted per tensor: each tensor it reads from outside is read once (the
most any of its ops reads of it), and a tensor it makes is written only if a later kernel
reads it, or nothing does (a result). A flash kernel made from an unfused attention call is
priced from its attention shape; an SDPA op with `flash_attention` off becomes its math kernels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hwspecs.dtypes import DType
from workloads.lower.fuse import op_work, structure
from workloads.lower.grouping import FLASH, UNFUSED
from workloads.lower.kernel_plan import KernelPlan, Structure, same_records
from workloads.lower.mla_absorb import mla_absorb
from workloads.lower.unfused_attention import scores_tensor, unfused_ops
from workloads.op import Op, OpKind, Pass, Phase, TensorRole, Workload
from workloads.ops.attention import flash_tensors, flops_of
from workloads.ops.work import Work, nbytes
from workloads.raw import RawOp


def build_workload(trace, disabled_passes: Iterable[str] = ()) -> Workload:
    """Lower `trace` (a `workloads.raw.RawTrace`) with every pass not disabled."""
    ops = trace.ops
    st = structure(ops, disabled_passes)
    facts = trace.facts
    works: list[Work | None] = [None] * len(ops)
    priced: dict[int, Op] = {}         # the first kernel of each class, at these shapes
    out: list[Op] = []
    for k, plan in enumerate(st.plans):
        if plan.mode is UNFUSED:
            out.extend(unfused_ops(ops[plan.head], op_work(ops, st, plan.head, facts)))
            continue
        if plan.mode is FLASH:
            out.append(_flash_op(ops, plan, trace.dtype))
            continue
        r = st.rep[k]
        ref = priced.get(r) if r != k else None
        if ref is not None and same_records(ops, plan.members, st.plans[r].members):
            head = ops[plan.head]
            # NB: copies share the first kernel's mappings and tensors; treat Ops as read-only.
            out.append(Op(ref.name, ref.kind, ref.inputs, ref.outputs, ref.flops,
                          ref.read_bytes, ref.write_bytes, ref.compute_dtype, head.module,
                          head.layer, head.pass_, ref.attrs))
            continue
        for i in plan.members:
            works[i] = op_work(ops, st, i, facts)
        op = _op(ops, works, plan)
        if r == k:
            priced[k] = op
        out.append(op)
    saved = _saved_bytes(ops, st, trace.dtype) if trace.phase is Phase.TRAIN else 0.0
    cache = float(sum(nbytes(ops[i].outputs[pos]) for i, pos in st.cache_slots))
    kernels, graph = tuple(out), st.graph
    if trace.phase is Phase.DECODE and "mla_absorb" in st.passes and trace.facts.latent_kv:
        kernels, graph = mla_absorb(kernels, graph)
    return Workload(model=trace.facts, phase=trace.phase, batch=trace.batch, seq=trace.seq,
                    context=trace.context, dtype=trace.dtype, ops=kernels, graph=graph,
                    passes=st.passes, saved_activation_bytes=saved, kv_cache_bytes=cache)


def _op(ops: tuple[RawOp, ...], works: list[Work], plan: KernelPlan) -> Op:
    ins, reads = [], {}
    for n, slots in enumerate(plan.reads):
        i, pos = slots[0]
        b = works[i].in_bytes[pos]
        if len(slots) > 1:
            for j, p in slots[1:]:
                if works[j].in_bytes[p] > b:
                    i, pos, b = j, p, works[j].in_bytes[p]
        if plan.caps and plan.caps[n] is not None:   # through a view: at most the base
            j, p, made = plan.caps[n]
            b = min(b, nbytes(ops[j].outputs[p] if made else ops[j].inputs[p]))
        if b:
            t = ops[i].inputs[pos]
            ins.append(t)
            reads[t.role] = reads.get(t.role, 0.0) + b
    outs, writes = [], {}
    for i, pos, mutated in plan.writes:
        w = works[i]
        if mutated:
            b = w.mutated_bytes[pos] if w.mutated_bytes else 0.0
            t = ops[i].inputs[pos]
        else:
            b, t = w.out_bytes[pos], ops[i].outputs[pos]
        if b:
            outs.append(t)
            writes[t.role] = writes.get(t.role, 0.0) + b
    members = plan.members
    flops = 0.0
    for i in members:
        flops += works[i].flops
    head, hw = ops[plan.head], works[plan.head]
    attrs = dict(hw.attrs)                  # a plain dict: workloads pickle (app caches)
    if len(members) > 1:
        attrs["fused_ops"] = len(members)
    return Op(plan.name, plan.kind, tuple(ins), tuple(outs), flops, reads, writes,
              hw.compute_dtype, head.module, head.layer, head.pass_, attrs)


def attention_facts(a: Mapping) -> dict:
    """Attention attrs from the tracer's logical attention facts on an op."""
    return {"batch": int(a["batch"]), "heads": int(a["heads"]), "kv_heads": int(a["kv_heads"]),
            "q_len": int(a["q_len"]), "kv_len": int(a["kv_len"]),
            "head_dim": int(a["head_dim"]), "v_head_dim": int(a["v_head_dim"]),
            "causal": bool(a["causal"]), "sliding_window": a.get("sliding_window")}


def _flash_op(ops: tuple[RawOp, ...], plan: KernelPlan, dtype: DType) -> Op:
    """One flash kernel for an attention call the trace ran as unfused math."""
    head = ops[plan.head]
    attrs = attention_facts(head.attrs)
    backward = head.pass_ is Pass.BACKWARD
    cache = any(ops[i].inputs[p].role is TensorRole.KV_CACHE for s in plan.reads for i, p in s)
    kv_role = TensorRole.KV_CACHE if cache else TensorRole.ACTIVATION
    ins, outs = flash_tensors(attrs, dtype, kv_role, backward)
    return Op("flash_attention_backward" if backward else "flash_attention", OpKind.ATTENTION,
              ins, outs, flops_of(attrs, backward), _by_role(ins), _by_role(outs), dtype,
              head.module, head.layer, head.pass_, {**attrs, "fused_ops": len(plan.members)})


def _by_role(tensors) -> dict[TensorRole, float]:
    out: dict[TensorRole, float] = {}
    for t in tensors:
        out[t.role] = out.get(t.role, 0.0) + nbytes(t)
    return out


def _saved_bytes(ops: tuple[RawOp, ...], st: Structure, dtype: DType) -> float:
    """Bytes of tensors forward kernels write that backward kernels read."""
    # NB: a saved tensor counts whole (no forward rewrite shrinks an activation).
    total = 0.0
    for i, pos, mutated in st.saved:
        total += nbytes(ops[i].inputs[pos] if mutated else ops[i].outputs[pos])
    for i in st.flash_forward_heads:          # a flash forward keeps its row log-sum-exp
        a = ops[i].attrs
        total += a["batch"] * a["heads"] * a["q_len"] * DType.FP32.bytes
    for i in st.unfused_forward_heads:        # unfused attention keeps the probabilities
        total += nbytes(scores_tensor(attention_facts(ops[i].attrs) if "batch" in ops[i].attrs
                                      else _sdpa_attrs(ops[i]), dtype))
    return total


def _sdpa_attrs(op: RawOp) -> Mapping:
    from workloads.ops import work_of

    return work_of(op).attrs


__all__ = ["attention_facts", "build_workload"]
