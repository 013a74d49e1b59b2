"""Sweep points on multi-GPU plans: one step of the workload spread over a parallel plan.

A plan point is what the single calls give for that device variant, plan and precision:
- prefill / decode: `inference.step_time` (kernels of every pipeline stage in turn, then the
  TP all-reduces, EP all-to-alls and pipeline sends); `dp` replicas each run the batch, so
  tokens/s = dp x tokens / time; power, energy and dollars cover all the plan's GPUs.
- train: `training.evaluate`, one optimizer step of batch x dp sequences.

Columns keep their meaning per point: `time_s` is the step, `comm_s` the communication inside
it (for training, the exposed part), `tokens` the tokens of the step over all replicas,
`memory_bytes` one GPU's (the fullest stage), `compute_s` / `memory_s` / `overhead_s` one
GPU's kernels through every stage, `flops`, `bytes`, power, energy and dollars all the plan's
GPUs'; `gpus` counts them.

The kernel pricing, the O(kernels) part, runs once per plan sharding for every variant: the
single calls themselves take the variants (`inference.step.step_times`, `training.prepare`),
so a point is the single call's own arithmetic. Communication depends only on the links, so
it is priced once per distinct `link` factor. The system of a plan is the device scaled out to the plan's GPUs as the CLI builds it
(`parallel.system_for_gpus`); a plan the model or system cannot run is a point with `error`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import numpy as np

from hwspecs.schema import System
from simulator.core.cost import cost_columns
from simulator.core.memory import batch_fit, kv_cache_bytes
from simulator.core.metrics import Metrics
from simulator.core.options import Options
from simulator.core.pricing import dominant_bound
from simulator.core.variants import Variants
from simulator.inference.step import kv_split, step_shards, step_times, weight_bytes_per_gpu
from simulator.parallel.plan import Plan, check_plan
from simulator.parallel.systems import system_for_gpus
from simulator.sweep.grid import ChunkKey, Grid
from simulator.sweep.grid_plans import PlanItem, plan_for
from simulator.sweep.kernels import point_share
from simulator.sweep.plans_train import TrainPoints
from workloads.op import Phase, Workload

Points = list[tuple[Metrics, str]]   # per precision: (metrics, error)


class PlanPoints:
    """The plan points of one chunk: shardings shared across devices, systems per plan."""

    def __init__(self, grid: Grid, key: ChunkKey, w: Workload, variants: Variants) -> None:
        self.grid, self.key, self.w, self.variants = grid, key, w, variants

    @cached_property
    def tp_plan(self):
        from workloads.config import tp_plan_of

        return tp_plan_of(self.key.model)

    @cached_property
    def _train(self) -> TrainPoints:
        return TrainPoints(self.w, self.variants)

    def points(self, ref: str, item: PlanItem, options: list[Options]
               ) -> tuple[int, float, Points]:
        """(GPUs, tokens per step, the points of every precision) of one plan on a device."""
        key, w = self.key, self.w
        plan = plan_for(item, key.phase, key.batch, self.grid.recompute)
        n = len(self.variants)
        train = key.phase is Phase.TRAIN
        try:
            system = system_for_gpus(ref, plan.gpus)
            check_plan(plan, w.model, system.num_devices, w.seq, training=train)
        except ValueError as e:
            return plan.gpus, plan.dp * w.tokens, [(Metrics.missing(n), str(e))
                                                   for _ in options]
        points = []
        for o in options:
            o = replace(o, tp_plan=self.tp_plan)
            try:
                points.append((self._train.metrics(system, plan, o) if train
                               else self._infer(system, plan, o), ""))
            except ValueError as e:    # e.g. a precision the device has no peak for
                points.append((Metrics.missing(n), str(e)))
        return plan.gpus, plan.dp * w.tokens, points

    def measured_share(self, ref: str, item: PlanItem, options: Options) -> float:
        """The share of one plan point's time the measurements priced (`sweep.kernels`)."""
        from simulator.core.measured_pricing import measured_share
        from simulator.inference.kernel_check import plan_kernel_check

        key, o = self.key, replace(options, tp_plan=self.tp_plan)
        plan = plan_for(item, key.phase, key.batch, self.grid.recompute)

        def compute() -> dict:
            system = system_for_gpus(ref, plan.gpus)
            if key.phase is Phase.TRAIN:
                return self._train.measured_share(system, plan, o)
            return measured_share(plan_kernel_check(self.w, system, plan, o))

        return point_share(compute)

    def _infer(self, system: System, plan: Plan, options: Options) -> Metrics:
        """`inference.step.step_times` for every variant (see the module doc)."""
        w, v, device = self.w, self.variants, system.device
        precision = options.precision
        profile = options.profile_for(device)
        st = step_times(w, system, plan, options, profile, v)
        tokens = plan.dp * w.tokens
        copies = plan.tp * plan.dp   # GPUs that each run one share of every kernel
        capacity = device.mem_capacity_bytes * v.mem_capacity
        fixed, per_batch = self._memory(plan, precision)
        memory = fixed + per_batch
        n = len(v)
        full = np.ones(n)
        cost = cost_columns(device, st.time_s, np.minimum(st.busy_s, st.time_s), tokens,
                            options.cost, devices=plan.gpus, variants=v)
        return Metrics(
            time_s=st.time_s, compute_s=st.compute_s, memory_s=st.memory_s,
            overhead_s=st.overhead_s, recompute_s=np.zeros(n), comm_s=st.comm_s,
            bound=dominant_bound(st.bound_s),
            # NB: work of all GPUs is one GPU's share of every kernel times tp x dp (replicated
            # kernels count once per TP rank, as the hardware runs them).
            flops=full * st.flops * copies, bytes=full * st.bytes * copies,
            memory_bytes=full * memory, memory_capacity_bytes=capacity,
            feasible=memory <= capacity, tokens=np.full(n, tokens),
            tokens_per_s=tokens / st.time_s, **cost.as_dict(), mfu=np.full(n, np.nan),
            max_batch=batch_fit(fixed, per_batch / max(w.batch, 1), capacity))

    def _memory(self, plan: Plan, precision) -> tuple[float, float]:
        """(fixed bytes, bytes of the batch) on one GPU of the fullest stage: its weights, and
        the KV cache after this step plus the largest kernel's activations.

        NB: as the single-device points do, the cache is the traced one (not a serving stack's
        per-token layout) and grows linearly in the batch; it splits over the KV heads a TP
        group can split and over the pipeline stages (as `inference` splits it)."""
        w = self.w
        _, s = step_shards(w, plan, Options(tp_plan=self.tp_plan))
        act = s.transient_act_bytes * precision.activations.bits / w.dtype.bits
        return weight_bytes_per_gpu(w.model, plan, precision), \
            kv_cache_bytes(w, precision) / kv_split(w.model, plan) + act
