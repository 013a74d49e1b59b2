"""Lowering passes that change what one op moves, not which ops there are.

- `kv_cache_in_place`: a KV-cache update (DynamicCache's `cat` of the old cache and the new
  K/V) becomes a write of the new K/V into a preallocated cache; the old cache is neither read
  nor copied. Attention still reads the whole cache.
- `embedding_gather`: an embedding reads the B*S rows it gathers, not its whole table.
- `moe_expected_experts`: a grouped GEMM over T routed tokens reads the weights of the experts
  those tokens pick, E*(1-(1-k/E)^T) of E in expectation, not all E.
"""

from __future__ import annotations

from workloads.op import ModelFacts, OpKind, TensorRole
from workloads.ops.work import Work, numel
from workloads.raw import RawOp


def is_cache_concat(op: RawOp) -> bool:
    return bool(op.attrs.get("cache_update")) and op.target.startswith("aten.cat.")


def kv_cache_in_place(op: RawOp, w: Work, facts: ModelFacts) -> Work:
    reads = list(w.in_bytes)
    new = 0.0
    for j, t in enumerate(op.inputs):
        if t.role is TensorRole.KV_CACHE:
            reads[j] = 0.0
        else:
            new += numel(t.shape) * op.outputs[0].dtype.bytes
    return w._replace(in_bytes=tuple(reads), out_bytes=(new,))


def embedding_gather(op: RawOp, w: Work, facts: ModelFacts) -> Work:
    rows = w.attrs["rows"] * w.attrs["row_bytes"]
    return w._replace(in_bytes=(min(w.in_bytes[0], rows),) + w.in_bytes[1:])


def expected_active(experts: int, top_k: int, tokens: float) -> float:
    """Expected number of distinct experts T tokens pick, each choosing k of E uniformly."""
    # NB: uniform, independent routing; real routers are skewed, which touches fewer experts.
    if experts <= 0 or top_k <= 0 or top_k >= experts:
        return float(experts)
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def moe_expected_experts(op: RawOp, w: Work, facts: ModelFacts) -> Work:
    k = facts.experts_per_token
    if k <= 0:
        return w
    groups = w.attrs["groups"]
    active = expected_active(groups, k, w.attrs["routed_rows"] / k)
    scale = active / groups if groups else 1.0
    # the per-expert operands: the 3-D weights read, or the 3-D weight gradient written
    # (2-D x 2-D form); activations are per routed row already
    reads = tuple(b * scale if len(t.shape) == 3 and t.role is TensorRole.WEIGHT else b
                  for t, b in zip(op.inputs, w.in_bytes, strict=True))
    per_expert_out = all(len(t.shape) == 2 for t in op.inputs[:2])
    writes = tuple(b * scale if per_expert_out and len(t.shape) == 3 else b
                   for t, b in zip(op.outputs, w.out_bytes, strict=True))
    return w._replace(in_bytes=reads, out_bytes=writes, attrs={**w.attrs, "active_groups": active})


def applies_to(name: str, op: RawOp, kind: OpKind) -> bool:
    """Whether rewrite `name` may change op (decided once per trace structure)."""
    if name == "kv_cache_in_place":
        return is_cache_concat(op)
    if name == "embedding_gather":
        return kind is OpKind.EMBEDDING and op.target.startswith("aten.embedding.")
    return kind is OpKind.GROUPED_GEMM


# name -> rewrite(op, work, model facts) -> work, applied to the ops `applies_to` picks
REWRITES = {
    "kv_cache_in_place": kv_cache_in_place,
    "embedding_gather": embedding_gather,
    "moe_expected_experts": moe_expected_experts,
}
