"""One serving replica: a model on a parallel plan on a system, priced with some options."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwspecs.schema import System
from simulator.core.options import Options
from simulator.parallel.plan import Plan

# How an engine sizes its KV cache from one GPU's memory M, weights W and activations A, with
# the share u (`ReplicaSpec.memory_utilization`): "total" u M - W - A (vLLM
# gpu_memory_utilization), "static" u M - W (SGLang mem_fraction_static: activations and CUDA
# graph buffers live in the rest), "free" u (M - W - A) (TensorRT-LLM free_gpu_memory_fraction).
MEMORY_RULES = ("total", "static", "free")


def kv_cache_bytes(capacity: float, weights: float, activations: float, share: float,
                   rule: str) -> float:
    """Bytes one GPU gives its KV cache under `rule` (negative: the model does not fit)."""
    if rule == "total":
        return capacity * share - weights - activations
    if rule == "static":
        return capacity * share - weights
    if rule == "free":
        left = capacity - weights - activations
        return left * share if left > 0 else left
    raise ValueError(f"unknown KV-cache memory rule {rule!r}; use {', '.join(MEMORY_RULES)}")


@dataclass(frozen=True)
class ReplicaSpec:
    """A model on a plan on a system (one serving replica)."""

    model: str
    system: System
    plan: Plan = field(default_factory=Plan)
    options: Options = field(default_factory=Options)
    # NB: like vLLM's gpu_memory_utilization, a share of memory is left to the runtime.
    memory_utilization: float = 0.9
    memory_rule: str = "total"          # MEMORY_RULES; an engine preset sets both

    def __post_init__(self) -> None:
        if not (0 < self.memory_utilization <= 1 and np.isfinite(self.memory_utilization)):
            raise ValueError(f"the memory share for the KV cache must be in (0, 1], not "
                             f"{self.memory_utilization!r}")
        if self.memory_rule not in MEMORY_RULES:
            raise ValueError(f"unknown KV-cache memory rule {self.memory_rule!r}; use "
                             f"{', '.join(MEMORY_RULES)}")

    @property
    def gpus(self) -> int:
        return self.plan.gpus

    @property
    def label(self) -> str:
        return f"{self.system.device.name} {self.plan.serving_label()}"
