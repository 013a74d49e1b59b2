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

The kernel pricing, the O(kernels) part, runs once per plan sharding for every variant by
broadcasting (`sweep_eval`): the workload is sharded once per plan (`sharding.shard`), its
distinct kernels priced as (V, u) arrays, and summed per slot and stage for all variants at
once. Communication depends only on the links, so it is priced once per distinct `link`
factor. The system of a plan is the device scaled out to the plan's GPUs as the CLI builds it
(`parallel.system_for_gpus`); a plan the model or system cannot run is a point with `error`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from hwspecs.schema import System
from simulator.core.arrays import bincount_rows, to_arrays
from simulator.core.distinct import Distinct, distinct_ops
from simulator.core.memory import kv_cache_bytes, transient_activation_bytes
from simulator.core.precision import Precision
from simulator.core.simulate import SimOptions, resolve_profile
from simulator.inference.step import kv_split, step_comm_s, weight_bytes_per_gpu
from simulator.parallel.pipeline import stage_of_slot
from simulator.parallel.plan import Plan, check_plan, system_for_gpus
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec, shard
from simulator.sweep.grid import ChunkKey, Grid, PlanItem, plan_for
from simulator.sweep.single import (
    Factors,
    cost_columns,
    dominant_bound,
    failed,
    kernel_inputs,
    op_times,
    row_sums,
)
from workloads.op import Workload

Points = list[tuple[dict[str, np.ndarray], str]]   # per precision: (metrics, error)


class PlanPoints:
    """The plan points of one chunk: shardings shared across devices, systems per plan."""

    def __init__(self, grid: Grid, key: ChunkKey, w: Workload, factors: Factors) -> None:
        self.grid, self.key, self.w, self.factors = grid, key, w, factors
        self.variants = [dict(v) for v in grid.variants]
        self._shards: dict[tuple, tuple[OpRoles, object, Distinct]] = {}
        self._train: object = None

    @cached_property
    def tp_plan(self):
        from workloads.config import tp_plan_of

        return tp_plan_of(self.key.model)

    def points(self, ref: str, item: PlanItem, options: list[SimOptions]
               ) -> tuple[int, float, Points]:
        """(GPUs, tokens per step, the points of every precision) of one plan on a device."""
        key, w = self.key, self.w
        plan = plan_for(item, key.phase, key.batch, self.grid.recompute)
        n = len(self.variants)
        try:
            system = system_for_gpus(ref, plan.gpus)
            check_plan(plan, w.model, system.num_devices, w.seq, training=key.phase == "train")
        except ValueError as e:
            return plan.gpus, plan.dp * w.tokens, [(failed(n), str(e)) for _ in options]
        points = []
        for o in options:
            try:
                points.append((self._one(system, plan, o), ""))
            except ValueError as e:    # e.g. a precision the device has no peak for
                points.append((failed(n), str(e)))
        return plan.gpus, plan.dp * w.tokens, points

    def _one(self, system: System, plan: Plan, options: SimOptions) -> dict[str, np.ndarray]:
        if self.key.phase == "train":
            if self._train is None:
                from simulator.sweep.plans_train import TrainPoints  # it imports this module

                self._train = TrainPoints(self.w, self.factors, self.variants, self.tp_plan)
            return self._train.metrics(system, plan, options)
        return self._infer(system, plan, options)

    def _sharded(self, spec: ShardSpec) -> tuple[OpRoles, object, Distinct]:
        if spec.key not in self._shards:
            r = roles_of(self.w, self.tp_plan)
            a = shard(to_arrays(self.w), r, spec)
            self._shards[spec.key] = (r, a, distinct_ops(a))
        return self._shards[spec.key]

    def _infer(self, system: System, plan: Plan, options: SimOptions) -> dict[str, np.ndarray]:
        """`inference.step_time` for every variant (see the module doc)."""
        w, f, device = self.w, self.factors, system.device
        precision = options.precision
        r, a, d = self._sharded(ShardSpec(tp=plan.tp, ep=plan.ep,
                                          expert_imbalance=plan.expert_imbalance))
        profile = resolve_profile(device, options)
        b = kernel_inputs(d.ops, w, device, profile, precision)
        compute_s, memory_s, overhead_s, time_s, bound, busy = op_times(b, device, profile, f)
        layers, pp = w.model.layers, plan.pp
        slots = bincount_rows(r.slot, np.take(time_s, d.inverse, axis=1), layers + 2)
        kernels_s = bincount_rows(stage_of_slot(layers, pp), slots, pp).sum(axis=1)
        comm_s = per_link(system, f, lambda s: step_comm_s(w, r, s, plan, precision, profile))
        total_s = kernels_s + comm_s
        busy_s = row_sums(busy, d.inverse) / pp
        tokens = plan.dp * w.tokens
        copies = plan.tp * plan.dp   # GPUs that each run one share of every kernel
        capacity = device.mem_capacity_bytes * f.mem_capacity
        fixed, per_batch = _memory(w, a, plan, precision)
        memory = fixed + per_batch
        return {
            "time_s": total_s, "compute_s": row_sums(compute_s, d.inverse),
            "memory_s": row_sums(memory_s, d.inverse),
            "overhead_s": np.full(len(total_s), float(overhead_s[d.inverse].sum())),
            "recompute_s": np.zeros(len(total_s)),
            "bound": dominant_bound(time_s, bound, d.counts),
            # NB: work of all GPUs is one GPU's share of every kernel times tp x dp (replicated
            # kernels count once per TP rank, as the hardware runs them).
            "flops": np.full(len(total_s), float((b.flops + b.extra_flops)[d.inverse].sum())
                             * copies),
            "bytes": np.full(len(total_s), float(b.moved[d.inverse].sum()) * copies),
            "memory_bytes": np.full(len(total_s), memory), "memory_capacity_bytes": capacity,
            "feasible": memory <= capacity, "tokens_per_s": tokens / total_s,
            **cost_columns(device, total_s, np.minimum(busy_s, total_s), tokens, f,
                           options.cost, devices=plan.gpus),
            "mfu": np.full(len(total_s), np.nan),
            "max_batch": _max_batches(fixed, per_batch / max(w.batch, 1), capacity),
            "comm_s": comm_s,
        }


def per_link(system: System, f: Factors, comm: Callable[[System], float]) -> np.ndarray:
    """comm(system with its links scaled) for every variant, once per distinct link factor."""
    values, inverse = np.unique(f.link, return_inverse=True)
    times = np.array([comm(system.scaled(link=float(k))) for k in values])
    return times[inverse.reshape(-1)]


def _memory(w: Workload, a, plan: Plan, precision: Precision) -> tuple[float, float]:
    """(fixed bytes, bytes of the batch) on one GPU of the fullest stage: its weights, and the
    KV cache after this step plus the largest kernel's activations.

    NB: as the single-device points do, the cache is the traced one (not a serving stack's
    per-token layout) and grows linearly in the batch; it splits over the KV heads a TP group
    can split and over the pipeline stages (as `inference` splits it)."""
    return weight_bytes_per_gpu(w.model, plan, precision), \
        kv_cache_bytes(w, precision) / kv_split(w.model, plan) \
        + transient_activation_bytes(a, w, precision)


def _max_batches(fixed: float, per_seq: float, capacity: np.ndarray) -> np.ndarray:
    """`memory.max_batch`'s rule on one GPU of the plan, per variant capacity."""
    if per_seq <= 0:
        fits = np.full(len(capacity), np.iinfo(np.int32).max, dtype=np.int64)
    else:
        fits = ((capacity - fixed) // per_seq).astype(np.int64)
    return np.where(fixed > capacity, 0, fits)
