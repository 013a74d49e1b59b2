"""The distinct kernels of a workload: layers repeat the same ones, and every per-op price
depends only on a few columns, so each distinct kernel is priced once and mapped back.

`sharded(w, roles, spec)` is one rank's share of a workload's kernels (`sharding.shard`) with
its distinct kernels, cached on the workload: plans and what-ifs price the same sharding many
times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulator.core.arrays import OpArrays, to_arrays
from simulator.parallel.roles import OpRoles
from simulator.parallel.sharding import ShardSpec, shard
from workloads.op import Workload


class _DistinctOps(OpArrays):
    """Distinct kernels whose matrix-unit mask is computed once (pricing asks for it often)."""

    @cached_property
    def on_matrix(self) -> np.ndarray:
        return OpArrays.on_matrix.fget(self)


@dataclass(frozen=True)
class Distinct:
    """The distinct kernels of a workload (layers repeat the same ones): every per-op price
    depends only on these columns, so each is priced once and mapped back to its rows."""

    ops: OpArrays
    inverse: np.ndarray   # (n,) row of `ops` for each kernel
    counts: np.ndarray


_PRICE_COLUMNS = ("kind", "flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
                  "kv_read_bytes", "kv_write_bytes", "other_bytes", "compute_dtype", "m", "n",
                  "k", "batch", "weight_elements")


def distinct_ops(a: OpArrays) -> Distinct:
    table = np.column_stack([getattr(a, c).astype(float) for c in _PRICE_COLUMNS])
    _, first, inverse, counts = np.unique(table, axis=0, return_index=True,
                                          return_inverse=True, return_counts=True)
    ops = _DistinctOps(**{f: getattr(a, f)[first] for f in a.__dataclass_fields__ if f != "names"},
                   names=tuple(a.names[i] for i in first))
    return Distinct(ops=ops, inverse=inverse.reshape(-1), counts=counts)


@dataclass(frozen=True)
class Sharded:
    arrays: OpArrays      # one rank's share of every kernel
    distinct: Distinct    # its distinct kernels


def sharded(w: Workload, roles: OpRoles, spec: ShardSpec) -> Sharded:
    """One rank's share of `w` under `spec`, built once per (roles, spec) and cached on `w`."""
    cache = w.__dict__.setdefault("_archsim_shards", {})
    key = (id(roles), spec.key)
    hit = cache.get(key)
    if hit is None or hit[0] is not roles:
        a = shard(to_arrays(w), roles, spec)
        hit = cache[key] = (roles, Sharded(arrays=a, distinct=distinct_ops(a)))
    return hit[1]
