"""Training sweep points on parallel plans: `training.evaluate` for every variant, with the
kernel pricing broadcast across variants.

`training.evaluate` spends its O(kernels) work in `Prepared.slot_times` and
`Prepared.optimizer_s`: pricing one GPU's share of each kernel and summing it per pipeline
slot. Here those tables are priced for all variants at once ((V, u) arrays, as `sweep_eval`
prices a single device) and handed to `evaluate` through a `Prepared` per variant that serves
them; the rest of `evaluate` (stages, schedule, communication, memory, cost: O(slots +
collectives)) runs per variant, unchanged, so each point is exactly its single call.
"""

from __future__ import annotations

import numpy as np

from hwspecs.schema import DeviceSpec, System
from simulator.core.arrays import bincount_rows
from simulator.core.distinct import distinct_ops
from simulator.core.efficiency import EfficiencyProfile
from simulator.core.precision import Precision
from simulator.core.simulate import SimOptions, resolve_profile
from simulator.parallel.plan import Plan
from simulator.parallel.sharding import ShardSpec, shard
from simulator.sweep.single import Factors, kernel_inputs, op_times
from simulator.training.slots import Prepared, SlotTimes, slot_tables
from simulator.training.step import TrainingReport, TrainOptions, evaluate
from workloads.op import Workload


class SlotTables:
    """Every variant's `SlotTimes` and optimizer times of one device and precision, per
    sharding, priced by broadcasting (what `Prepared` prices for one device)."""

    def __init__(self, base: Prepared, device: DeviceSpec, profile: EfficiencyProfile,
                 precision: Precision, f: Factors) -> None:
        self.base, self.device, self.profile, self.precision, self.f = \
            base, device, profile, precision, f
        self._slots: dict[tuple, list[SlotTimes]] = {}
        self._optimizer: dict[tuple, np.ndarray] = {}

    def _times(self, sub) -> tuple[np.ndarray, np.ndarray]:
        """(time, busy) of every kernel of `sub` as (V, rows) arrays."""
        d = distinct_ops(sub)
        b = kernel_inputs(d.ops, self.base.workload, self.device, self.profile, self.precision)
        _, _, _, time_s, _, busy = op_times(b, self.device, self.profile, self.f)
        return np.take(time_s, d.inverse, axis=1), np.take(busy, d.inverse, axis=1)

    def slot_times(self, spec: ShardSpec) -> list[SlotTimes]:
        key = spec.key[:-1]   # the optimizer split does not change the other kernels
        if key not in self._slots:
            self._slots[key] = self._price_main(spec)
        return self._slots[key]

    def optimizer_s(self, spec: ShardSpec) -> np.ndarray:
        """(V, slots): `Prepared.optimizer_s` of every variant."""
        if spec.key not in self._optimizer:
            a, r, rep = self.base.optimizer
            n, rows = self.base.nslots, len(self.f.matrix)
            if len(a) == 0:
                self._optimizer[spec.key] = np.zeros((rows, n))
            else:
                time_s, _ = self._times(shard(a, r, spec))
                self._optimizer[spec.key] = bincount_rows(r.slot, time_s, n)[:, rep]
        return self._optimizer[spec.key]

    def _price_main(self, spec: ShardSpec) -> list[SlotTimes]:
        """`Prepared._price_main` for every variant (`training_slots.slot_tables`)."""
        base = self.base
        a, r, rep = base.compact
        sub = shard(a, r, spec)
        t, busy = self._times(sub)
        return slot_tables(sub, r.slot, rep, base.nslots, base.act_scale, t, busy)


class VariantPrepared(Prepared):
    """A `Prepared` for one variant's system that serves its kernel times from `SlotTables`
    and shares the workload's arrays (built once per chunk) with `base`."""

    def __init__(self, base: Prepared, system: System, options: TrainOptions,
                 tables: SlotTables, index: int) -> None:
        super().__init__(base.workload, system, base.profile, base.precision, options.tp_plan)
        self.main, self.compact, self.optimizer = base.main, base.compact, base.optimizer
        self.traced_flops = base.traced_flops
        self.cache["options"] = options
        self._tables, self._index = tables, index

    def slot_times(self, spec: ShardSpec) -> SlotTimes:
        return self._tables.slot_times(spec)[self._index]

    def optimizer_s(self, spec: ShardSpec) -> np.ndarray:
        return self._tables.optimizer_s(spec)[self._index]


