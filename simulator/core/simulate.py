"""Price one lowered workload on one device: the single-device cost model's entry point."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator.core.arrays import KINDS, PASSES, OpArrays, to_arrays
from simulator.core.cost import CostOptions, summarize
from simulator.core.efficiency import EfficiencyProfile, ideal, profile_for
from simulator.core.memory import Recompute, footprint, max_batch
from simulator.core.precision import Precision
from simulator.core.report import Report
from simulator.core.roofline import OpTimes, price
from workloads.op import Pass, Phase, Workload

_FORWARD = PASSES.index(Pass.FORWARD)
_OPTIMIZER = PASSES.index(Pass.OPTIMIZER)


@dataclass(frozen=True)
class SimOptions:
    precision: Precision = field(default_factory=Precision)
    ideal: bool = False
    recompute: Recompute = Recompute.NONE
    cost: CostOptions = field(default_factory=CostOptions)
    profile: EfficiencyProfile | None = None   # None: the device's fitted or default profile


def resolve_profile(device: DeviceSpec, options: SimOptions) -> EfficiencyProfile:
    profile = options.profile or profile_for(device)
    return ideal(profile) if options.ideal else profile


def recompute_rows(a: OpArrays, recompute: Recompute) -> np.ndarray:
    """Forward ops of the layer stack that backward runs again."""
    in_layers = (a.pass_ == _FORWARD) & (a.layer >= 0)
    if recompute is Recompute.FULL:
        return in_layers
    if recompute is Recompute.SELECTIVE:
        return in_layers & ~a.on_matrix
    return np.zeros(len(a), dtype=bool)


def simulate(workload: Workload, device: DeviceSpec,
             options: SimOptions | None = None) -> Report:
    options = options or SimOptions()
    a = to_arrays(workload)
    profile = resolve_profile(device, options)
    times = price(a, device, profile, workload.dtype, options.precision)
    train = workload.phase is Phase.TRAIN
    recompute = recompute_rows(a, options.recompute) if train else np.zeros(len(a), bool)
    recompute_s = float(times.time_s[recompute].sum())
    model_flops = float(a.flops[a.pass_ != _OPTIMIZER].sum())
    hardware_flops = float(times.flops.sum() + times.flops[recompute].sum())
    mem = footprint(a, workload, options.precision, device.mem_capacity_bytes,
                    options.recompute)
    busy_s = float(np.maximum(times.compute_s, times.memory_s).sum()) + recompute_s
    total_s = times.total_s + recompute_s
    cost = summarize(device, total_s, busy_s, workload.tokens, options.cost)
    peak = device.matrix_peak(options.precision.activations)
    return Report(
        model=workload.model.name, device=device.name, phase=workload.phase,
        batch=workload.batch, seq=workload.seq, context=workload.context,
        precision=options.precision.label, profile=profile.name, ideal=options.ideal,
        arrays=a, ops=times, footprint=mem, cost=cost, tokens=workload.tokens,
        model_flops=model_flops, hardware_flops=hardware_flops, recompute_s=recompute_s,
        peak_flops_per_s=peak,
        max_batch=None if train else max_batch(a, workload, options.precision,
                                               device.mem_capacity_bytes),
        interval_s=_interval(a, times, recompute_s, profile),
        outside_measured_range=_outside_range(a, profile),
    )


def compare(workload: Workload, devices: list[DeviceSpec],
            options: SimOptions | None = None) -> list[Report]:
    return [simulate(workload, d, options) for d in devices]


def _kind_names(a: OpArrays) -> np.ndarray:
    return np.array([KINDS[k].value for k in a.kind])


def _interval(a: OpArrays, t: OpTimes, recompute_s: float,
              profile: EfficiencyProfile) -> tuple[float, float] | None:
    """p10-p90 of the total from each kernel class's calibration residuals.

    NB: sums per-op quantiles, which widens the interval (errors are taken as correlated)."""
    if not profile.intervals or len(a) == 0:
        return None
    kinds = _kind_names(a)
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
    kinds = _kind_names(a)
    columns = {"flops": a.flops, "bytes": a.total_bytes}
    for kind, ranges in profile.measured_range.items():
        rows = kinds == kind
        for column, (lo, hi) in ranges.items():
            values = columns[column][rows]
            if values.size and (values.min() < lo or values.max() > hi):
                return True
    return False
