"""Inference at scale: time to first token, time per output token, throughput, on a plan.

A request batch of B sequences with I prompt tokens generates O tokens: the prefill (one
forward over B x I tokens) gives the first token, then O - 1 decode steps run with KV caches of
I .. I + O - 2 tokens. A decode step's time is taken as linear in the cache length between the
first and the last step (`decode_start`, `decode_end`), which is exact for its KV reads:
    e2e = ttft + (O - 1) x (t(start) + t(end)) / 2,   tpot = (e2e - ttft) / (O - 1).
Each step is `inference.step.step_times`. `dp` replicas each serve their own batch of B.
Throughput = dp x B x O / e2e (output tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwspecs.schema import System
from simulator.core.cost import CostSummary, cost_columns
from simulator.core.memory import Footprint, batch_fit
from simulator.core.metrics import Metrics
from simulator.core.options import Options
from simulator.core.pricing import dominant_bound
from simulator.inference.step import (
    StepTimes,
    kv_split,
    steps_times,
    weight_bytes_per_gpu,
)
from simulator.parallel.plan import Plan, check_plan
from simulator.parallel.roles import roles_of
from simulator.parallel.sharding import ShardSpec
from simulator.parallel.shards import sharded
from workloads.op import Phase, Workload


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
    metrics: Metrics              # the shared vocabulary over the whole request

    @property
    def gpus(self) -> int:
        return self.plan.gpus

    @property
    def tokens_per_s(self) -> float:
        return self.metrics.tokens_per_s

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
            "output_len": self.output_len, **self.metrics.as_dict(),
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
            "e2e_latency_s": self.e2e_latency_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "prefill_comm_s": self.prefill_comm_s, "decode_comm_s": self.decode_comm_s,
            "memory_bytes_per_gpu": self.memory_bytes_per_gpu,
            "memory_breakdown": self.footprint.as_dict(),
            "usd_per_1m_output_tokens": self.cost.usd_per_1m_tokens,
            "usd_per_1m_input_tokens": self.prefill_cost.usd_per_1m_tokens,
        }


def _footprint(ws: InferenceWorkloads, system: System, plan: Plan, options: Options
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
    s = sharded(ws.prefill, roles_of(ws.prefill, options.tp_plan),
                ShardSpec(tp=plan.tp, ep=plan.ep, attn_dp=plan.attn_dp))
    # NB: activations are the largest prefill kernel's inputs and outputs, freed right after.
    act = s.transient_act_bytes * p.activations.bits / ws.prefill.dtype.bits
    return Footprint(weights_bytes=weights, kv_cache_bytes=kv, activation_bytes=act,
                     gradient_bytes=0.0, optimizer_bytes=0.0,
                     capacity_bytes=system.device.mem_capacity_bytes)


def simulate_inference(ws: InferenceWorkloads, system: System, plan: Plan,
                       options: Options | None = None) -> InferenceReport:
    options = options or Options()
    w = ws.prefill
    check_plan(plan, w.model, system.num_devices, w.seq, training=False)
    if ws.decode_start.batch != w.batch or ws.decode_end.batch != w.batch:
        raise ValueError("the prefill and decode workloads must have the same batch")
    profile = options.profile_for(system.device)
    if ws.decode_end is ws.decode_start:
        pre, start = steps_times((w, ws.decode_start), system, plan, options, profile)
        end = start
    else:
        pre, start, end = steps_times((w, ws.decode_start, ws.decode_end), system, plan,
                                      options, profile)
    steps = ws.output_len - 1
    tpot = float(start.time_s[0] + end.time_s[0]) / 2
    ttft = float(pre.time_s[0])
    e2e = ttft + steps * tpot
    busy = float(pre.busy_s[0]) + steps * float(start.busy_s[0] + end.busy_s[0]) / 2
    device = system.device
    out_tokens = plan.dp * w.batch * ws.output_len
    # The whole request (output tokens) and its prefill alone (input tokens), side by side.
    costs = cost_columns(device, np.array([e2e, ttft]),
                         np.array([min(busy, e2e), min(float(pre.busy_s[0]), ttft)]),
                         np.array([out_tokens, plan.dp * w.tokens]), options.cost, plan.gpus)
    cost, prefill_cost = costs.row(0), costs.row(1)
    fp = _footprint(ws, system, plan, options)
    per_seq = (fp.kv_cache_bytes + fp.activation_bytes) / max(w.batch, 1)
    return InferenceReport(
        model=w.model.name, system=system.name, plan=plan, batch=w.batch, input_len=w.seq,
        output_len=ws.output_len, ttft_s=ttft, tpot_s=tpot if steps else float(start.time_s[0]),
        e2e_latency_s=e2e, prefill_comm_s=float(pre.comm_s[0]),
        decode_comm_s=float(start.comm_s[0] + end.comm_s[0]) / 2, footprint=fp,
        cost=cost, prefill_cost=prefill_cost,
        metrics=_metrics(pre, start, end, steps, plan, e2e, out_tokens, fp, cost,
                         batch_fit(fp.weights_bytes, per_seq, fp.capacity_bytes)))


def _metrics(pre: StepTimes, start: StepTimes, end: StepTimes, steps: int, plan: Plan,
             e2e: float, tokens: int, fp: Footprint, cost: CostSummary, fits: int) -> Metrics:
    """The request's metrics: the prefill plus `steps` decode steps at the mean of the two."""
    def total(p: np.ndarray, s: np.ndarray, e: np.ndarray):
        return p[0] + steps * (s[0] + e[0]) / 2

    copies = plan.tp * plan.attn_dp * plan.dp   # GPUs that each run one share of every kernel
    return Metrics(
        time_s=e2e, compute_s=float(total(pre.compute_s, start.compute_s, end.compute_s)),
        memory_s=float(total(pre.memory_s, start.memory_s, end.memory_s)),
        overhead_s=float(total(pre.overhead_s, start.overhead_s, end.overhead_s)),
        recompute_s=0.0, comm_s=float(total(pre.comm_s, start.comm_s, end.comm_s)),
        bound=str(dominant_bound(total(pre.bound_s, start.bound_s, end.bound_s))),
        flops=(pre.flops + steps * (start.flops + end.flops) / 2) * copies,
        bytes=(pre.bytes + steps * (start.bytes + end.bytes) / 2) * copies,
        memory_bytes=fp.total_bytes, memory_capacity_bytes=fp.capacity_bytes,
        feasible=fp.feasible, tokens=tokens, tokens_per_s=tokens / e2e,
        power_w=cost.power_w, energy_j=cost.energy_j, j_per_token=cost.j_per_token,
        usd_per_hour=cost.usd_per_hour, usd_per_1m_tokens=cost.usd_per_1m_tokens, mfu=None,
        max_batch=fits)
