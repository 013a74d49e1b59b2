"""Training at scale: one optimizer step of a parallel plan on a multi-GPU system.

    prep = prepare(workload, system, Options())     # a train-phase workload (any batch)
    report = evaluate(prep, Plan(tp=8, pp=2, dp=4, micro_batch=1, global_batch=512))

The workload is one traced training step (forward, backward, optimizer) of `batch` sequences;
a plan's micro-batch scales its token dimension (`simulator.parallel.sharding`). Per micro-batch, each
pipeline stage runs its forward and backward kernels (and the recomputed forward), plus the
communication that does not hide behind them; the slowest stage sets the pipeline's pace, the
schedule adds its bubble, and the optimizer step and the exposed data-parallel communication
follow the flush.

MFU = model FLOPs per step / (step time x GPUs x dense matrix peak at the compute format, or
the 2:4-sparse peak with sparse weights);
model FLOPs are the traced forward + backward FLOPs (attention as the tracer counts it, causal
half), without recompute. HFU counts what the hardware runs: the recomputed forward and the
optimizer step too (once per replica, or once in all when ZeRO shards it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwspecs.schema import System
from simulator.core.cost import CostSummary, summarize, training_run
from simulator.core.memory import Footprint, Recompute
from simulator.core.metrics import Metrics
from simulator.core.options import Options
from simulator.core.variants import Variants
from simulator.parallel.pipeline import bubble_fraction, per_stage, pipeline_time_s
from simulator.parallel.plan import Plan, check_plan
from simulator.parallel.sharding import ShardSpec
from simulator.training.comm import plan_comm
from simulator.training.memory import footprint
from simulator.training.slots import Prepared
from workloads.op import Phase, Workload


@dataclass(frozen=True)
class TrainingReport:
    model: str
    system: str
    plan: Plan
    seq: int
    step_time_s: float
    breakdown_s: Mapping[str, float]      # where the step's time goes (critical stage)
    bubble_fraction: float
    model_flops: float                    # per step, all GPUs
    hardware_flops: float
    peak_flops_per_s: float               # per GPU
    footprint: Footprint                  # per GPU, fullest stage
    peak_stage: int
    cost: CostSummary
    train_tokens: float | None = None
    days: float | None = None
    usd: float | None = None

    @property
    def gpus(self) -> int:
        return self.plan.gpus

    @property
    def tokens_per_step(self) -> int:
        return self.plan.batch * self.seq

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.step_time_s

    @property
    def mfu(self) -> float:
        return self.model_flops / (self.step_time_s * self.gpus * self.peak_flops_per_s)

    @property
    def hfu(self) -> float:
        return self.hardware_flops / (self.step_time_s * self.gpus * self.peak_flops_per_s)

    @property
    def feasible(self) -> bool:
        return self.footprint.feasible

    @property
    def memory_bytes_per_gpu(self) -> float:
        return self.footprint.total_bytes

    @property
    def metrics(self) -> Metrics:
        """The shared vocabulary. NB: a plan's step is stages, bubble and communication, not a
        sum of kernels: it has no per-kernel compute / memory / overhead split nor a bound."""
        c = self.cost
        return Metrics(
            time_s=self.step_time_s, compute_s=None, memory_s=None, overhead_s=None,
            recompute_s=self.breakdown_s["recompute_s"],
            comm_s=self.breakdown_s["exposed_comm_s"], bound=None,
            flops=self.hardware_flops, bytes=None, memory_bytes=self.memory_bytes_per_gpu,
            memory_capacity_bytes=self.footprint.capacity_bytes, feasible=self.feasible,
            tokens=self.tokens_per_step, tokens_per_s=self.tokens_per_s, power_w=c.power_w,
            energy_j=c.energy_j, j_per_token=c.j_per_token, usd_per_hour=c.usd_per_hour,
            usd_per_1m_tokens=c.usd_per_1m_tokens, mfu=self.mfu, max_batch=None)

    def summary(self) -> dict[str, Any]:
        """The JSON keys the CLI prints (SI units, named with the unit)."""
        return {
            **self.metrics.as_dict(),
            "model": self.model, "system": self.system, "plan": self.plan.as_dict(),
            "seq": self.seq, "gpus": self.gpus, "step_time_s": self.step_time_s,
            "tokens_per_step": self.tokens_per_step, "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_gpu": self.tokens_per_s / self.gpus,
            "mfu": self.mfu, "hfu": self.hfu,
            "model_flops_per_s_per_gpu": self.mfu * self.peak_flops_per_s,
            "hardware_flops_per_s_per_gpu": self.hfu * self.peak_flops_per_s,
            "bubble_fraction": self.bubble_fraction,
            "time_breakdown_s": dict(self.breakdown_s),
            "exposed_comm_s": self.breakdown_s["exposed_comm_s"],
            "memory_bytes_per_gpu": self.memory_bytes_per_gpu,
            "memory_capacity_bytes": self.footprint.capacity_bytes,
            "memory_breakdown": self.footprint.as_dict(), "peak_stage": self.peak_stage,
            "feasible": self.feasible, "power_w": self.cost.power_w,
            "energy_j": self.cost.energy_j, "usd_per_hour": self.cost.usd_per_hour,
            "usd_per_1m_tokens": self.cost.usd_per_1m_tokens,
            "train_tokens": self.train_tokens, "days": self.days, "usd": self.usd,
        }


def prepare(workload: Workload, system: System, options: Options | None = None,
            variants: Variants | None = None) -> Prepared:
    """The evaluation context for many plans of one training workload on one system (or on
    each of its spec `variants`: see `Prepared.for_variant`)."""
    options = options or Options()
    if workload.phase is not Phase.TRAIN:
        raise ValueError(f"training needs a train-phase workload, not {workload.phase.value}")
    return Prepared(workload, system, options.profile_for(system.device), options, variants)


def spec_for(prep: Prepared, plan: Plan) -> ShardSpec:
    return ShardSpec(tp=plan.tp, sp=plan.sp, cp=plan.cp, ep=plan.ep,
                     token_factor=plan.micro_batch / prep.workload.batch,
                     expert_imbalance=plan.expert_imbalance,
                     optimizer_shards=plan.dp_shards if plan.zero >= 1 else 1)


def evaluate(prep: Prepared, plan: Plan, train_tokens: float | None = None) -> TrainingReport:
    """Price one plan; raises ValueError where the plan cannot run (memory never raises)."""
    w, system = prep.workload, prep.system
    check_plan(plan, w.model, system.num_devices, w.seq, training=True)
    spec = spec_for(prep, plan)
    st = prep.slot_times(spec)
    layers, pp, m = w.model.layers, plan.pp, plan.micro_batches
    recompute = {Recompute.NONE: 0.0, Recompute.SELECTIVE: st.recompute_selective_s,
                 Recompute.FULL: st.recompute_full_s}[plan.recompute]
    split = plan.pp_layers
    compute = per_stage(st.fwd_s + st.bwd_s, layers, pp, split)
    rerun = per_stage(recompute + np.zeros(prep.nslots), layers, pp, split)
    params = prep.params
    comm = plan_comm(prep, st, plan, spec, params, w.seq)
    per_mb = compute + rerun + comm.per_micro_batch_exposed_s
    crit = int(np.argmax(per_mb))
    pipe_s, bubble_s = pipeline_time_s(float(per_mb[crit]), pp, m, plan.vp)
    tail = per_stage(prep.optimizer_s(spec), layers, pp, split) + comm.dp_step_exposed_s
    last = int(np.argmax(tail))
    step = pipe_s + float(tail[last])
    breakdown = {
        "compute_s": m * float(compute[crit]), "recompute_s": m * float(rerun[crit]),
        "tp_exposed_s": m * float(comm.tp_exposed_s[crit]),
        "cp_exposed_s": m * float(comm.cp_exposed_s[crit]), "ep_s": m * float(comm.ep_s[crit]),
        "zero3_exposed_s": m * float(comm.zero3_exposed_s[crit]),
        "p2p_exposed_s": m * comm.p2p_exposed_s, "bubble_s": bubble_s,
        "optimizer_s": float(tail[last] - comm.dp_step_exposed_s[last]),
        "dp_exposed_s": float(comm.dp_step_exposed_s[last]),
        "comm_s": m * float(comm.per_micro_batch_s[crit]) + float(comm.dp_step_s[last]),
    }
    breakdown["exposed_comm_s"] = (m * float(comm.per_micro_batch_exposed_s[crit])
                                   + breakdown["dp_exposed_s"])
    return _report(prep, plan, step, breakdown, st, params, train_tokens)


def _report(prep: Prepared, plan: Plan, step: float, breakdown: dict, st, params,
            train_tokens: float | None) -> TrainingReport:
    w, device = prep.workload, prep.system.device
    options = prep.options
    flops = prep.traced_flops
    sequences = plan.batch / w.batch
    extra = {Recompute.NONE: 0.0, Recompute.SELECTIVE: flops["selective"],
             Recompute.FULL: flops["full"]}[plan.recompute]
    saved_ratio = w.saved_activation_bytes / flops["fwd_act_bytes"] \
        if flops["fwd_act_bytes"] > 0 else 1.0
    fp, stage = footprint(st, params, plan, w.model, w.seq, prep.precision,
                          device.mem_capacity_bytes, saved_ratio)
    rc_busy = {Recompute.NONE: 0.0, Recompute.SELECTIVE: st.recompute_busy_selective_s,
               Recompute.FULL: st.recompute_busy_full_s}[plan.recompute]
    # NB: busy time per GPU is the whole model's kernel time over the stages (for power).
    busy = plan.micro_batches * (st.busy_s + rc_busy) / plan.pp
    tokens = plan.batch * w.seq
    cost = summarize(device, step, min(busy, step), tokens, options.cost, devices=plan.gpus)
    model_flops = flops["model"] * sequences
    # NB: with 2:4 sparse weights the GEMMs run at the sparse peak; utilization is relative to
    # that peak, so it stays at most 1 (dense: the dense peak, as Megatron-LM counts it).
    peak = device.matrix_peak(prep.precision.activations, sparse=prep.precision.sparse)
    days = usd = None
    if train_tokens:
        days, usd = training_run(step, tokens, train_tokens, cost.usd_per_hour)
    return TrainingReport(
        model=w.model.name, system=prep.system.name, plan=plan, seq=w.seq, step_time_s=step,
        breakdown_s=breakdown,
        bubble_fraction=bubble_fraction(plan.pp, plan.micro_batches, plan.vp),
        model_flops=model_flops,
        hardware_flops=(flops["model"] + extra) * sequences
        + flops["optimizer"] * (plan.dp_shards if plan.zero == 0 else 1),
        peak_flops_per_s=peak, footprint=fp,
        peak_stage=stage, cost=cost, train_tokens=train_tokens, days=days, usd=usd)


def simulate_training(workload: Workload, system: System, plan: Plan,
                      options: Options | None = None,
                      train_tokens: float | None = None) -> TrainingReport:
    """One plan, start to finish (the planner keeps `prepare` and calls `evaluate`)."""
    return evaluate(prepare(workload, system, options), plan, train_tokens)
