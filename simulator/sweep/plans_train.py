"""Training sweep points on parallel plans: `training.evaluate` for every variant.

The kernels of each sharding are priced for all variants in one pricing-core call
(`training.prepare(..., variants)`); the rest of `evaluate` (stages, schedule, communication,
memory, cost: O(slots + collectives)) runs per variant on `Prepared.for_variant`, so each
point is exactly its single call.
"""

from __future__ import annotations

import numpy as np

from hwspecs.schema import System
from simulator.core.metrics import METRIC_NAMES, Metrics
from simulator.core.options import Options
from simulator.core.variants import Variants
from simulator.parallel.plan import Plan
from simulator.training.kernel_check import training_measured_share
from simulator.training.slots import Prepared
from simulator.training.step import TrainingReport, evaluate, prepare
from workloads.op import Workload


class TrainPoints:
    """Training plan points of one chunk's workload."""

    def __init__(self, w: Workload, variants: Variants) -> None:
        self.w, self.variants = w, variants
        self._priced: dict[tuple, Prepared] = {}
        self._views: dict[tuple, list[Prepared]] = {}

    def metrics(self, system: System, plan: Plan, options: Options) -> Metrics:
        """`training.evaluate(prepare(w, variant system, options), plan)` for every variant."""
        return report_columns([evaluate(p, plan) for p in self._variant_preps(system, options)])

    def _variant_preps(self, system: System, options: Options) -> list[Prepared]:
        """One context per variant of each system, kept across the plans that share it.

        Variants with the same link factor share one `comm` cache: what `training.comm`
        keeps there depends on the links, the precision and the profile alone."""
        key = (system.name, system.levels, system.device.name, options.precision.label)
        if key not in self._views:
            priced = self._prepared(system, options)
            comms: dict[float, dict] = {}
            self._views[key] = [
                priced.for_variant(i, system.scaled(f), comms.setdefault(f.link, {}))
                for i, f in enumerate(self.variants.factors)]
        return self._views[key]


    def _prepared(self, system: System, options: Options) -> Prepared:
        """The kernels of `system`'s device priced for every variant, kept per precision."""
        key = (system.device.name, options.precision.label)
        if key not in self._priced:
            self._priced[key] = prepare(self.w, system, options, self.variants)
        return self._priced[key]

    def measured_share(self, system: System, plan: Plan, options: Options) -> dict:
        """`training_measured_share` of `plan` on the unscaled device."""
        return training_measured_share(self._prepared(system, options), plan)


def report_columns(reports: list[TrainingReport]) -> Metrics:
    """The reports' metrics as columns (None becomes NaN, '' for the bound)."""
    rows = [r.metrics.as_dict() for r in reports]

    def col(name: str) -> np.ndarray:
        if name == "bound":
            return np.array([row[name] or "" for row in rows], dtype=object)
        if name == "feasible":
            return np.array([row[name] for row in rows], dtype=bool)
        if name == "max_batch":
            return np.full(len(rows), -1, dtype=np.int64)
        return np.array([np.nan if row[name] is None else row[name] for row in rows],
                        dtype=float)

    return Metrics(**{name: col(name) for name in METRIC_NAMES})