class TrainPoints:
    """Training plan points of one chunk's workload."""

    def __init__(self, w: Workload, f: Factors, variants: list[dict[str, float]],
                 tp_plan) -> None:
        self.w, self.f, self.variants, self.tp_plan = w, f, variants, tp_plan
        self._arrays: Prepared | None = None     # the workload's kernels, shared by all
        self._tables: dict[tuple, SlotTables] = {}
        self._preps: dict[tuple, list[VariantPrepared]] = {}

    def metrics(self, system: System, plan: Plan, options: SimOptions) -> dict[str, np.ndarray]:
        """`training.evaluate(prepare(w, variant system, options), plan)` for every variant.

        NB: the per-variant loop runs the O(slots + collectives) rest of `evaluate`; only the
        kernel pricing is broadcast."""
        reports = [evaluate(prep, plan) for prep in self._variant_preps(system, options)]
        return report_columns(reports)

    def _options(self, options: SimOptions) -> TrainOptions:
        return TrainOptions(precision=options.precision, ideal=options.ideal,
                            profile=options.profile, cost=options.cost, tp_plan=self.tp_plan)

    def _slot_tables(self, system: System, options: SimOptions) -> SlotTables:
        device, precision = system.device, options.precision
        key = (device.name, precision.label)
        if key not in self._tables:
            profile = resolve_profile(device, self._options(options))
            base = Prepared(self.w, system, profile, precision, self.tp_plan)
            if self._arrays is None:
                self._arrays = base
            shared = self._arrays
            base.main, base.compact, base.optimizer = shared.main, shared.compact, \
                shared.optimizer
            base.traced_flops = shared.traced_flops
            self._tables[key] = SlotTables(base, device, profile, precision, self.f)
        return self._tables[key]

    def _variant_preps(self, system: System, options: SimOptions) -> list[VariantPrepared]:
        """One `Prepared` per variant of each system, kept across the plans that share it (its
        cache then holds their collectives, as in the planner's search).

        Variants with the same link factor share one cache: what `training` and
        `training_comm` keep there (options, parameters per slot, collective times) depends on
        the links, the precision and the profile alone, never on the device's rates."""
        key = (system.name, system.levels, system.device.name, options.precision.label)
        if key not in self._preps:
            tables = self._slot_tables(system, options)
            train = self._options(options)
            caches: dict[float, dict] = {}
            preps = []
            for i, v in enumerate(self.variants):
                prep = VariantPrepared(tables.base, system.scaled(**v), train, tables, i)
                prep.cache = caches.setdefault(v.get("link", 1.0), prep.cache)
                preps.append(prep)
            self._preps[key] = preps
        return self._preps[key]


def report_columns(reports: list[TrainingReport]) -> dict[str, np.ndarray]:
    """The sweep's metric columns of training reports (SI units; None becomes NaN).

    NB: a training plan point has no per-kernel compute / memory / overhead split nor a bound
    (its time is stages, bubble and communication); those columns are NaN and ''."""
    def col(get) -> np.ndarray:
        return np.array([np.nan if (x := get(r)) is None else x for r in reports], dtype=float)

    n = len(reports)
    nan = np.full(n, np.nan)
    return {
        "time_s": col(lambda r: r.step_time_s), "compute_s": nan, "memory_s": nan.copy(),
        "overhead_s": nan.copy(), "recompute_s": col(lambda r: r.breakdown_s["recompute_s"]),
        "bound": np.full(n, "", dtype=object), "flops": col(lambda r: r.hardware_flops),
        "bytes": nan.copy(), "memory_bytes": col(lambda r: r.memory_bytes_per_gpu),
        "memory_capacity_bytes": col(lambda r: r.footprint.capacity_bytes),
        "feasible": np.array([r.feasible for r in reports], dtype=bool),
        "tokens_per_s": col(lambda r: r.tokens_per_s),
        "power_w": col(lambda r: r.cost.power_w), "energy_j": col(lambda r: r.cost.energy_j),
        "j_per_token": col(lambda r: r.cost.j_per_token),
        "usd_per_hour": col(lambda r: r.cost.usd_per_hour),
        "usd_per_1m_tokens": col(lambda r: r.cost.usd_per_1m_tokens),
        "mfu": col(lambda r: r.mfu), "max_batch": np.full(n, -1, dtype=np.int64),
        "comm_s": col(lambda r: r.breakdown_s["exposed_comm_s"]),
    }
