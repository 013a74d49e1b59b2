"""Inference at scale: time to first token, time per output token, throughput, on a plan.

A request batch of B sequences with I prompt tokens generates O tokens: the prefill (one
forward over B x I tokens) gives the first token, then O - 1 decode steps run with KV caches of
I .. I + O - 2 tokens. A decode step's time is taken as linear in the cache length between the
first and the last step (`decode_start`, `decode_end`), which is exact for its KV reads:
    e2e = ttft + (O - 1) x (t(start) + t(end)) / 2,   tpot = (e2e - ttft) / (O - 1).
Each forward runs its pipeline stages one after the other (the tokens of a step cross every
stage) with p2p sends between them; tensor parallelism all-reduces each block's output; expert
parallelism beyond the TP group adds an all-to-all dispatch and combine per MoE layer. `dp`
replicas each serve their own batch of B. Throughput = dp x B x O / e2e (output tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwspecs.schema import System
from simulator.comm.costs import collective_costs, collective_time_s
from simulator.core.cost import CostOptions, CostSummary, summarize
from simulator.core.distinct import sharded
from simulator.core.efficiency import EfficiencyProfile
from simulator.core.memory import Footprint
from simulator.core.precision import Precision
from simulator.core.roofline import price
from simulator.core.simulate import resolve_profile
from simulator.parallel.pipeline import per_stage
from simulator.parallel.plan import Plan, check_plan
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec
from simulator.training.memory import param_slots, stage_params_per_gpu
from workloads.op import ModelFacts, Phase, Workload


@dataclass(frozen=True)
class InferOptions:
    precision: Precision = field(default_factory=Precision)
    ideal: bool = False
    profile: EfficiencyProfile | None = None
    cost: CostOptions = field(default_factory=CostOptions)
    tp_plan: Mapping[str, str] | None = None


@dataclass(frozen=True)
class InferenceWorkloads:
    """The traced steps of one request batch (see the module doc)."""

    prefill: Workload         # batch B, seq I
    decode_start: Workload    # batch B, one token, cache of I
    decode_end: Workload      # batch B, one token, cache of I + O - 2 (or I)
    output_len: int

    def __post_init__(self) -> None:
        if self.prefill.phase is not Phase.PREFILL or self.decode_start.phase is not \
                Phase.DECODE or self.decode_end.phase is not Phase.DECODE:
            raise ValueError("inference needs a prefill workload and two decode workloads")
        if self.output_len < 1:
            raise ValueError(f"output length must be at least 1 token, not {self.output_len}")


def decode_context(input_len: int, output_len: int) -> int:
    """The mean cache length over the O - 1 decode steps (I .. I + O - 2): one decode workload
    traced there stands for them all, since a step's time is linear in the cache length."""
    return input_len + max(output_len - 2, 0) // 2


@dataclass(frozen=True)
class StepTime:
    time_s: float
    comm_s: float          # TP, EP and p2p communication inside time_s
    busy_s: float          # kernel time bound by compute or memory (for power)


@dataclass(frozen=True)
class InferenceReport:
    model: str
    system: str
    plan: Plan
    batch: int
    input_len: int
    output_len: int
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    prefill_comm_s: float
    decode_comm_s: float          # per decode step, averaged
    footprint: Footprint
    cost: CostSummary             # over the whole request (output tokens)
    prefill_cost: CostSummary     # the prefill alone (input tokens)

    @property
    def gpus(self) -> int:
        return self.plan.gpus

    @property
    def tokens_per_s(self) -> float:
        return self.plan.dp * self.batch * self.output_len / self.e2e_latency_s

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.tokens_per_s / self.gpus

    @property
    def feasible(self) -> bool:
        return self.footprint.feasible

    @property
    def memory_bytes_per_gpu(self) -> float:
        return self.footprint.total_bytes

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model, "system": self.system, "plan": self.plan.as_dict(),
            "gpus": self.gpus, "batch": self.batch, "input_len": self.input_len,
            "output_len": self.output_len, "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
            "e2e_latency_s": self.e2e_latency_s, "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "prefill_comm_s": self.prefill_comm_s, "decode_comm_s": self.decode_comm_s,
            "memory_bytes_per_gpu": self.memory_bytes_per_gpu,
            "memory_capacity_bytes": self.footprint.capacity_bytes,
            "memory_breakdown": self.footprint.as_dict(), "feasible": self.feasible,
            "power_w": self.cost.power_w, "energy_j": self.cost.energy_j,
            "usd_per_hour": self.cost.usd_per_hour,
            "usd_per_1m_output_tokens": self.cost.usd_per_1m_tokens,
            "usd_per_1m_input_tokens": self.prefill_cost.usd_per_1m_tokens,
        }


