"""Apply a plan's sharding to a workload's arrays: one GPU's share of every kernel.

Vectorized over the op rows: columns of `OpArrays` are scaled, nothing is re-traced. The
classification comes from `simulator.parallel.roles`; this module only does arithmetic.

- Tensor parallelism (tp) divides a split op's FLOPs; for a GEMM split along one dimension it
  shrinks exactly the two operands that hold that dimension (a column-parallel forward GEMM
  reads the whole input, a 1/tp slice of the weight and writes 1/tp of the output).
  K/V projections and the KV cache split at most `kv_heads` ways (further ranks hold copies).
- Sequence parallelism (sp) divides the token work of the replicated ops by tp.
- Context parallelism (cp) and the micro-batch scale the token dimension: `token_factor` is the
  per-rank micro-batch over the traced batch; cp divides it again (attention keeps its full
  key length: ring attention visits every K/V chunk).
- Attention data parallelism (attn_dp, inference): the replica's sequences are spread over
  attn_dp groups of tp GPUs; every kernel but the routed experts does 1/attn_dp of the
  replica's token work on each rank (weights whole per group, the KV cache of its own
  sequences only).
- Expert parallelism (ep): the experts are shared by a group of max(tp x attn_dp, ep) GPUs
  (`moe_group`; beyond one replica's GPUs, by ep / tp DP ranks), each holding 1/ep of the
  experts, each expert split moe_tp = group / ep ways along its intermediate dimension. A rank
  reads 1/group of the expert weights and does 1/group of the group's expert work (times the
  load-imbalance factor when ep > 1); its grouped GEMMs hold E/ep experts, each with every row
  routed to it and 1/moe_tp of its intermediate columns.
- An MLA latent cache is read and written whole by every TP rank (one latent per token that
  all heads read); a per-head batched GEMM (MLA's absorbed projections) splits its batch.
- ZeRO: the optimizer step of each rank covers 1/`optimizer_shards` of its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.core.arrays import KIND_CODE, OpArrays
from simulator.parallel.roles import DIM_K, DIM_M, DIM_N, ON_DIM, REPLICATED, WHOLE, OpRoles
from workloads.op import OpKind

_ATTN = KIND_CODE[OpKind.ATTENTION]
_GEMM = KIND_CODE[OpKind.GEMM]


@dataclass(frozen=True)
class ShardSpec:
    tp: int = 1
    sp: bool = False
    cp: int = 1
    ep: int = 1
    token_factor: float = 1.0        # per-rank micro-batch / traced batch
    expert_imbalance: float = 1.0
    attn_dp: int = 1                 # inference: attention data-parallel groups of tp GPUs
    optimizer_shards: int = 1        # ZeRO >= 1: dp x cp; else 1

    @property
    def key(self) -> tuple:
        return (self.tp, self.sp, self.cp, self.ep, self.token_factor, self.expert_imbalance,
                self.attn_dp, self.optimizer_shards)

    @property
    def moe_group(self) -> int:
        """GPUs that share one copy of the routed experts."""
        return max(self.tp * self.attn_dp, self.ep)

    @property
    def moe_tp(self) -> float:
        """Ways each expert is split along its intermediate dimension."""
        return self.moe_group / self.ep


def shard(a: OpArrays, r: OpRoles, s: ShardSpec) -> OpArrays:
    """One rank's share of every op (same rows, scaled columns)."""
    tp = float(s.tp)
    is_attn = a.kind == _ATTN
    split = r.tp_mode != REPLICATED
    d = np.where(split, np.where(is_attn, tp, np.minimum(tp, r.kv_cap)), 1.0)
    d_kv = np.where(split, np.minimum(tp, r.kv_cap), 1.0)
    if r.kv_replicated:
        d_kv = np.ones_like(d_kv)
    g = np.where(r.optimizer, 1.0, s.token_factor / s.cp / s.attn_dp)
    if s.sp and s.tp > 1:
        g = np.where(r.sp, g / tp, g)
    out = _generic(a, r, d, d_kv, g)
    plain = (a.kind == _GEMM) & (r.tok_dim > 0) & ~r.expert & ~r.optimizer
    _gemm(a, r, d, g, plain, out)
    if r.head_batched.any():
        rows = r.head_batched
        out["n"] = np.where(rows, a.n * np.where(r.tok_dim == DIM_N, g, 1.0), out["n"])
        out["batch"] = np.where(rows, a.batch / d, out["batch"])
    _attention(a, r, s, is_attn, out)
    _experts(a, r, s, out)
    _optimizer(a, r, s, d, out)
    return OpArrays(kind=a.kind, compute_dtype=a.compute_dtype, layer=a.layer, pass_=a.pass_,
                    names=a.names, **out)


