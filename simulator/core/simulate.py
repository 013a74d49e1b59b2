"""Price one lowered workload on one device, or on V variants of it at once.

    report = simulate(workload, device, Options())                   # one device: a Report
    metrics = device_metrics(workload, device, options, variants)    # (V,) columns (sweeps)

Both run `price_step`: the workload's distinct kernels priced once by the pricing core, summed
per variant in the order of every kernel, with recompute, footprint and cost on top; a sweep
point therefore equals the `simulate` call on that variant of the device to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator.core.arrays import KINDS, PASS_CODE, OpArrays, to_arrays
from simulator.core.cost import CostColumns, cost_columns
from simulator.core.distinct import Distinct, distinct_of
from simulator.core.memory import Recompute, footprint, max_batch
from simulator.core.metrics import Metrics
from simulator.core.options import Options
from simulator.core.pricing import KernelTimes, bound_shares, dominant_bound, price
from simulator.core.profile import EfficiencyProfile
from simulator.core.report import Report
from simulator.core.variants import Variants
from workloads.op import Pass, Phase, Workload

_FORWARD = PASS_CODE[Pass.FORWARD]
_OPTIMIZER = PASS_CODE[Pass.OPTIMIZER]


def recompute_rows(a: OpArrays, recompute: Recompute) -> np.ndarray:
    """Forward ops of the layer stack that backward runs again."""
    in_layers = (a.pass_ == _FORWARD) & (a.layer >= 0)
    if recompute is Recompute.FULL:
        return in_layers
    if recompute is Recompute.SELECTIVE:
        return in_layers & ~a.on_matrix
    return np.zeros(len(a), dtype=bool)


def row_sums(per_kernel: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Expand (V, u) to the (V, n) kernels in order and sum each row.

    C order, so each row sums pairwise in the same order as a 1-D sum over the kernels."""
    return np.ascontiguousarray(np.take(per_kernel, columns, axis=1)).sum(axis=1)


@dataclass(frozen=True)
class StepPrice:
    """A workload's distinct kernels priced on a device for V variants, and what follows."""

    distinct: Distinct
    times: KernelTimes          # (V, u)
    profile: EfficiencyProfile
    metrics: Metrics            # (V,) columns
    cost: CostColumns           # the same power, energy and dollars, as one object
    model_flops: float
    hardware_flops: float


def price_step(w: Workload, device: DeviceSpec, options: Options,
               variants: Variants | None = None) -> StepPrice:
    a = to_arrays(w)
    d = distinct_of(w)
    profile = options.profile_for(device)
    precision = options.precision
    t = price(d.ops, device, profile, w.dtype, precision, variants)
    rows = t.time_s.shape[0]
    train = w.phase is Phase.TRAIN
    recompute = recompute_rows(a, options.recompute) if train else np.zeros(len(a), bool)
    recompute_s = row_sums(t.time_s, d.inverse[recompute])
    total_s = row_sums(t.time_s, d.inverse) + recompute_s
    busy_s = row_sums(t.busy_s, d.inverse) + recompute_s
    flops = t.flops[d.inverse]
    hardware_flops = float(flops.sum() + flops[recompute].sum())
    model_flops = float(a.flops[a.pass_ != _OPTIMIZER].sum())
    scale = 1.0 if variants is None else variants.mem_capacity
    capacity = np.atleast_1d(device.mem_capacity_bytes * scale)
    mem = footprint(a, w, precision, device.mem_capacity_bytes, options.recompute)
    # Utilization is relative to the peak the GEMMs run at (2:4 sparse weights: the sparse
    # peak), so it is at most 1.
    peak = device.matrix_peak(precision.activations, sparse=precision.sparse) \
        * (1.0 if variants is None else variants.matrix)
    full = np.full(rows, 1.0)
    cost = cost_columns(device, total_s, busy_s, w.tokens, options.cost, variants=variants)
    metrics = Metrics(
        time_s=total_s, compute_s=row_sums(t.compute_s, d.inverse),
        memory_s=row_sums(t.memory_s, d.inverse),
        overhead_s=full * float(t.overhead_s[0][d.inverse].sum()),
        recompute_s=recompute_s, comm_s=np.zeros(rows),
        bound=dominant_bound(bound_shares(t, d.counts)), flops=full * hardware_flops,
        bytes=full * float(t.bytes[d.inverse].sum()), memory_bytes=full * mem.total_bytes,
        memory_capacity_bytes=capacity, feasible=mem.total_bytes <= capacity,
        tokens=np.full(rows, w.tokens), tokens_per_s=w.tokens / total_s, **cost.as_dict(),
        mfu=model_flops / (total_s * peak) if train else np.full(rows, np.nan),
        max_batch=np.full(rows, -1, dtype=np.int64) if train else _max_batches(
            a, w, options, capacity))
    return StepPrice(distinct=d, times=t, profile=profile, metrics=metrics, cost=cost,
                     model_flops=model_flops, hardware_flops=hardware_flops)


