"""The distinct kernels of a workload: layers repeat the same ones, and every per-op price
depends only on `arrays.PRICE_COLUMNS`, so each distinct kernel is priced once and mapped back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.core.arrays import PRICE_COLUMNS, OpArrays, to_arrays
from workloads.op import Workload


@dataclass(frozen=True)
class Distinct:
    """The distinct kernels of an arrays object and where each row's price comes from."""

    ops: OpArrays
    inverse: np.ndarray   # (n,) row of `ops` for each kernel
    counts: np.ndarray    # (u,) kernels each distinct row stands for


def distinct_ops(a: OpArrays) -> Distinct:
    table = np.column_stack([getattr(a, c).astype(float) for c in PRICE_COLUMNS])
    _, first, inverse, counts = np.unique(table, axis=0, return_index=True,
                                          return_inverse=True, return_counts=True)
    return Distinct(ops=a.take(first), inverse=inverse.reshape(-1), counts=counts)


def distinct_of(w: Workload) -> Distinct:
    """The distinct kernels of the whole workload, kept by the workload."""
    return w.derived("distinct", lambda: distinct_ops(to_arrays(w)))
