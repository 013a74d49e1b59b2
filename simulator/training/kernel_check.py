"""How much of a training step the measured tables price (`measured_share`, as `infer` and
`simulate` report it): one GPU's sharded kernels of the plan, each distinct kernel weighted by
how often a step runs it (every micro-batch's forward and backward, the forward again where
the plan recomputes it, the optimizer step once).

NB: the plan's collectives (TP, DP, EP, pipeline sends) are left out: the measured tables hold
inference all-reduces, which a training step's are not priced from.
"""

from __future__ import annotations

import numpy as np

from simulator.core.arrays import PASS_CODE
from simulator.core.distinct import distinct_ops
from simulator.core.measured_pricing import kernel_check, measured_share
from simulator.core.memory import Recompute
from simulator.parallel.plan import Plan
from simulator.parallel.sharding import shard
from simulator.training.slots import Prepared, _take_roles
from simulator.training.step import spec_for
from workloads.op import Pass

_FWD = PASS_CODE[Pass.FORWARD]


def training_measured_share(prep: Prepared, plan: Plan) -> dict:
    """`measured_share` of one step of `plan` (see the module doc)."""
    import pandas as pd

    spec = spec_for(prep, plan)
    a, r = prep.main
    sub = shard(a, r, spec)
    rerun = np.zeros(len(sub), bool)
    in_layer_fwd = (sub.pass_ == _FWD) & (sub.layer >= 0)
    if plan.recompute is Recompute.FULL:
        rerun = in_layer_fwd
    elif plan.recompute is Recompute.SELECTIVE:
        rerun = in_layer_fwd & ~sub.on_matrix
    parts = [(sub, plan.micro_batches * (1.0 + rerun))]
    o_rows = np.flatnonzero(prep.roles.optimizer)
    if o_rows.size:
        o_sub = shard(prep.arrays.take(o_rows), _take_roles(prep.roles, o_rows), spec)
        parts.append((o_sub, np.ones(len(o_sub))))
    frames = []
    for arrays, weight in parts:
        d = distinct_ops(arrays)
        counts = np.bincount(d.inverse, weights=weight, minlength=len(d.ops))
        frames.append(kernel_check(d.ops, counts, prep.system.device, prep.profile,
                                   prep.workload.dtype, prep.precision))
    return measured_share(pd.concat(frames, ignore_index=True))
