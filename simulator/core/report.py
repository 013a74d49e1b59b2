"""The result of pricing a workload on one device: per-op costs, totals, memory, energy and
dollars, and its `Metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.arrays import KINDS, PASSES, OpArrays
from simulator.core.cost import CostSummary
from simulator.core.memory import Footprint
from simulator.core.metrics import Metrics
from simulator.core.pricing import BOUNDS, KernelTimes
from workloads.op import Phase


@dataclass(frozen=True)
class Report:
    model: str
    device: str
    phase: Phase
    batch: int
    seq: int
    context: int
    precision: str
    profile: str
    ideal: bool
    arrays: OpArrays
    ops: KernelTimes                # (n,) per kernel
    footprint: Footprint
    cost: CostSummary
    metrics: Metrics                # the shared vocabulary (see `simulator.core.metrics`)
    model_flops: float              # forward + backward as the model defines it, no recompute
    hardware_flops: float           # all executed work, recompute and dequantization included
    peak_flops_per_s: float         # matrix peak at the compute format (MFU's basis; 2:4 sparse
                                    # with sparse weights)
    interval_s: tuple[float, float] | None = None   # p10-p90 from the calibration residuals
    profile_origin: str = ""        # fitted on this device, or transferred from which one
    outside_measured_range: bool = False

    @property
    def time_s(self) -> float:
        return self.metrics.time_s

    @property
    def recompute_s(self) -> float:
        return self.metrics.recompute_s

    @property
    def compute_s(self) -> float:
        return self.metrics.compute_s

    @property
    def memory_s(self) -> float:
        return self.metrics.memory_s

    @property
    def overhead_s(self) -> float:
        return self.metrics.overhead_s

    @property
    def bound(self) -> str:
        """The bound that holds for the largest share of the time."""
        return self.metrics.bound

    @property
    def tokens(self) -> int:
        return self.metrics.tokens

    @property
    def tokens_per_s(self) -> float:
        return self.metrics.tokens_per_s

    @property
    def max_batch(self) -> int | None:
        return self.metrics.max_batch

    @property
    def mfu(self) -> float | None:
        return self.metrics.mfu

    @property
    def hfu(self) -> float | None:
        if self.phase is not Phase.TRAIN:
            return None
        return self.hardware_flops / (self.time_s * self.peak_flops_per_s)

    def to_frame(self):
        """One row per op: the one way out to pandas."""
        import pandas as pd

        a, t = self.arrays, self.ops
        return pd.DataFrame({
            "name": a.names,
            "kind": [KINDS[k].value for k in a.kind],
            "layer": a.layer,
            "pass": [PASSES[p].value for p in a.pass_],
            "flops": t.flops,
            "bytes": t.bytes,
            "compute_s": t.compute_s,
            "memory_s": t.memory_s,
            "overhead_s": t.overhead_s,
            "time_s": t.time_s,
            "bound": [BOUNDS[b].value for b in t.bound],
        })

    def by_kind(self):
        frame = self.to_frame()
        cols = ["flops", "bytes", "compute_s", "memory_s", "overhead_s", "time_s"]
        out = frame.groupby("kind")[cols].sum()
        out["ops"] = frame.groupby("kind").size()
        return out.sort_values("time_s", ascending=False)

    def by_layer(self):
        frame = self.to_frame()
        cols = ["flops", "bytes", "time_s"]
        return frame.groupby("layer")[cols].sum()

    def summary(self) -> dict[str, Any]:
        """The JSON keys the CLI prints (SI units, named with the unit)."""
        out: dict[str, Any] = {
            "model": self.model, "device": self.device, "phase": self.phase.value,
            "batch": self.batch, "seq": self.seq, "context": self.context,
            "precision": self.precision, "profile": self.profile,
            "profile_origin": self.profile_origin, "ideal": self.ideal,
            **self.metrics.as_dict(),
            "model_flops": self.model_flops, "num_ops": len(self.arrays),
            "memory_breakdown": self.footprint.as_dict(),
            "interval_s": list(self.interval_s) if self.interval_s else None,
            "outside_measured_range": self.outside_measured_range,
        }
        if self.phase is Phase.TRAIN:
            out.update(hfu=self.hfu, step_time_s=self.time_s)
        else:
            key = "ttft_s" if self.phase is Phase.PREFILL else "tpot_s"
            out[key] = self.time_s
            side = "input" if self.phase is Phase.PREFILL else "output"
            out[f"usd_per_1m_{side}_tokens"] = self.cost.usd_per_1m_tokens
        return out
