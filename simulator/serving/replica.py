"""One serving replica: a model on a parallel plan on a system, priced with some options."""

from __future__ import annotations

from dataclasses import dataclass, field

from hwspecs.schema import System
from simulator.core.options import Options
from simulator.parallel.plan import Plan


@dataclass(frozen=True)
class ReplicaSpec:
    """A model on a plan on a system (one serving replica)."""

    model: str
    system: System
    plan: Plan = field(default_factory=Plan)
    options: Options = field(default_factory=Options)
    # NB: like vLLM's gpu_memory_utilization, a share of memory is left to the runtime.
    memory_utilization: float = 0.9

    @property
    def gpus(self) -> int:
        return self.plan.gpus

    @property
    def label(self) -> str:
        return f"{self.system.device.name} {self.plan.serving_label()}"