def _generic(a: OpArrays, r: OpRoles, d, d_kv, g) -> dict[str, np.ndarray]:
    """Every op: token columns times g, everything split by d (weights per token only for
    embedding lookups; parameter-sized results, such as gradient accumulation, not at all)."""
    g_read = np.where(r.fixed, 1.0, g)
    g_write = np.where(r.fixed | r.fixed_write, 1.0, g)
    return {
        "flops": a.flops * g_read / d,
        "weight_read_bytes": a.weight_read_bytes * np.where(r.embedding, g_read, 1.0) / d,
        "act_read_bytes": a.act_read_bytes * g_read / d,
        "act_write_bytes": a.act_write_bytes * g_write / d,
        "kv_read_bytes": a.kv_read_bytes * g / d_kv,
        "kv_write_bytes": a.kv_write_bytes * g / d_kv,
        "other_bytes": a.other_bytes / d,
        "weight_elements": a.weight_elements / d,
        "m": a.m * g, "n": a.n / d, "k": a.k.copy(), "batch": a.batch.copy(),
        # A rank's query heads per KV head: heads split d ways, KV heads d_kv ways.
        "group": np.maximum(a.group * d_kv / d, 1.0),
    }


def _gemm(a: OpArrays, r: OpRoles, d, g, rows: np.ndarray, out: dict) -> None:
    """A GEMM's operands A[m,k], B[k,n], C[m,n]: each scales by its dims' factors."""
    whole = np.where(r.tp_mode == WHOLE, d, 1.0)
    mult = {}
    for code in (DIM_M, DIM_N, DIM_K):
        by_tokens = np.where(r.tok_dim == code, g, 1.0)
        by_tp = np.where((r.tp_mode == ON_DIM) & (r.tp_dim == code), d, 1.0)
        mult[code] = by_tokens / by_tp
    fa, fb, fc = mult[DIM_M] * mult[DIM_K], mult[DIM_K] * mult[DIM_N], mult[DIM_M] * mult[DIM_N]
    size_a, size_b = a.m * a.k, a.k * a.n
    has_weight = a.weight_read_bytes > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = np.where(size_a + size_b > 0, (fa * size_a + fb * size_b)
                         / np.maximum(size_a + size_b, 1.0), fa)
    act_read = np.where(has_weight, fa, mixed)
    updates = {
        "flops": a.flops * mult[DIM_M] * mult[DIM_N] * mult[DIM_K] / whole,
        "weight_read_bytes": a.weight_read_bytes * fb / whole,
        "weight_elements": a.weight_elements * fb / whole,
        "act_read_bytes": a.act_read_bytes * act_read / whole,
        "act_write_bytes": a.act_write_bytes * fc / whole,
        "other_bytes": a.other_bytes * fc / whole,
        "kv_read_bytes": a.kv_read_bytes * fc / whole,
        "kv_write_bytes": a.kv_write_bytes * fc / whole,
        "m": a.m * mult[DIM_M], "n": a.n * mult[DIM_N] / whole, "k": a.k * mult[DIM_K],
    }
    for name, value in updates.items():
        out[name] = np.where(rows, value, out[name])


def _attention(a: OpArrays, r: OpRoles, s: ShardSpec, rows: np.ndarray, out: dict) -> None:
    """Heads split by tp (batch x heads column), queries by cp; keys stay whole."""
    out["m"] = np.where(rows, a.m / s.cp, out["m"])
    out["n"] = np.where(rows, a.n, out["n"])
    out["batch"] = np.where(rows, a.batch * s.token_factor / s.attn_dp / s.tp, out["batch"])


def _experts(a: OpArrays, r: OpRoles, s: ShardSpec, out: dict) -> None:
    rows = r.expert & ~r.optimizer
    if not rows.any():
        return
    imbalance = s.expert_imbalance if s.ep > 1 else 1.0
    group, moe_tp = s.moe_group, s.moe_tp
    # The group's tokens over the traced ones: more than one replica's when EP spans DP ranks.
    tokens = s.token_factor / s.cp * max(1.0, s.ep / (s.tp * s.attn_dp))
    work = tokens / group * imbalance
    weights = 1.0 / group
    local_groups = np.maximum(a.batch / s.ep, 1.0)
    split_n = ~r.expert_split_k      # the intermediate dimension: n (up) or k (down)
    updates = {
        "flops": a.flops * work,
        "act_read_bytes": a.act_read_bytes * work,
        "act_write_bytes": a.act_write_bytes * work,
        "weight_read_bytes": a.weight_read_bytes * weights,
        "weight_elements": a.weight_elements * weights,
        "other_bytes": a.other_bytes * weights,
        # NB: rows per local expert grow as experts spread out; flops stay m x n x k x groups.
        "m": a.m * work * moe_tp * a.batch / local_groups,
        "n": np.where(split_n, a.n / moe_tp, a.n), "k": np.where(split_n, a.k, a.k / moe_tp),
        "batch": local_groups,
    }
    for name, value in updates.items():
        out[name] = np.where(rows, value, out[name])


def _optimizer(a: OpArrays, r: OpRoles, s: ShardSpec, d, out: dict) -> None:
    """The optimizer touches each parameter shard a rank owns; ZeRO splits it further."""
    rows = r.optimizer
    if not rows.any():
        return
    expert_split = float(s.moe_group)
    expert_shards = max(1.0, s.optimizer_shards / max(1, s.ep // s.tp))
    div = np.where(r.expert, expert_split * expert_shards, d * s.optimizer_shards)
    for name in ("flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
                 "other_bytes", "weight_elements"):
        out[name] = np.where(rows, getattr(a, name) / div, out[name])
