"""One forward step (a prefill or a decode step) of a batch on a parallel plan, for one system
or V spec variants of it at once.

Each forward runs its pipeline stages one after the other (the tokens of a step cross every
stage), so its kernel time is one GPU's share of every kernel, summed over all stages; p2p
sends join the stages; tensor parallelism all-reduces each block's output; expert parallelism
beyond the TP group adds an all-to-all dispatch and combine per MoE layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwspecs.schema import System
from simulator.comm.costs import collective_costs, collective_time_s
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.pricing import bound_shares, price, weighted_sum
from simulator.core.profile import EfficiencyProfile
from simulator.core.variants import Variants
from simulator.parallel.params import param_slots, stage_params_per_gpu
from simulator.parallel.plan import Plan
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec
from simulator.parallel.shards import Sharded, sharded
from workloads.op import ModelFacts, Workload


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
    return r, sharded(w, r, ShardSpec(tp=plan.tp, ep=plan.ep,
                                      expert_imbalance=plan.expert_imbalance))


def step_times(w: Workload, system: System, plan: Plan, options: Options,
               profile: EfficiencyProfile, variants: Variants | None = None) -> StepTimes:
    """The step on `system` (one row), or on each variant of it (V rows)."""
    r, s = step_shards(w, plan, options)
    d = s.distinct
    t = price(d.ops, system.device, profile, w.dtype, options.precision, variants)
    counts = d.counts.astype(float)
    kernels = weighted_sum(t.time_s, counts)
    if variants is None:
        comm = np.array([step_comm_s(w, r, system, plan, options.precision, profile)])
    else:
        comm = per_link(variants, lambda k: step_comm_s(
            w, r, system.scaled(link=k), plan, options.precision, profile))
    return StepTimes(time_s=kernels + comm, comm_s=comm,
                     busy_s=weighted_sum(t.busy_s, counts) / plan.pp,
                     compute_s=weighted_sum(t.compute_s, counts),
                     memory_s=weighted_sum(t.memory_s, counts),
                     overhead_s=weighted_sum(t.overhead_s, counts), bound_s=bound_shares(t, counts),
                     flops=float(weighted_sum(t.flops, counts)),
                     bytes=float(weighted_sum(t.bytes, counts)))


def per_link(variants: Variants, comm) -> np.ndarray:
    """comm(link factor) for every variant, once per distinct link factor."""
    values, inverse = np.unique(variants.link, return_inverse=True)
    times = np.array([comm(float(k)) for k in values])
    return times[inverse.reshape(-1)]


def step_comm_s(w: Workload, r: OpRoles, system: System, plan: Plan, precision: Precision,
                profile: EfficiencyProfile) -> float:
    """A forward step's communication: TP all-reduces, EP dispatch and combine beyond the TP
    group, pipeline sends (each with one kernel overhead per collective)."""
    scale = precision.activations.bits / w.dtype.bits
    overhead = profile.kernel_overhead_s
    comm = 0.0
    rows = np.flatnonzero(r.tp_fwd_bytes)
    if plan.tp > 1 and rows.size:
        sizes = r.tp_fwd_bytes[rows] * scale
        comm += float(collective_costs(system, "all_reduce", sizes, plan.tp).time_s.sum()
                      + overhead * rows.size)
    rows = np.flatnonzero(r.ep_bytes)
    if plan.ep > plan.tp and rows.size:
        sizes = r.ep_bytes[rows] * scale / plan.tp * plan.expert_imbalance
        comm += 2 * float(collective_costs(system, "all_to_all", sizes, plan.ep).time_s.sum()
                          + overhead * rows.size)
    if plan.pp > 1:
        boundary = w.tokens * w.model.hidden_size * precision.activations.bytes
        hop = collective_time_s(system, "send_recv", boundary, plan.pp,
                                plan.tp * plan.dp).time_s
        comm += (plan.pp - 1) * (hop + overhead)
    return comm


def weight_bytes_per_gpu(facts: ModelFacts, plan: Plan, precision: Precision) -> float:
    """The weights one GPU of the fullest pipeline stage holds."""
    return float(stage_params_per_gpu(param_slots(facts), facts.layers, plan).max()) \
        * precision.weight_bytes_per_element()


def kv_split(facts: ModelFacts, plan: Plan) -> int:
    """GPUs one sequence's KV cache is split over: the KV heads a TP group can split, times
    the pipeline stages."""
    return min(plan.tp, facts.kv_heads or plan.tp) * plan.pp