def _max_batches(a: OpArrays, w: Workload, options: Options, capacity: np.ndarray
                 ) -> np.ndarray:
    return np.atleast_1d(max_batch(a, w, options.precision, capacity))


def device_metrics(w: Workload, device: DeviceSpec, options: Options,
                   variants: Variants) -> Metrics:
    """Every metric of `simulate` for each variant of the device, as (V,) columns."""
    return price_step(w, device, options, variants).metrics


def simulate(workload: Workload, device: DeviceSpec, options: Options | None = None) -> Report:
    options = options or Options()
    step = price_step(workload, device, options)
    a, m = to_arrays(workload), step.metrics
    times = step.times.row(0).expand(step.distinct.inverse)
    train = workload.phase is Phase.TRAIN
    one = {name: _scalar(value[0]) for name, value in m.as_dict().items()}
    one.update(mfu=one["mfu"] if train else None, max_batch=None if train else one["max_batch"])
    metrics = Metrics(**one)
    return Report(
        model=workload.model.name, device=device.name, phase=workload.phase,
        batch=workload.batch, seq=workload.seq, context=workload.context,
        precision=options.precision.label, profile=step.profile.name,
        profile_origin=step.profile.origin, ideal=options.ideal,
        arrays=a, ops=times,
        footprint=footprint(a, workload, options.precision, device.mem_capacity_bytes,
                            options.recompute),
        cost=step.cost.row(0), metrics=metrics, model_flops=step.model_flops,
        hardware_flops=step.hardware_flops,
        peak_flops_per_s=device.matrix_peak(options.precision.activations,
                                             sparse=options.precision.sparse),
        interval_s=_interval(a, times, metrics.recompute_s, step.profile),
        outside_measured_range=_outside_range(a, step.profile))


def _scalar(x):
    """A column's value as a plain number (None for NaN)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and np.isnan(x):
        return None
    return x


def compare(workload: Workload, devices: list[DeviceSpec],
            options: Options | None = None) -> list[Report]:
    return [simulate(workload, d, options) for d in devices]


def _class_names(a: OpArrays, keys) -> np.ndarray:
    """Each row's name in a profile's per-class tables: its kernel class where the table
    names it (fitted GPU profiles), else its kind (bench-fitted profiles)."""
    kinds = np.array([KINDS[k].value for k in a.kind], dtype=object)
    classes = a.kernel_class
    return np.where(np.isin(classes, list(keys)), classes, kinds)


def _interval(a: OpArrays, t: KernelTimes, recompute_s: float,
              profile: EfficiencyProfile) -> tuple[float, float] | None:
    """p10-p90 of the total from each kernel class's calibration residuals.

    NB: sums per-op quantiles, which widens the interval (errors are taken as correlated)."""
    if not profile.intervals or len(a) == 0:
        return None
    kinds = _class_names(a, profile.intervals)
    lo = hi = 0.0
    for kind in np.unique(kinds):
        rows = kinds == kind
        p10, p90 = profile.intervals.get(kind, profile.intervals.get("other", (1.0, 1.0)))
        share = float(t.time_s[rows].sum())
        lo, hi = lo + share * p10, hi + share * p90
    total = t.total_s
    scale = (total + recompute_s) / total if total > 0 else 1.0
    return lo * scale, hi * scale


def _outside_range(a: OpArrays, profile: EfficiencyProfile) -> bool:
    """True when a kernel is larger or smaller than anything the fit measured."""
    if not profile.measured_range or len(a) == 0:
        return False
    kinds = _class_names(a, profile.measured_range)
    columns = {"flops": a.flops, "bytes": a.total_bytes}
    for kind, ranges in profile.measured_range.items():
        rows = kinds == kind
        for column, (lo, hi) in ranges.items():
            values = columns[column][rows]
            if values.size and (values.min() < lo or values.max() > hi):
                return True
    return False
