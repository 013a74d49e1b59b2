"""One forward step (a prefill or a decode step) of a batch on a parallel plan, for one system
or V spec variants of it at once.

Each forward runs its pipeline stages one after the other (the tokens of a step cross every
stage), so its kernel time is one GPU's share of every kernel, summed over all stages; p2p
sends join the stages; tensor parallelism all-reduces each block's output; expert parallelism
whose group holds different tokens (attention-DP groups, or DP ranks beyond the TP group) adds
an all-to-all dispatch and combine per MoE layer: each GPU sends its own tokens' routed rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwspecs.schema import System
from simulator.comm.costs import (
    all_reduce_times,
    collective_overhead_s,
    collective_time_s,
    collective_times,
)
from simulator.core.arrays import OpArrays
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.pricing import BOUNDS, price
from simulator.core.profile import EfficiencyProfile
from simulator.core.variants import Variants
from simulator.parallel.params import max_stage_params
from simulator.parallel.pipeline import stage_layers
from simulator.parallel.plan import Plan
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec
from simulator.parallel.shards import Sharded, sharded
from workloads.op import ModelFacts, Workload

_BOUND_CODES = np.arange(len(BOUNDS))[:, None, None]


@dataclass(frozen=True)
class StepTimes:
    """One step on one GPU of the plan, as (V,) arrays (one row per variant)."""

    time_s: np.ndarray
    comm_s: np.ndarray        # TP, EP and p2p communication inside time_s
    busy_s: np.ndarray        # kernel time bound by compute or memory, per stage (for power)
    compute_s: np.ndarray     # kernel time by bound, through every stage
    memory_s: np.ndarray
    overhead_s: np.ndarray
    bound_s: np.ndarray       # (V, 3): kernel time held by each bound (`BOUNDS` order)
    flops: float              # one GPU's share of every kernel (dequantization included)
    bytes: float

    def row(self, i: int) -> StepTimes:
        return StepTimes(*(x[i:i + 1] for x in (
            self.time_s, self.comm_s, self.busy_s, self.compute_s, self.memory_s,
            self.overhead_s, self.bound_s)), self.flops, self.bytes)


def step_shards(w: Workload, plan: Plan, options: Options) -> tuple[OpRoles, Sharded]:
    r = roles_of(w, options.tp_plan)
    return r, sharded(w, r, shard_spec(plan))


def shard_spec(plan: Plan) -> ShardSpec:
    """One GPU's share of an inference step under `plan`."""
    return ShardSpec(tp=plan.tp, ep=plan.ep, expert_imbalance=plan.expert_imbalance,
                     attn_dp=plan.attn_dp)


def step_times(w: Workload, system: System, plan: Plan, options: Options,
               profile: EfficiencyProfile, variants: Variants | None = None) -> StepTimes:
    """The step on `system` (one row), or on each variant of it (V rows)."""
    return steps_times((w,), system, plan, options, profile, variants)[0]


def steps_times(ws: tuple[Workload, ...], system: System, plan: Plan, options: Options,
                profile: EfficiencyProfile, variants: Variants | None = None
                ) -> list[StepTimes]:
    """Several steps (a request's prefill and decode steps) priced in one pricing-core call:
    their distinct kernels side by side, summed per step."""
    parts = [step_shards(w, plan, options) for w in ws]
    joint = _joint(ws[0], tuple(s for _, s in parts))
    t = price(joint.ops, system.device, profile, ws[0].dtype, options.precision, variants)
    by_bound = np.where(t.bound == _BOUND_CODES, t.time_s, 0.0)               # (3, V, u)
    per_kernel = np.concatenate([np.stack([t.time_s, t.busy_s, t.compute_s, t.memory_s,
                                           t.overhead_s]), by_bound])
    sums = np.add.reduceat(per_kernel * joint.counts, joint.starts, axis=-1)   # (8, V, S)
    work = np.add.reduceat(np.stack([t.flops, t.bytes]) * joint.counts, joint.starts, axis=-1)
    out = []
    for i, (w, (r, _)) in enumerate(zip(ws, parts, strict=True)):
        if variants is None:
            comm = np.array([step_comm_s(w, r, system, plan, options.precision, profile)])
        else:
            comm = per_link(variants, lambda k, w=w, r=r: step_comm_s(
                w, r, system.scaled(link=k), plan, options.precision, profile))
        time, busy, compute, memory, overhead = sums[:5, :, i]
        out.append(StepTimes(time_s=time + comm, comm_s=comm, busy_s=busy / plan.pp,
                             compute_s=compute, memory_s=memory, overhead_s=overhead,
                             bound_s=sums[5:, :, i].T, flops=float(work[0, i]),
                             bytes=float(work[1, i])))
    return out


