"""One chunk of a sweep: every point of one workload shape as a DataFrame, devices x plans x
precisions x variants (single-device points from `single`, plan points from `plans`)."""

from __future__ import annotations

import numpy as np

from hwspecs.scale import FACTOR_NAMES
from simulator.core.memory import Recompute
from simulator.core.metrics import METRIC_NAMES
from simulator.core.options import Options
from simulator.core.variants import Variants
from simulator.sweep.grid import ChunkKey, Grid, variant_label
from simulator.sweep.grid_plans import SINGLE, plan_label
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
    options = [Options(precision=precision, ideal=grid.ideal,
                       recompute=Recompute.parse(grid.recompute), cost=grid.cost_options())
               for precision in grid.precisions]
    parts = []
    for ref in grid.devices:
        device = load_device(ref)
        for item in grid.plans:
            if item == SINGLE:
                gpus, tokens = 1, w.tokens
                points = [single_points(w, device, variants, o) for o in options]
            else:
                gpus, tokens, points = plans.points(ref, item, options)
            for precision, (metrics, error) in zip(grid.precisions, points, strict=True):
                columns = metrics.as_dict()
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
                    "tokens": np.full(n, tokens), "error": np.full(n, error, object)})
    return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})
