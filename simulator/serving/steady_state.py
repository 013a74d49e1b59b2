"""Steady-state p99 latencies at one request rate, known to a stated precision.

A replica starts empty, so the first requests of a simulation see a short queue and the last
ones decode with no arrivals behind them: a run of a few hundred requests measures a burst, not
the load a replica holds for hours. `measure` runs independent replications (seeds `seed`,
`seed + 1`, ...) of `requests` requests each, discards each one's warm-up (the first
`warmup_fraction` of its requests by arrival) and drain (the last `drain_fraction`), and gives
each p99 (TTFT, TPOT) as the p99 of all the measured requests together, with a confidence
interval of t(confidence, R - 1) standard errors of the R replications' own p99s. (Batch means
within one run were tried first: near saturation the p99 TPOT of consecutive 1,600-request
stretches of one 70B run swings 0.053-0.068 s, so batches of a short run are correlated and
their interval too narrow; replications are independent.) Replications are doubled (from
`replications` up to `max_replications`) until each interval lies wholly on one side of its
SLO or is within `rel_precision` of its p99; a rate holds the SLOs only if both upper bounds do.

`STEADY_STATE` is the one default, used by `archsim plan-capacity` and the app alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.replica import ReplicaSpec
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import ServingResult, Slo, Traffic, simulate_serving


@dataclass(frozen=True)
class SteadyState:
    """How long each rate is simulated and how its p99s are estimated."""

    requests: int = 1000                # per replication
    replications: int = 4               # the first estimate; doubled while undecided
    max_replications: int = 8
    warmup_fraction: float = 0.2        # first requests (by arrival) of each run not measured
    drain_fraction: float = 0.05        # last requests not measured
    confidence: float = 0.95
    rel_precision: float = 0.05         # interval half-width / p99 that ends the doubling

    def __post_init__(self) -> None:
        for name in ("requests", "replications", "max_replications"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"steady state: {name} must be a whole number >= 1, not {v!r}")
        if self.replications < 2 or self.max_replications < self.replications:
            raise ValueError(f"steady state needs 2 <= replications <= max_replications "
                             f"(--max-replications), not {self.replications} and "
                             f"{self.max_replications}")
        if not (0 <= self.warmup_fraction and 0 <= self.drain_fraction
                and self.warmup_fraction + self.drain_fraction < 0.9):
            raise ValueError("the warm-up and drain shares must be >= 0 and leave at least "
                             "10% of the requests measured")
        if not 0 < self.confidence < 1 or not self.rel_precision > 0:
            raise ValueError("steady state needs a confidence in (0, 1) and a relative "
                             "precision > 0")

    def scaled(self, factor: int) -> SteadyState:
        """The same estimate over runs `factor` times longer."""
        return replace(self, requests=self.requests * factor)

    def describe(self) -> str:
        count = (f"{self.replications}" if self.max_replications <= self.replications
                 else f"{self.replications}-{self.max_replications}")
        doubled = ("" if self.max_replications <= self.replications else
                   f", replications doubled until it is within {self.rel_precision:.0%} or "
                   "clear of the SLO")
        return (f"p99 over {count} replications of {self.requests:,} requests, the first "
                f"{self.warmup_fraction:.0%} of each discarded as warm-up; "
                f"{self.confidence:.0%} interval{doubled}")


STEADY_STATE = SteadyState()


@dataclass(frozen=True)
class P99:
    """A p99 latency and its confidence interval (s); NaN where nothing was measured."""

    value_s: float
    low_s: float
    high_s: float

    @property
    def half_width_s(self) -> float:
        return (self.high_s - self.low_s) / 2

    def precise(self, rel: float) -> bool:
        return not self.half_width_s > rel * self.value_s      # NaN: nothing to estimate

    def as_dict(self, name: str) -> dict[str, float]:
        return {f"{name}_p99_s": self.value_s, f"{name}_p99_low_s": self.low_s,
                f"{name}_p99_high_s": self.high_s}


@dataclass(frozen=True)
class RateEstimate:
    rate_per_s: float
    ttft: P99
    tpot: P99
    replications: int
    measured: int                       # requests measured, all replications
    dropped: int
    result: ServingResult               # the first replication

    def holds(self, slo: Slo) -> bool:
        """Both upper bounds within the SLOs, nothing dropped."""
        return self.dropped == 0 and self.ttft.high_s <= slo.ttft_s \
            and not self.tpot.high_s > slo.tpot_s

    def clearly_fails(self, slo: Slo) -> bool:
        return self.dropped > 0 or self.ttft.low_s > slo.ttft_s or self.tpot.low_s > slo.tpot_s

    def point_holds(self, slo: Slo) -> bool:
        return self.dropped == 0 and self.ttft.value_s <= slo.ttft_s \
            and not self.tpot.value_s > slo.tpot_s


def p99_with_interval(runs: list[np.ndarray], confidence: float) -> P99:
    """The p99 of all `runs` together, and the interval from the spread of each run's p99."""
    runs = [np.asarray(x, dtype=float) for x in runs]
    runs = [x[np.isfinite(x)] for x in runs]
    every = np.concatenate(runs) if runs else np.empty(0)
    if not every.size:
        return P99(math.nan, math.nan, math.nan)
    value = float(np.percentile(every, 99))
    per = np.array([np.percentile(x, 99) for x in runs if x.size])
    if len(per) < 2:
        return P99(value, -math.inf, math.inf)
    t = float(stats.t.ppf(0.5 + confidence / 2, len(per) - 1))
    half = t * float(per.std(ddof=1)) / math.sqrt(len(per))
    return P99(value, value - half, value + half)


