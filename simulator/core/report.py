"""The result of pricing a workload: per-op costs, totals, memory, energy and dollars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.core.arrays import KINDS, PASSES, OpArrays
from simulator.core.cost import CostSummary
from simulator.core.memory import Footprint
from simulator.core.roofline import BOUNDS, OpTimes
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
    ops: OpTimes
    footprint: Footprint
    cost: CostSummary
    tokens: int
    model_flops: float              # forward + backward as the model defines it, no recompute
    hardware_flops: float           # all executed work, recompute and dequantization included
    recompute_s: float              # extra time recomputing activations in backward
    peak_flops_per_s: float         # dense matrix peak at the compute format (MFU's basis)
    max_batch: int | None = None    # inference: the largest batch that fits
    interval_s: tuple[float, float] | None = None   # p10-p90 from the calibration residuals
    outside_measured_range: bool = False

    @property
    def time_s(self) -> float:
        return self.ops.total_s + self.recompute_s

    @property
    def compute_s(self) -> float:
        return float(self.ops.compute_s.sum())

    @property
    def memory_s(self) -> float:
        return float(self.ops.memory_s.sum())

    @property
    def overhead_s(self) -> float:
        return float(self.ops.overhead_s.sum())

    @property
    def bound(self) -> str:
        """The bound that holds for the largest share of the time."""
        shares = [float(self.ops.time_s[self.ops.bound == i].sum()) for i in range(3)]
        return BOUNDS[int(np.argmax(shares))]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.time_s if self.time_s > 0 else float("inf")

    @property
    def mfu(self) -> float | None:
        if self.phase is not Phase.TRAIN:
            return None
        return self.model_flops / (self.time_s * self.peak_flops_per_s)

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
            "bound": [BOUNDS[b] for b in t.bound],
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
            "precision": self.precision, "profile": self.profile, "ideal": self.ideal,
            "time_s": self.time_s, "compute_s": self.compute_s, "memory_s": self.memory_s,
            "overhead_s": self.overhead_s, "bound": self.bound,
            "flops": self.hardware_flops, "model_flops": self.model_flops,
            "bytes": float(self.ops.bytes.sum()), "num_ops": len(self.arrays),
            "memory_bytes": self.footprint.total_bytes,
            "memory_capacity_bytes": self.footprint.capacity_bytes,
            "memory_breakdown": self.footprint.as_dict(),
            "feasible": self.footprint.feasible,
            "tokens": self.tokens, "tokens_per_s": self.tokens_per_s,
            "power_w": self.cost.power_w, "energy_j": self.cost.energy_j,
            "j_per_token": self.cost.j_per_token, "usd_per_hour": self.cost.usd_per_hour,
            "usd_per_1m_tokens": self.cost.usd_per_1m_tokens,
            "interval_s": list(self.interval_s) if self.interval_s else None,
            "outside_measured_range": self.outside_measured_range,
        }
        if self.phase is Phase.TRAIN:
            out.update(mfu=self.mfu, hfu=self.hfu, step_time_s=self.time_s)
        else:
            out["max_batch"] = self.max_batch
            key = "ttft_s" if self.phase is Phase.PREFILL else "tpot_s"
            out[key] = self.time_s
            side = "input" if self.phase is Phase.PREFILL else "output"
            out[f"usd_per_1m_{side}_tokens"] = self.cost.usd_per_1m_tokens
        return out
