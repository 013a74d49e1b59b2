"""Capacity planning: how many of which GPU serve Q requests/s within latency SLOs, at what cost.

For each hardware, TP degree, attention-DP degree (`attn_dps`: a replica of tp x attn_dp GPUs
attending data-parallel, its experts shared over all of them by EP) and precision: the largest
rate one replica holds at steady state with the upper bounds of its p99 TTFT and TPOT intervals
within the SLOs (`steady_state.measure`: warm-up discarded, batch-means intervals, runs doubled
until precise; bisection on the rate with the same random draws at every rate), the replicas
needed for Q, the p99s (with intervals) at the planned load Q / replicas, and the cost
(`capacity_cost`); the candidates ranked by cost, the Pareto front of cost against latency,
outliers flagged, and the binding limit of each refused candidate (`Refusal`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace

from hwspecs.registry import load_system
from simulator.core.cost import CostOptions
from simulator.core.measured_pricing import KernelSource
from simulator.core.measured_tables import records_file
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.profile import EfficiencyProfile
from simulator.parallel.plan import Plan, PlanError
from simulator.parallel.systems import system_for_gpus
from simulator.serving.arrivals import check_rate
from simulator.serving.capacity_cost import option_cost, outlier_reason
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.replica import ReplicaSpec
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import Slo
from simulator.serving.steady_state import (
    STEADY_STATE,
    Load,
    RateEstimate,
    SteadyState,
    measure,
    screen,
)
from workloads import model_facts

MAX_RATE_PER_S = 1e7                # the bisection looks no higher


class Refusal(enum.StrEnum):
    """The binding limit of a refused option."""

    SYSTEM = "system"        # the hardware has no system of that many GPUs
    PLAN = "plan"            # the parallel plan does not divide the model (TP and heads, ...)
    DEVICE = "device"        # the device cannot run the option (no peak for the precision, ...)
    MEMORY = "memory"        # weights and activations leave no room for one request's KV cache
    KV = "kv"                # the KV cache holds so few requests that they queue even at low load
    SLO = "slo"              # a lone request, or low load, already misses the SLO


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
    steady: SteadyState = STEADY_STATE  # run lengths and the precision of each p99
    rel_tol: float = 0.05               # bisection stops within 5 % of the rate
    seed: int = 0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    cost: CostOptions = field(default_factory=CostOptions)
    engine: str | None = None           # whose fitted kernels price it (and its preset)
    tp_plan: object = None              # the model's transformers TP plan
    kernels: KernelSource = KernelSource.MODEL   # MEASURED: from the measured tables
    kernels_dir: str | None = None
    profile: EfficiencyProfile | None = None    # instead of each device's own

    def __post_init__(self) -> None:
        check_rate(self.qps)
        if self.slo.ttft_s is None or self.slo.tpot_s is None:   # Slo refuses one <= 0
            raise ValueError("capacity planning needs positive p99 SLOs for TTFT and TPOT")
        if not self.hardware:
            raise ValueError("name at least one device or system to plan on")

    @property
    def load(self) -> Load:
        return Load(self.input_len, self.output_len, self.slo, self.scheduler, self.seed)


@dataclass(frozen=True)
class Candidate:
    hardware: str
    device: str
    tp: int
    precision: str
    feasible: bool
    reason: str = ""                    # why it fails, when it does: the binding limit
    kind: Refusal | str = ""            # a Refusal when refused
    max_rate_per_replica: float = 0.0
    replicas: int = 0
    gpus: int = 0
    usd_per_hour: float | None = None
    usd_per_1m_input_tokens: float | None = None
    usd_per_1m_output_tokens: float | None = None
    usd_per_1m_tokens: float | None = None          # blended: input + output tokens
    usd_per_request: float | None = None
    kw_per_replica: float | None = None
    load_per_replica: float = math.nan  # requests/s each replica serves at the planned load
    ttft_p99_s: float = math.nan        # at the planned load (or, refused, at low load)
    ttft_p99_low_s: float = math.nan    # its confidence interval
    ttft_p99_high_s: float = math.nan
    tpot_p99_s: float = math.nan
    tpot_p99_low_s: float = math.nan
    tpot_p99_high_s: float = math.nan
    e2e_p99_s: float = math.nan
    measured_requests: int = 0          # behind the p99s at the planned load
    pareto: bool = False
    outlier: str = ""                   # why the option is an outlier ('' when it is not)
    attn_dp: int = 1
    ep: int = 1

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["kind"] = str(self.kind)
        return d


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
        slo = [c for c in self.refused if c.kind in (Refusal.SLO, Refusal.KV)]
        if not slo:
            return None
        q = self.query.slo
        return min(slo, key=lambda c: max(c.ttft_p99_s / q.ttft_s, c.tpot_p99_s / q.tpot_s))


def max_rate(spec: ReplicaSpec, cost: IterationCost, q: CapacityQuery
             ) -> tuple[float, RateEstimate]:
    """The largest rate one replica holds within the SLOs at steady state, and the estimate
    at a low rate (5% of a lone request's pace).

    A bisection on one replication's point p99s brackets the rate cheaply; from its answer
    the full estimate (`measure`: replications until the interval is clear or precise) steps
    by (1 + rel_tol)^2 down until the upper bounds hold, or up until they do not, then bisects
    between the highest rate that held and the lowest that failed."""
    single = sum(lone_request_s(cost, q))
    low_rate = 0.05 / single
    low = measure(spec, cost, q.load, low_rate, q.steady)
    if not low.holds(q.slo):
        return 0.0, low

    def point(rate: float) -> bool:
        return screen(spec, cost, q.load, rate, q.steady).point_holds(q.slo)

    def holds(rate: float) -> bool:
        return measure(spec, cost, q.load, rate, q.steady).holds(q.slo)

    lo, hi = low_rate, 4.0 / single
    while point(hi):
        lo, hi = hi, hi * 2
        if hi > MAX_RATE_PER_S:
            break
    while hi - lo > q.rel_tol * lo:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if point(mid) else (lo, mid)
    step = (1 + q.rel_tol) ** 2
    if holds(lo):
        hi = lo * step
        while hi <= MAX_RATE_PER_S and holds(hi):
            lo, hi = hi, hi * step
    else:
        while True:
            lo, hi = max(lo / step, low_rate), lo
            if lo == low_rate or holds(lo):
                break
    while hi - lo > q.rel_tol * lo:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if holds(mid) else (lo, mid)
    return lo, low


def lone_request_s(cost: IterationCost, q: CapacityQuery) -> tuple[float, float]:
    """(prefill s, decode s) of one request of the longest prompt alone on a replica."""
    prompt = int(q.input_len.max_tokens)
    return cost.prefill_s(prompt), q.output_len.a * cost.decode_s(1, prompt)


def _low_load_refusal(base: Candidate, q: CapacityQuery, cost: IterationCost, low: RateEstimate
                      ) -> Candidate:
    """Name what binds when even low load misses the SLOs: a lone request's own latency, or a
    KV cache too small for more than a few requests at once (they queue and are preempted)."""
    prefill_s, _ = lone_request_s(cost, q)
    lone_tpot = cost.decode_s(1, q.input_len.max_tokens)
    seen = (f"at {low.rate_per_s:.3g} requests/s (5% load) p99 TTFT "
            f"{low.ttft.value_s * 1e3:,.1f} ms and TPOT {low.tpot.value_s * 1e3:,.2f} ms")
    alone = f"a lone request takes TTFT {prefill_s * 1e3:,.1f} ms, TPOT {lone_tpot * 1e3:,.2f} ms"
    out = replace(base, ttft_p99_s=low.ttft.value_s, tpot_p99_s=low.tpot.value_s,
                  ttft_p99_low_s=low.ttft.low_s, ttft_p99_high_s=low.ttft.high_s,
                  tpot_p99_low_s=low.tpot.low_s, tpot_p99_high_s=low.tpot.high_s,
                  e2e_p99_s=low.result.metrics()["e2e_p99_s"])
    if prefill_s > q.slo.ttft_s or lone_tpot > q.slo.tpot_s:
        return replace(out, kind=Refusal.SLO, reason=f"SLO at any load: {alone}, over the SLO")
    r = low.result
    per_request = q.input_len.max_tokens + q.output_len.max_tokens
    holds = r.kv_capacity_tokens // per_request
    # Requests queued while as many ran as the KV cache holds: they waited for KV space.
    waited = any(((t[:, 1] > 0) & (t[:, 2] >= max(holds, 1))).any() for t in r.timeline
                 if len(t)) and holds < q.scheduler.max_seqs
    preempted = int(r.state.preemptions.sum())
    if preempted or waited or low.dropped:
        return replace(out, kind=Refusal.KV, reason=(
            f"KV capacity: the cache holds {r.kv_capacity_tokens:,} tokens, {holds:,} "
            f"request(s) of up to {per_request:,} tokens, so requests wait for KV space"
            f"{f' ({preempted:,} preemptions)' if preempted else ''}; {seen} where {alone}"))
    return replace(out, kind=Refusal.SLO, reason=f"SLO at low load: {seen} where {alone}")


def evaluate(q: CapacityQuery, hardware: str, tp: int, precision: str,
             attn_dp: int = 1) -> Candidate:
    ep = tp * attn_dp if attn_dp > 1 else 1
    base = Candidate(hardware=hardware, device=hardware, tp=tp, precision=precision,
                     feasible=False, attn_dp=attn_dp, ep=ep)
    try:
        system = system_for_gpus(hardware, tp * attn_dp)
    except ValueError as e:
        return replace(base, kind=Refusal.SYSTEM, reason=str(e))
    base = replace(base, device=system.device.name)
    try:
        options = Options(precision=Precision.parse(precision), cost=q.cost, engine=q.engine,
                          tp_plan=q.tp_plan, kernels=q.kernels, kernels_dir=q.kernels_dir,
                          profile=q.profile)
        spec = ReplicaSpec(q.model, system, Plan(tp=tp, attn_dp=attn_dp, ep=ep), options)
        cost = IterationCost(spec, q.input_len.max_tokens + q.output_len.max_tokens)
    except PlanError as e:
        return replace(base, kind=Refusal.PLAN, reason=str(e))
    if cost.kv_capacity_tokens(q.scheduler.max_batched_tokens) \
            < q.input_len.max_tokens + q.output_len.max_tokens:
        w, a, _ = cost.memory(q.scheduler.max_batched_tokens)
        return replace(base, kind=Refusal.MEMORY, reason=(
            f"memory: weights {w / 1e9:.1f} GB + activations {a / 1e9:.1f} GB per GPU leave "
            f"no room for one request's KV cache in "
            f"{system.device.mem_capacity_bytes / 1e9:.0f} GB"))
    rate, low = max_rate(spec, cost, q)
    if rate <= 0:
        return _low_load_refusal(base, q, cost, low)
    replicas = max(math.ceil(q.qps / rate * (1 - 1e-9)), 1)
    at = measure(spec, cost, q.load, q.qps / replicas, q.steady)
    priced = option_cost(system.device, spec.gpus, replicas, q.qps, q.input_len, q.output_len,
                         q.cost)
    return replace(base, feasible=True, max_rate_per_replica=rate, replicas=replicas,
                   gpus=replicas * spec.gpus, **priced.__dict__,
                   load_per_replica=q.qps / replicas, **at.ttft.as_dict("ttft"),
                   **at.tpot.as_dict("tpot"), e2e_p99_s=at.result.metrics()["e2e_p99_s"],
                   measured_requests=at.measured)


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


def _mark_outliers(cands: list[Candidate]) -> list[Candidate]:
    cheapest = min((c.usd_per_hour for c in cands if c.usd_per_hour is not None), default=None)
    return [replace(c, outlier=outlier_reason(c.replicas, c.usd_per_hour, cheapest))
            for c in cands]


def evaluate_or_refuse(q: CapacityQuery, hardware: str, tp: int, precision: str, *more
                       ) -> Candidate:
    """`evaluate`, with an option the device cannot run (a precision it has no peak for, a
    shape its memory cannot take) refused with the reason instead of ending the whole plan."""
    try:
        return evaluate(q, hardware, tp, precision, *more)
    except ValueError as exc:
        return Candidate(hardware=hardware, device=hardware, tp=tp, precision=precision,
                         feasible=False, kind=Refusal.DEVICE, reason=str(exc))


def plan_capacity(q: CapacityQuery, progress=None) -> CapacityPlan:
    """Every option of `q`, ranked or refused; `progress(done, total)` after each."""
    for hw in q.hardware:
        load_system(hw)         # an unknown name is the user's error, raised here
    model_facts(q.model)        # so is an unknown or broken model
    if q.kernels is KernelSource.MEASURED and q.kernels_dir is not None:
        records_file(q.kernels_dir)     # and a folder without records
    options = [(hw, tp, p, a) for hw in q.hardware for tp in q.tps for a in q.attn_dps
               for p in q.precisions]
    cands = []
    for i, (hw, tp, p, a) in enumerate(options):
        cands.append(evaluate_or_refuse(q, hw, tp, p, a))
        if progress is not None:
            progress(i + 1, len(options))
    ok = _mark_outliers(_mark_pareto([c for c in cands if c.feasible]))
    ok.sort(key=lambda c: (c.usd_per_hour is None, c.usd_per_hour or 0.0, c.e2e_p99_s))
    return CapacityPlan(query=q, ranked=tuple(ok),
                        refused=tuple(c for c in cands if not c.feasible))