def measured_latencies(r: ServingResult, s: SteadyState) -> tuple[np.ndarray, np.ndarray]:
    """(TTFT, TPOT) of the requests between the warm-up and the drain (NaN: not finished, or
    a one-token answer's TPOT)."""
    n = len(r.requests)
    first = int(n * s.warmup_fraction)
    keep = slice(first, max(n - int(n * s.drain_fraction), first + 1))
    st = r.state
    done = np.isfinite(st.finish_s[keep]) & ~st.dropped[keep]
    ttft = np.where(done, (st.first_s - st.arrival_s)[keep], np.nan)
    steps = (st.out - 1)[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(done & (steps > 0), (st.finish_s - st.first_s)[keep] / steps, np.nan)
    return ttft, tpot


def _estimate(runs: list[ServingResult], rate: float, s: SteadyState) -> RateEstimate:
    lat = [measured_latencies(r, s) for r in runs]
    return RateEstimate(
        rate_per_s=rate, ttft=p99_with_interval([a for a, _ in lat], s.confidence),
        tpot=p99_with_interval([b for _, b in lat], s.confidence), replications=len(runs),
        measured=int(sum(np.isfinite(a).sum() for a, _ in lat)),
        dropped=int(sum(r.state.dropped.sum() for r in runs)), result=runs[0])


@dataclass(frozen=True)
class Load:
    """What one replica serves: lengths, scheduler, SLOs, seed."""

    input_len: LengthDist
    output_len: LengthDist
    slo: Slo
    scheduler: SchedulerConfig
    seed: int = 0


def simulate_requests(spec: ReplicaSpec, cost: IterationCost, load: Load, rate: float,
                      requests: int, seed: int) -> ServingResult:
    """One replica at `rate` for about `requests` requests (the same draws, scaled in time, at
    every rate: common random numbers for the bisection)."""
    traffic = Traffic(rate_per_s=rate, duration_s=requests / rate, input_len=load.input_len,
                      output_len=load.output_len, seed=seed)
    # A run is a function of its arguments alone: the search meets some (rate, seed) twice
    # (the bisection's screen, then the full estimate at the rate it answered), run once.
    key = (load, traffic)
    hit = cost.runs.get(key)
    if hit is not None and hit.spec == spec:
        return hit
    run = simulate_serving(spec, traffic, 1, load.scheduler, slo=load.slo, cost=cost)
    cost.runs[key] = run
    return run


def screen(spec: ReplicaSpec, cost: IterationCost, load: Load, rate: float,
           s: SteadyState = STEADY_STATE) -> RateEstimate:
    """One replication: a point estimate (no interval) to bracket a rate cheaply."""
    run = simulate_requests(spec, cost, load, rate, s.requests, load.seed)
    return _estimate([run], rate, s)


def measure(spec: ReplicaSpec, cost: IterationCost, load: Load, rate: float,
            s: SteadyState = STEADY_STATE, decide: bool = True) -> RateEstimate:
    """The steady-state p99s at `rate`, replications doubled until both are precise enough
    (or, with `decide`, until each interval lies clear of its SLO)."""
    runs: list[ServingResult] = []
    want = s.replications
    while True:
        runs += [simulate_requests(spec, cost, load, rate, s.requests, load.seed + i)
                 for i in range(len(runs), want)]
        est = _estimate(runs, rate, s)
        if decide and (est.holds(load.slo) or est.clearly_fails(load.slo)):
            return est
        if (est.ttft.precise(s.rel_precision) and est.tpot.precise(s.rel_precision)) \
                or want >= s.max_replications:
            return est
        want = min(want * 2, s.max_replications)
