"""How many token-expert rows the measured GPU of a MoE layer computes, and how many of its
experts they touch, under the routing the measurements were taken with.

aiconfigurator's collectors route `balanced` (every expert gets tokens x topk / experts rows)
or `power_law_<alpha>`: per-expert loads drawn from a power law over [1, 0.8 x tokens] (or
[0.01, 2] when there are fewer rows than experts), scaled to tokens x topk rows, and the EP
rank with the most rows is the one timed. This module computes the expectation of that
busiest rank's rows over seeded draws (the collectors' documented procedure, not a fit).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from workloads.lower.rewrites import expected_active

DRAWS = 32   # seeded draws the expectation averages


def alpha_of(distribution: str) -> float | None:
    """None for balanced routing, else the power law's exponent."""
    if distribution in ("balanced", "uniform", ""):
        return None
    if not distribution.startswith("power_law_"):
        raise ValueError(f"unknown MoE routing distribution {distribution!r}")
    return float(distribution.removeprefix("power_law_"))


@lru_cache(maxsize=65536)
def busiest_rank(tokens: int, topk: int, experts: int, ep: int, distribution: str
                 ) -> tuple[float, float]:
    """(rows, active experts) on the EP rank the measurement times."""
    rows = tokens * topk
    local = experts // ep
    alpha = alpha_of(distribution)
    if alpha is None:
        return rows / ep, expected_active(local, 1, rows / ep)
    lo, hi = (1.0, tokens * 0.8) if rows > experts else (0.01, 2.0)
    rng = np.random.default_rng(0)
    u = rng.random((DRAWS, experts))
    if abs(alpha - 1.0) < 1e-9:
        loads = lo * (hi / lo) ** u
    else:
        a = 1.0 - alpha
        loads = ((hi ** a - lo ** a) * u + lo ** a) ** (1.0 / a)
    loads = np.round(loads / loads.sum(axis=1, keepdims=True) * rows)
    per_rank = loads.reshape(DRAWS, ep, local)
    busiest = per_rank.sum(axis=2).argmax(axis=1)
    chosen = per_rank[np.arange(DRAWS), busiest]
    return float(chosen.sum(axis=1).mean()), float((chosen > 0).sum(axis=1).mean())
