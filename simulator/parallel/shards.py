"""One rank's share of a workload under a sharding, and its distinct kernels, kept by the
workload: plans and what-ifs price the same sharding many times."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from simulator.core.arrays import OpArrays, to_arrays
from simulator.core.distinct import Distinct, distinct_ops
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


def sharded(w: Workload, roles: OpRoles, spec: ShardSpec) -> Sharded:
    """One rank's share of `w` under `spec`, built once per (roles, spec), kept by `w`."""
    def build() -> Sharded:
        a = shard(to_arrays(w), roles, spec)
        return Sharded(arrays=a, distinct=distinct_ops(a), roles=roles)

    return w.derived(("sharded", id(roles), spec.key), build)
