"""Capacity planning: how many of which GPU serve Q requests/s within latency SLOs, at what cost.

For each hardware, TP degree, attention-DP degree (`attn_dps`: a replica of tp x attn_dp GPUs
attending data-parallel, its experts shared over all of them by EP) and precision: the largest
rate one replica holds with its p99
TTFT and TPOT within the SLOs (bisection on the serving simulation, with the same random draws
at every rate), the replicas needed for Q, and the cost per hour and per million tokens; the
candidates ranked by cost, the Pareto front of cost against latency, and the reason each
refused candidate fails (system, plan, memory, or the SLO at any rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hwspecs.registry import load_system
from simulator.core.cost import SECONDS_PER_HOUR, CostOptions, power_w, usd_per_hour
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.parallel.plan import Plan, PlanError
from simulator.parallel.systems import system_for_gpus
from simulator.serving.arrivals import check_rate
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.replica import ReplicaSpec
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import ServingResult, Slo, Traffic, simulate_serving
from workloads import model_facts


@dataclass(frozen=True)
class CapacityQuery:
    model: str
    qps: float
    input_len: LengthDist
    output_len: LengthDist
    slo: Slo
    hardware: tuple[str, ...]
    tps: tuple[int, ...] = (1, 2, 4, 8)
    precisions: tuple[str, ...] = ("bf16",)
    attn_dps: tuple[int, ...] = (1,)    # MoE: attention-DP groups per replica (EP over all)
    requests: int = 400                 # per simulation in the bisection
    rel_tol: float = 0.05               # bisection stops within 5 % of the rate
    seed: int = 0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    cost: CostOptions = field(default_factory=CostOptions)

    def __post_init__(self) -> None:
        check_rate(self.qps)
        if self.slo.ttft_s is None or self.slo.tpot_s is None \
                or self.slo.ttft_s <= 0 or self.slo.tpot_s <= 0:
            raise ValueError("capacity planning needs positive p99 SLOs for TTFT and TPOT")
        if not self.hardware:
            raise ValueError("name at least one device or system to plan on")


@dataclass(frozen=True)
class Candidate:
    hardware: str
    device: str
    tp: int
    precision: str
    feasible: bool
    reason: str = ""                    # why it fails, when it does
    kind: str = ""                      # system, plan, memory, slo
    max_rate_per_replica: float = 0.0
    replicas: int = 0
    gpus: int = 0
    usd_per_hour: float | None = None
    usd_per_1m_tokens: float | None = None          # input + output tokens
    usd_per_1m_output_tokens: float | None = None
    ttft_p99_s: float = math.nan        # at the operating point (Q spread over the replicas)
    tpot_p99_s: float = math.nan
    e2e_p99_s: float = math.nan
    pareto: bool = False
    attn_dp: int = 1
    ep: int = 1

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CapacityPlan:
    query: CapacityQuery
    ranked: tuple[Candidate, ...]       # feasible, cheapest first (unpriced last)
    refused: tuple[Candidate, ...]

    @property
    def pareto(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.ranked if c.pareto)

    def best_reachable(self) -> Candidate | None:
        """Where nothing meets the SLOs: the candidate closest to them at low load."""
        slo = [c for c in self.refused if c.kind == "slo"]
        if not slo:
            return None
        q = self.query.slo
        return min(slo, key=lambda c: max(c.ttft_p99_s / q.ttft_s, c.tpot_p99_s / q.tpot_s))


def simulate_at(spec: ReplicaSpec, cost: IterationCost, q: CapacityQuery, rate: float
         ) -> ServingResult:
    traffic = Traffic(rate_per_s=rate, duration_s=q.requests / rate, input_len=q.input_len,
                      output_len=q.output_len, seed=q.seed)
    return simulate_serving(spec, traffic, 1, q.scheduler, slo=q.slo, cost=cost)


def meets_slo(r: ServingResult, slo: Slo) -> bool:
    m = r.metrics()
    return m["dropped"] == 0 and m["ttft_p99_s"] <= slo.ttft_s \
        and not m["tpot_p99_s"] > slo.tpot_s


def max_rate(spec: ReplicaSpec, cost: IterationCost, q: CapacityQuery
             ) -> tuple[float, ServingResult]:
    """The largest rate one replica holds within the SLOs, and the run at a low rate."""
    single = cost.prefill_s(int(q.input_len.a)) + q.output_len.a * cost.decode_s(1, q.input_len.a)
    low_rate = 0.05 / single
    low = simulate_at(spec, cost, q, low_rate)
    if not meets_slo(low, q.slo):
        return 0.0, low
    lo, hi = low_rate, 4.0 / single
    while meets_slo(simulate_at(spec, cost, q, hi), q.slo):
        lo, hi = hi, hi * 2
        if hi > 1e7:
            break
    while hi - lo > q.rel_tol * lo:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if meets_slo(simulate_at(spec, cost, q, mid), q.slo) else (lo, mid)
    return lo, low


def _price(q: CapacityQuery, spec: ReplicaSpec, replicas: int) -> tuple[float | None, ...]:
    device = spec.system.device
    # NB: power (for TCO) is taken at full load; rent does not depend on it.
    one = float(usd_per_hour(device, power_w(device, 1.0, q.cost), q.cost))
    if math.isnan(one):
        return None, None, None
    hourly = one * spec.gpus * replicas
    mean_in, mean_out = _mean_len(q.input_len), _mean_len(q.output_len)
    per_hour_tokens = q.qps * SECONDS_PER_HOUR
    return (hourly, hourly / (per_hour_tokens * (mean_in + mean_out)) * 1e6,
            hourly / (per_hour_tokens * mean_out) * 1e6)


def _mean_len(d: LengthDist) -> float:
    return (d.a + d.b) / 2 if d.kind == "uniform" else d.a


def evaluate(q: CapacityQuery, hardware: str, tp: int, precision: str,
             attn_dp: int = 1) -> Candidate:
    ep = tp * attn_dp if attn_dp > 1 else 1
    base = Candidate(hardware=hardware, device=hardware, tp=tp, precision=precision,
                     feasible=False, attn_dp=attn_dp, ep=ep)
    try:
        system = system_for_gpus(hardware, tp * attn_dp)
    except ValueError as e:
        return replace(base, kind="system", reason=str(e))
    base = replace(base, device=system.device.name)
    try:
        options = Options(precision=Precision.parse(precision), cost=q.cost)
        spec = ReplicaSpec(q.model, system, Plan(tp=tp, attn_dp=attn_dp, ep=ep), options)
        cost = IterationCost(spec, q.input_len.max_tokens + q.output_len.max_tokens)
    except PlanError as e:
        return replace(base, kind="plan", reason=str(e))
    if cost.kv_capacity_tokens(q.scheduler.max_batched_tokens) \
            < q.input_len.max_tokens + q.output_len.max_tokens:
        w, a, _ = cost.memory(q.scheduler.max_batched_tokens)
        return replace(base, kind="memory", reason=(
            f"weights {w / 1e9:.1f} GB + activations {a / 1e9:.1f} GB per GPU leave no room "
            f"for one request's KV cache in {system.device.mem_capacity_bytes / 1e9:.0f} GB"))
    rate, low = max_rate(spec, cost, q)
    if rate <= 0:
        m = low.metrics()
        return replace(base, kind="slo", ttft_p99_s=m["ttft_p99_s"], tpot_p99_s=m["tpot_p99_s"],
                       e2e_p99_s=m["e2e_p99_s"], reason=(
                           f"misses the SLO at any rate: even alone a request sees p99 TTFT "
                           f"{m['ttft_p99_s'] * 1e3:.1f} ms and TPOT "
                           f"{m['tpot_p99_s'] * 1e3:.2f} ms"))
    replicas = max(math.ceil(q.qps / rate * (1 - 1e-9)), 1)
    m = simulate_at(spec, cost, q, q.qps / replicas).metrics()
    hourly, per_m, per_m_out = _price(q, spec, replicas)
    return replace(base, feasible=True, max_rate_per_replica=rate, replicas=replicas,
                   gpus=replicas * spec.gpus, usd_per_hour=hourly, usd_per_1m_tokens=per_m,
                   usd_per_1m_output_tokens=per_m_out, ttft_p99_s=m["ttft_p99_s"],
                   tpot_p99_s=m["tpot_p99_s"], e2e_p99_s=m["e2e_p99_s"])


def _mark_pareto(cands: list[Candidate]) -> list[Candidate]:
    """Not dominated in (cost per hour, p99 end-to-end latency)."""
    priced = [c for c in cands if c.usd_per_hour is not None]
    out = []
    for c in cands:
        dominated = c.usd_per_hour is None or any(
            o.usd_per_hour <= c.usd_per_hour and o.e2e_p99_s <= c.e2e_p99_s
            and (o.usd_per_hour < c.usd_per_hour or o.e2e_p99_s < c.e2e_p99_s) for o in priced)
        out.append(replace(c, pareto=not dominated))
    return out


def evaluate_or_refuse(q: CapacityQuery, hardware: str, tp: int, precision: str, *more
                       ) -> Candidate:
    """`evaluate`, with an option the device cannot run (a precision it has no peak for, a
    shape its memory cannot take) refused with the reason instead of ending the whole plan."""
    try:
        return evaluate(q, hardware, tp, precision, *more)
    except ValueError as exc:
        return Candidate(hardware=hardware, device=hardware, tp=tp, precision=precision,
                         feasible=False, kind="device", reason=str(exc))


def plan_capacity(q: CapacityQuery) -> CapacityPlan:
    for hw in q.hardware:
        load_system(hw)         # an unknown name is the user's error, raised here
    model_facts(q.model)        # so is an unknown or broken model
    cands = [evaluate_or_refuse(q, hw, tp, p, a) for hw in q.hardware for tp in q.tps
             for a in q.attn_dps for p in q.precisions]
    ok = _mark_pareto([c for c in cands if c.feasible])
    ok.sort(key=lambda c: (c.usd_per_hour is None, c.usd_per_hour or 0.0, c.e2e_p99_s))
    return CapacityPlan(query=q, ranked=tuple(ok),
                        refused=tuple(c for c in cands if not c.feasible))