@dataclass(frozen=True)
class _Joint:
    shards: tuple[Sharded, ...]
    ops: OpArrays           # every step's distinct kernels, one step after the other
    counts: np.ndarray      # kernels each row stands for
    starts: np.ndarray      # first row of each step


def _joint(first: Workload, shards: tuple[Sharded, ...]) -> _Joint:
    """The steps' distinct kernels side by side, kept by the first workload (checked by
    identity: the shardings are the workloads' own)."""
    key = ("joint", tuple(id(s) for s in shards))
    hit = first.derived(key, lambda: _Joint(shards, *_concat(shards)))
    if any(a is not b for a, b in zip(hit.shards, shards, strict=True)):
        hit = _Joint(shards, *_concat(shards))
    return hit


def _concat(shards: tuple[Sharded, ...]) -> tuple[OpArrays, np.ndarray, np.ndarray]:
    ops = [s.distinct.ops for s in shards]
    counts = np.concatenate([s.distinct.counts for s in shards]).astype(float)
    starts = np.cumsum([0] + [len(o) for o in ops[:-1]])
    return OpArrays.concat(ops), counts, starts


def per_link(variants: Variants, comm) -> np.ndarray:
    """comm(link factor) for every variant, once per distinct link factor."""
    values, inverse = np.unique(variants.link, return_inverse=True)
    times = np.array([comm(float(k)) for k in values])
    return times[inverse.reshape(-1)]


def step_comm_s(w: Workload, r: OpRoles, system: System, plan: Plan, precision: Precision,
                profile: EfficiencyProfile) -> float:
    """A forward step's communication: TP all-reduces, EP dispatch and combine where the EP
    group holds different tokens, pipeline sends (each with one kernel overhead per
    collective)."""
    scale = precision.activations.bits / w.dtype.bits
    comm = 0.0
    sizes, calls = r.tp_fwd_sizes
    if plan.tp > 1 and sizes.size:
        comm += float(all_reduce_times(system, sizes * scale, plan.tp, profile) @ calls)
    sizes, calls = r.ep_sizes
    if plan.dispatches and sizes.size:
        # Each GPU sends the routed rows of its own tokens (the traced batch over the GPUs of
        # one stage), the busiest rank `expert_imbalance` times the mean, over the EP group.
        group = max(plan.ep, plan.stage_gpus)
        sizes = sizes * scale / plan.stage_gpus * plan.expert_imbalance
        t = collective_times(system, "all_to_all", sizes, group, profile=profile)
        comm += 2 * float(t @ calls + collective_overhead_s(profile, "all_to_all", group)
                          * calls.sum())
    if plan.pp > 1:
        boundary = w.tokens * w.model.hidden_size * precision.activations.bytes
        hop = collective_time_s(system, "send_recv", boundary, plan.pp,
                                plan.stage_gpus * plan.dp, profile=profile).time_s
        comm += (plan.pp - 1) * (hop + collective_overhead_s(profile, "send_recv"))
    return comm


def weight_bytes_per_gpu(facts: ModelFacts, plan: Plan, precision: Precision) -> float:
    """The weights one GPU of the fullest pipeline stage holds."""
    return max_stage_params(facts, plan.tp, plan.pp, plan.ep, plan.attn_dp, plan.pp_layers) \
        * precision.weight_bytes_per_element()


def kv_split(facts: ModelFacts, plan: Plan) -> float:
    """A replica's KV cache over what the fullest GPU holds of it: the KV heads a TP group
    splits (none of an MLA latent, which every TP rank keeps whole: vLLM, SGLang and
    TensorRT-LLM replicate it), times the attention-DP groups (each holds its own sequences),
    times the layers over those of the fullest pipeline stage (pp for an even split)."""
    heads = 1 if facts.latent_kv else min(plan.tp, facts.kv_heads or plan.tp)
    layers = max(facts.layers, 1)
    fullest = max(stage_layers(layers, plan.pp, plan.pp_layers))
    stages = plan.pp if layers % plan.pp == 0 and plan.pp_layers is None else layers / fullest
    return heads * plan.attn_dp * stages
