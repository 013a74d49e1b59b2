"""One rank's share of a workload under a sharding, and its distinct kernels, kept by the
workload: plans and what-ifs price the same sharding many times."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulator.core.arrays import OpArrays, to_arrays
from simulator.core.distinct import Distinct, distinct_ops
from simulator.parallel.pipeline import stage_of_slot
from simulator.parallel.roles import OpRoles
from simulator.parallel.sharding import ShardSpec, shard
from workloads.op import Workload


@dataclass(frozen=True)
class Sharded:
    arrays: OpArrays      # one rank's share of every kernel
    distinct: Distinct    # its distinct kernels
    roles: OpRoles

    @cached_property
    def transient_act_bytes(self) -> float:
        """The largest kernel's activation inputs plus outputs (traced format)."""
        a = self.arrays
        return float((a.act_read_bytes + a.act_write_bytes).max(initial=0.0))

    def stage_counts(self, pp: int) -> np.ndarray:
        """(pp, u): how many kernels of each distinct row run on each pipeline stage."""
        key = ("stage_counts", pp)
        if key not in self.__dict__:
            stage = stage_of_slot(self.roles.layers, pp)[self.roles.slot]
            counts = np.zeros((pp, len(self.distinct.counts)))
            np.add.at(counts, (stage, self.distinct.inverse), 1.0)
            self.__dict__[key] = counts
        return self.__dict__[key]


def sharded(w: Workload, roles: OpRoles, spec: ShardSpec) -> Sharded:
    """One rank's share of `w` under `spec`, built once per (roles, spec), kept by `w`."""
    def build() -> Sharded:
        a = shard(to_arrays(w), roles, spec)
        return Sharded(arrays=a, distinct=distinct_ops(a), roles=roles)

    return w.derived(("sharded", id(roles), spec.key), build)
