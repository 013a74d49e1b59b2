"""The view a deployment is chosen from: output tokens/s per GPU against output tokens/s per
user, over a sweep of closed-loop concurrencies, for each hardware, TP degree and precision,
aggregated (one pool) and disaggregated (a prefill and a decode replica of that TP).

    q = FrontierQuery("llama-3.1-70b", ("dgx-h100",), tps=(2, 4, 8), engine="trtllm",
                      precisions=("fp8",), slo=Slo(ttft_s=1.0, tpot_s=0.05))
    f = concurrency_frontier(q)
    f.pareto      # the points no other beats on both axes
    f.frame()     # the table behind the chart (pandas)

A point meets the SLOs when its p99 TTFT and p99 TPOT are within them; the SLO line on the
chart is tokens/s per user = 1 / the TPOT target. Tokens/s per user is 1 / mean TPOT (a
request's decode speed), per GPU is the loop's output tokens/s over all its GPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hwspecs.registry import load_system
from simulator.core.cost import CostOptions, power_w, usd_per_hour
from simulator.core.measured_pricing import KernelSource
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.parallel.plan import Plan
from simulator.parallel.systems import system_for_gpus
from simulator.serving.closed_loop import ClosedLoop, Pool, simulate_closed_loop
from simulator.serving.engines import replica_setup
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.simulation import Slo

CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MODES = ("agg", "disagg")


@dataclass(frozen=True)
class FrontierQuery:
    model: str
    hardware: tuple[str, ...]
    tps: tuple[int, ...] = (1, 2, 4, 8)
    precisions: tuple[str, ...] = ("bf16",)
    concurrencies: tuple[int, ...] = CONCURRENCIES
    input_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 1024))
    output_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 1024))
    engine: str | None = None
    modes: tuple[str, ...] = ("agg",)
    slo: Slo = field(default_factory=Slo)
    rounds: int = 10                    # requests per loop: rounds x concurrency
    overrides: tuple[tuple[str, object], ...] = ()   # scheduler flags over the preset
    cost: CostOptions = field(default_factory=CostOptions)
    tp_plan: object = None              # the model's transformers TP plan
    kernels: KernelSource = KernelSource.MODEL   # MEASURED: from the measured tables
    kernels_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.hardware:
            raise ValueError("name at least one device or system to sweep")
        bad = [c for c in self.concurrencies if isinstance(c, bool) or not isinstance(c, int)
               or c < 1]
        if not self.concurrencies or bad:
            raise ValueError(f"concurrencies must be whole numbers >= 1, not {bad or '()'}")
        unknown = set(self.modes) - set(MODES)
        if unknown or not self.modes:
            raise ValueError(f"modes are {' and '.join(MODES)}, not {sorted(unknown)}")


@dataclass(frozen=True)
class FrontierPoint:
    hardware: str
    device: str
    mode: str
    tp: int
    precision: str
    concurrency: int
    gpus: int
    ttft_mean_s: float
    ttft_p99_s: float
    tpot_mean_s: float
    tpot_p99_s: float
    output_tokens_per_s_per_gpu: float
    output_tokens_per_s_per_user: float
    requests_per_s: float
    usd_per_1m_output_tokens: float | None
    meets_slo: bool
    pareto: bool = False

    @property
    def label(self) -> str:
        pools = f"1P{self.tp}+1D{self.tp}" if self.mode == "disagg" else f"TP{self.tp}"
        return f"{self.hardware} {pools} {self.precision}"

    def as_dict(self) -> dict:
        return {**self.__dict__, "label": self.label}


@dataclass(frozen=True)
class Refused:
    hardware: str
    mode: str
    tp: int
    precision: str
    reason: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Frontier:
    query: FrontierQuery
    points: tuple[FrontierPoint, ...]
    refused: tuple[Refused, ...]

    @property
    def pareto(self) -> tuple[FrontierPoint, ...]:
        return tuple(sorted((p for p in self.points if p.pareto),
                            key=lambda p: p.output_tokens_per_s_per_user))

    def frame(self):
        import pandas as pd

        columns = [f for f in FrontierPoint.__dataclass_fields__] + ["label"]
        return pd.DataFrame([p.as_dict() for p in self.points], columns=columns)


def concurrency_frontier(q: FrontierQuery) -> Frontier:
    """Every (hardware, TP, precision, mode) option at every concurrency; an option that cannot
    run (system, plan, precision, memory) is refused with its reason, the others go on."""
    for hw in q.hardware:
        load_system(hw)           # an unknown name is the user's error, raised here
    points, refused = [], []
    for hw in q.hardware:
        for tp in q.tps:
            for precision in q.precisions:
                for mode in q.modes:
                    try:
                        points += _option(q, hw, tp, precision, mode)
                    except ValueError as exc:   # PlanError is one
                        refused.append(Refused(hw, mode, tp, precision, str(exc)))
    return Frontier(q, tuple(mark_pareto(points)), tuple(refused))


def _option(q: FrontierQuery, hw: str, tp: int, precision: str, mode: str
            ) -> list[FrontierPoint]:
    system = system_for_gpus(hw, tp * (2 if mode == "disagg" else 1))
    options = Options(precision=Precision.parse(precision), engine=q.engine, cost=q.cost,
                      tp_plan=q.tp_plan, kernels=q.kernels, kernels_dir=q.kernels_dir)
    spec, config, _ = replica_setup(q.model, system, Plan(tp=tp), options, dict(q.overrides))
    max_ctx = q.input_len.max_tokens + q.output_len.max_tokens
    cost = IterationCost(spec, max_context=max_ctx, prompt_tokens=int(q.input_len.a))
    pool = Pool(spec, 1, config, cost)
    prefill = Pool(spec, 1, config, cost) if mode == "disagg" else None
    device = system.device
    hourly = float(usd_per_hour(device, power_w(device, 1.0, q.cost), q.cost))
    out = []
    for c in sorted(set(q.concurrencies)):
        loop = ClosedLoop(c, q.input_len, q.output_len, requests=q.rounds * c)
        m = simulate_closed_loop(loop, pool, prefill).metrics()
        gpus = int(m["gpus"])
        per_s = m["output_tokens_per_s"]
        usd = hourly * gpus / (per_s * 3600) * 1e6 if per_s > 0 and math.isfinite(hourly) \
            else None
        out.append(FrontierPoint(
            hardware=hw, device=device.name, mode=mode, tp=tp, precision=precision,
            concurrency=c, gpus=gpus, ttft_mean_s=m["ttft_mean_s"], ttft_p99_s=m["ttft_p99_s"],
            tpot_mean_s=m["tpot_mean_s"], tpot_p99_s=m["tpot_p99_s"],
            output_tokens_per_s_per_gpu=m["output_tokens_per_s_per_gpu"],
            output_tokens_per_s_per_user=m["output_tokens_per_s_per_user"],
            requests_per_s=m["requests_per_s"], usd_per_1m_output_tokens=usd,
            meets_slo=_meets(m, q.slo)))
    return out


def _meets(m: dict, slo: Slo) -> bool:
    ok = True
    if slo.ttft_s is not None:
        ok &= m["ttft_p99_s"] <= slo.ttft_s
    if slo.tpot_s is not None:
        ok &= not m["tpot_p99_s"] > slo.tpot_s
    return bool(ok)


def mark_pareto(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """Not beaten on both tokens/s per GPU and per user by another point (higher is better)."""
    out = []
    for p in points:
        a, b = p.output_tokens_per_s_per_gpu, p.output_tokens_per_s_per_user
        beaten = any(o.output_tokens_per_s_per_gpu >= a and o.output_tokens_per_s_per_user >= b
                     and (o.output_tokens_per_s_per_gpu > a
                          or o.output_tokens_per_s_per_user > b) for o in points)
        out.append(replace(p, pareto=not beaten))
    return out
