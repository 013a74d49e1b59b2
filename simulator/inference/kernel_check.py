"""A plan checked kernel by kernel: every distinct kernel one GPU runs in a step, priced by the
fitted model and from the measurements, and the share of a request's time the measurements
priced (`measured_share`).

One GPU's share of each kernel (`step_shards`), each distinct kernel with how many times a
step runs it, plus the step's TP all-reduces (one row per message size) and, where the plan
has them, the EP dispatches and pipeline sends, which the model alone prices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwspecs.schema import System
from simulator.comm.costs import all_reduce_times
from simulator.core.measured_pricing import (
    MeasuredProfile,
    check_frame,
    kernel_check,
    measured_share,
)
from simulator.core.measured_tables import KernelLookup, MeasuredKernels
from simulator.core.options import Options
from simulator.inference.request import InferenceWorkloads
from simulator.inference.step import step_comm_s, step_shards
from simulator.parallel.plan import Plan
from workloads.op import Workload


def plan_kernel_check(w: Workload, system: System, plan: Plan, options: Options
                      ) -> pd.DataFrame:
    """One step of `w` on `plan`: a row per distinct kernel and per collective message size
    (`measured_pricing.kernel_check`'s columns)."""
    r, s = step_shards(w, plan, options)
    device = system.device
    profile = options.profile_for(device)
    model = profile.model if isinstance(profile, MeasuredProfile) else profile
    grids = profile.measured if isinstance(profile, MeasuredProfile) else \
        MeasuredKernels(device.name, profile.engine)
    frames = [kernel_check(s.distinct.ops, s.distinct.counts, device, profile, w.dtype,
                           options.precision)]
    scale = options.precision.activations.bits / w.dtype.bits
    sizes, calls = r.tp_fwd_sizes
    tp_s = 0.0
    if plan.tp > 1 and sizes.size:
        sizes = sizes * scale
        model_s = all_reduce_times(system, sizes, plan.tp, model)
        seconds, reason = grids.collective_s("all_reduce", sizes, plan.tp)
        frames.append(check_frame(["all_reduce"] * len(sizes),
                                  ["collective"] * len(sizes), calls,
                                  [f"{x:.4g} B over {plan.tp} GPUs" for x in sizes], model_s,
                                  KernelLookup(seconds, reason)))
        tp_s = float(model_s @ calls)
    rest = step_comm_s(w, r, system, plan, options.precision, model) - tp_s
    if rest > 1e-15:
        frames.append(check_frame(["EP dispatch and pipeline sends"], ["collective"], [1.0],
                                  ["-"], np.array([rest]),
                                  KernelLookup(np.array([np.nan]), np.array([1], np.int8))))
    out = pd.concat(frames, ignore_index=True)
    out["error"] = out["model_s"] / out["measured_s"] - 1.0
    return out


def request_measured_share(ws: InferenceWorkloads, system: System, plan: Plan,
                           options: Options) -> dict:
    """`measured_share` of a request: its prefill once and its output_len - 1 decode steps
    at the mean of the first and last."""
    steps = max(ws.output_len - 1, 0)
    parts = [(ws.prefill, 1.0)]
    if ws.decode_end is ws.decode_start:
        parts.append((ws.decode_start, float(steps)))
    else:
        parts += [(ws.decode_start, steps / 2), (ws.decode_end, steps / 2)]
    frames, weights = [], []
    for w, weight in parts:
        if weight <= 0:
            continue
        f = plan_kernel_check(w, system, plan, options)
        frames.append(f.assign(step=w.phase.value))
        weights.append(np.full(len(f), weight))
    return measured_share(pd.concat(frames, ignore_index=True), np.concatenate(weights))