def step_time(w: Workload, system: System, plan: Plan, options: InferOptions,
              profile: EfficiencyProfile) -> StepTime:
    """One forward step (prefill or decode) of the whole batch through every stage."""
    r = roles_of(w, options.tp_plan)
    d = sharded(w, r, ShardSpec(tp=plan.tp, ep=plan.ep,
                                expert_imbalance=plan.expert_imbalance)).distinct
    # Each distinct kernel priced once, then every kernel in order (sums as over all rows).
    t = price(d.ops, system.device, profile, w.dtype, options.precision)
    layers, pp = w.model.layers, plan.pp
    compute = float(per_stage(np.bincount(r.slot, t.time_s[d.inverse], layers + 2), layers,
                              pp).sum())
    comm = step_comm_s(w, r, system, plan, options.precision, profile)
    busy = float(np.maximum(t.compute_s, t.memory_s)[d.inverse].sum()) / pp
    return StepTime(time_s=compute + comm, comm_s=comm, busy_s=busy)


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


def _footprint(ws: InferenceWorkloads, system: System, plan: Plan, options: InferOptions
               ) -> Footprint:
    w, p = ws.decode_end, options.precision
    facts = w.model
    weights = weight_bytes_per_gpu(facts, plan, p)
    # The cache at its fullest: I + O tokens per sequence, at what a serving stack keeps per
    # token (K and V of the KV heads, or the MLA latent; the traced cache where unknown).
    cached = w.batch * (w.context + w.seq)
    per_token = facts.kv_bytes_per_token or (w.kv_cache_bytes / cached if cached else 0.0)
    tokens = w.batch * (ws.prefill.seq + ws.output_len)
    kv = tokens * per_token * p.kv_cache.bits / w.dtype.bits / kv_split(facts, plan)
    a = sharded(ws.prefill, roles_of(ws.prefill, options.tp_plan),
                ShardSpec(tp=plan.tp, ep=plan.ep)).arrays
    # NB: activations are the largest prefill kernel's inputs and outputs, freed right after.
    act = float(((a.act_read_bytes + a.act_write_bytes).max(initial=0.0))
                * p.activations.bits / ws.prefill.dtype.bits)
    return Footprint(weights_bytes=weights, kv_cache_bytes=kv, activation_bytes=act,
                     gradient_bytes=0.0, optimizer_bytes=0.0,
                     capacity_bytes=system.device.mem_capacity_bytes)


def simulate_inference(ws: InferenceWorkloads, system: System, plan: Plan,
                       options: InferOptions | None = None) -> InferenceReport:
    options = options or InferOptions()
    w = ws.prefill
    check_plan(plan, w.model, system.num_devices, w.seq, training=False)
    if ws.decode_start.batch != w.batch or ws.decode_end.batch != w.batch:
        raise ValueError("the prefill and decode workloads must have the same batch")
    profile = resolve_profile(system.device, options)
    pre = step_time(w, system, plan, options, profile)
    start = step_time(ws.decode_start, system, plan, options, profile)
    end = step_time(ws.decode_end, system, plan, options, profile) \
        if ws.decode_end is not ws.decode_start else start
    steps = ws.output_len - 1
    tpot = (start.time_s + end.time_s) / 2
    e2e = pre.time_s + steps * tpot
    busy = pre.busy_s + steps * (start.busy_s + end.busy_s) / 2
    device = system.device
    out_tokens = plan.dp * w.batch * ws.output_len
    cost = summarize(device, e2e, min(busy, e2e), out_tokens, options.cost, plan.gpus)
    prefill_cost = summarize(device, pre.time_s, min(pre.busy_s, pre.time_s),
                             plan.dp * w.tokens, options.cost, plan.gpus)
    return InferenceReport(
        model=w.model.name, system=system.name, plan=plan, batch=w.batch, input_len=w.seq,
        output_len=ws.output_len, ttft_s=pre.time_s, tpot_s=tpot if steps else start.time_s,
        e2e_latency_s=e2e, prefill_comm_s=pre.comm_s,
        decode_comm_s=(start.comm_s + end.comm_s) / 2,
        footprint=_footprint(ws, system, plan, options), cost=cost, prefill_cost=prefill_cost)
