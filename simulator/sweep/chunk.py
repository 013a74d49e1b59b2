"""One chunk of a sweep: every point of one workload shape as a DataFrame, devices x plans x
precisions x variants (single-device points from `single`, plan points from `plans`), each
with what priced its kernels (`kernels`: model or measured) and the share of its time the
measurements priced (`measured_share`, see `sweep.kernels`)."""

from __future__ import annotations

import numpy as np

from hwspecs.scale import FACTOR_NAMES
from simulator.core.measured_pricing import KernelSource, measured_share, workload_kernel_check
from simulator.core.metrics import METRIC_NAMES
from simulator.core.variants import Variants
from simulator.sweep.grid import ChunkKey, Grid, variant_label
from simulator.sweep.grid_plans import SINGLE, plan_label
from simulator.sweep.kernels import point_share, source_on, sweep_options
from simulator.sweep.plans import PlanPoints
from simulator.sweep.single import single_points


def evaluate_chunk(grid: Grid, key: ChunkKey):
    import pandas as pd

    from hwspecs import load_device
    from workloads import get_workload

    w = get_workload(key.model, key.phase, key.batch, key.seq, key.context)
    n = len(grid.variants)
    variants = Variants.of(grid.scale_factors())
    plans = PlanPoints(grid, key, w, variants)
    labels = np.array([variant_label(v) for v in grid.variants], dtype=object)
    options = [sweep_options(grid, precision) for precision in grid.precisions]
    parts = []
    for ref in grid.devices:
        device = load_device(ref)
        source = source_on(device, options[0])
        for item in grid.plans:
            if item == SINGLE:
                gpus, tokens = 1, w.tokens
                points = [single_points(w, device, variants, o) for o in options]
            else:
                gpus, tokens, points = plans.points(ref, item, options)
            for o, (metrics, error) in zip(options, points, strict=True):
                precision = o.precision
                columns = metrics.as_dict()
                share = _share(plans, ref, device, item, o, source, error)
                parts.append({
                    "chunk": np.full(n, key.index), "model": np.full(n, key.model, object),
                    "phase": np.full(n, key.phase.value, object),
                    "batch": np.full(n, key.batch), "seq": np.full(n, key.seq),
                    "context": np.full(n, key.context),
                    "device": np.full(n, device.name, object),
                    "plan": np.full(n, plan_label(item), object), "gpus": np.full(n, gpus),
                    "precision": np.full(n, precision.label, object), "variant": labels,
                    **{name: variants.columns[name] for name in FACTOR_NAMES},
                    **{m: columns[m] for m in METRIC_NAMES},
                    "tokens": np.full(n, tokens), "error": np.full(n, error, object),
                    "kernels": np.full(n, source.value, object),
                    "measured_share": np.full(n, share)})
    return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})


def _share(plans: PlanPoints, ref: str, device, item, options, source: KernelSource,
           error: str) -> float:
    """The point's `measured_share`: 0 where the model priced it, NaN where it has no time."""
    if error:
        return np.nan
    if source is KernelSource.MODEL:
        return 0.0
    if item == SINGLE:
        return point_share(lambda: measured_share(workload_kernel_check(plans.w, device,
                                                                     options)))
    return plans.measured_share(ref, item, options)
