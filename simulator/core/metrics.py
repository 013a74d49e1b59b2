"""One vocabulary: the quantities every report prints, every sweep column holds and the app
shows, under one set of names with the unit in each (SI).

A `Metrics` holds one value per field for a report (`Report.metrics`, `InferenceReport.metrics`,
`TrainingReport.metrics`) or one (V,) column per field for a sweep chunk; `as_dict()` gives the
JSON keys and the Parquet columns alike. What a report priced sets their meaning:
- `time_s`: the time of what was priced (one step on one device; one optimizer step; one request
  batch from its arrival to its last token); `tokens`: the tokens it produced (prefill: prompt
  tokens; decode and serving: output tokens; training: tokens of the step), over all replicas;
- `compute_s`, `memory_s`, `overhead_s`: one GPU's kernel time by what bounds it, through every
  pipeline stage; `comm_s`: communication inside `time_s` (training: the exposed part);
  `recompute_s`: backward's re-run forward; `bound`: which term holds most of the kernel time;
- `flops`, `bytes`: work and traffic of all the GPUs; `memory_bytes`: one GPU's footprint (the
  fullest stage) against `memory_capacity_bytes`; `feasible`: it fits;
- `power_w`, `energy_j`, `usd_per_hour`: all GPUs; `usd_per_1m_tokens` and `j_per_token` per
  token of `tokens`;
- `mfu`: model FLOPs over time x GPUs x the dense matrix peak at the compute format (the
  2:4-sparse peak with sparse weights, so it is at most 1; training; NaN otherwise); `max_batch`: the largest batch whose memory fits (inference; -1 otherwise).
Where a figure does not apply or a spec lacks what it needs, a report holds None and a sweep
column NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Metrics:
    time_s: Any
    compute_s: Any
    memory_s: Any
    overhead_s: Any
    recompute_s: Any
    comm_s: Any
    bound: Any
    flops: Any
    bytes: Any
    memory_bytes: Any
    memory_capacity_bytes: Any
    feasible: Any
    tokens: Any
    tokens_per_s: Any
    power_w: Any
    energy_j: Any
    j_per_token: Any
    usd_per_hour: Any
    usd_per_1m_tokens: Any
    mfu: Any
    max_batch: Any

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in METRIC_NAMES}

    @classmethod
    def missing(cls, n: int) -> Metrics:
        """n points that cannot run at all (a precision the device lacks, an impossible plan):
        the points stay, with the reason beside them."""
        values = {name: np.full(n, np.nan) for name in METRIC_NAMES}
        values.update(bound=np.full(n, "", dtype=object), feasible=np.zeros(n, bool),
                      max_batch=np.full(n, -1, dtype=np.int64))
        return cls(**values)


METRIC_NAMES = tuple(f.name for f in fields(Metrics))
