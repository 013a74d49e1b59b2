"""Request-level serving simulation: replicas of a model serving a stream of requests.

    traffic = Traffic(rate_per_s=5, duration_s=60, input_len=parse_length("512"),
                      output_len=parse_length("lognormal:256:0.5"))
    result = simulate_serving(ReplicaSpec("llama-2-7b", load_system("h100-sxm")), traffic)
    result.metrics()["ttft_p99_s"], result.requests_frame()

Each replica is a `scheduler.Replica` (continuous batching, paged KV cache sized by the memory
model) whose iterations are priced by `iteration_cost.IterationCost`; `router.route` spreads
the requests. Latencies: TTFT = first token - arrival; TPOT = (finish - first token) / (output
tokens - 1); e2e = finish - arrival.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.serving.arrivals import Requests, arrival_times, read_trace
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.replica import ReplicaSpec
from simulator.serving.router import check_router, route
from simulator.serving.scheduler import DROP_REASONS, Replica, RequestState, SchedulerConfig

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Traffic:
    rate_per_s: float = 1.0
    duration_s: float = 60.0
    input_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 512))
    output_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 128))
    cv: float = 1.0                      # inter-arrival coefficient of variation (1: Poisson)
    trace: str | Path | None = None      # a CSV trace replaces all of the above
    seed: int = 0

    def requests(self) -> Requests:
        if self.trace is not None:
            return read_trace(self.trace)
        rng = np.random.default_rng(self.seed)
        t = arrival_times(self.rate_per_s, self.duration_s, rng, self.cv)
        return Requests(t, self.input_len.sample(len(t), rng),
                        self.output_len.sample(len(t), rng))


@dataclass(frozen=True)
class Slo:
    ttft_s: float | None = None
    tpot_s: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("TTFT", self.ttft_s), ("TPOT", self.tpot_s)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"a {name} target must be a positive number of seconds, "
                                 f"not {value:g}")


@dataclass(frozen=True)
class ServingResult:
    spec: ReplicaSpec
    replicas: int
    requests: Requests
    state: RequestState
    kv_capacity_tokens: int
    timeline: tuple[np.ndarray, ...]     # per replica: rows of (time, queue, running, blocks)
    block_size: int
    slo: Slo

    @property
    def completed(self) -> np.ndarray:
        return ~self.state.dropped & np.isfinite(self.state.finish_s)

    def latencies(self) -> dict[str, np.ndarray]:
        s, ok = self.state, self.completed
        ttft = (s.first_s - s.arrival_s)[ok]
        e2e = (s.finish_s - s.arrival_s)[ok]
        steps = (s.out - 1)[ok]
        tpot = np.where(steps > 0, (s.finish_s - s.first_s)[ok] / np.maximum(steps, 1), np.nan)
        return {"ttft": ttft, "tpot": tpot, "e2e": e2e}

    def meets_slo(self) -> np.ndarray:
        lat, good = self.latencies(), np.ones(int(self.completed.sum()), bool)
        if self.slo.ttft_s is not None:
            good &= lat["ttft"] <= self.slo.ttft_s
        if self.slo.tpot_s is not None:
            good &= ~(lat["tpot"] > self.slo.tpot_s)       # a 1-token answer has no TPOT
        return good

    @property
    def makespan_s(self) -> float:
        ok = self.completed
        if not ok.any():
            return 0.0
        return float(self.state.finish_s[ok].max() - self.requests.arrival_s.min())

    def metrics(self) -> dict[str, float | int]:
        lat, ok, s = self.latencies(), self.completed, self.state
        span = self.makespan_s
        out: dict[str, float | int] = {"completed": int(ok.sum()),
                                       "dropped": int(s.dropped.sum()),
                                       "preemptions": int(s.preemptions.sum())}
        for name, x in lat.items():
            x = x[np.isfinite(x)]
            out[f"{name}_mean_s"] = float(x.mean()) if x.size else float("nan")
            for p in PERCENTILES:
                out[f"{name}_p{p}_s"] = float(np.percentile(x, p)) if x.size else float("nan")

        def rate(v: float) -> float:
            return v / span if span > 0 else 0.0

        out["requests_per_s"] = rate(float(ok.sum()))
        out["input_tokens_per_s"] = rate(float(s.prompt[ok].sum()))
        out["output_tokens_per_s"] = rate(float(s.out[ok].sum()))
        out["goodput_rps"] = rate(float(self.meets_slo().sum()))
        out["mean_in_system"] = self.mean_in_system()
        out["kv_capacity_tokens"] = self.kv_capacity_tokens
        out["dropped_reasons"] = self.dropped_reasons()
        return out

    def dropped_reasons(self) -> dict[str, int]:
        """Why requests were dropped at arrival: {reason: count}."""
        codes, counts = np.unique(self.state.drop_why[self.state.dropped], return_counts=True)
        return {DROP_REASONS[c]: int(n) for c, n in zip(codes, counts, strict=True)}

    def mean_in_system(self) -> float:
        """Time-averaged number of requests in the system (queued or running) over the run."""
        ok = self.completed
        span = self.makespan_s
        total = float((self.state.finish_s - self.state.arrival_s)[ok].sum())
        return total / span if span > 0 else 0.0

    def requests_frame(self):
        """One row per request (pandas)."""
        import pandas as pd

        s = self.state
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = (s.finish_s - s.first_s) / np.where(s.out > 1, s.out - 1, np.nan)
        return pd.DataFrame({
            "arrival_s": s.arrival_s, "input_len": s.prompt, "output_len": s.out,
            "replica": s.replica, "ttft_s": s.first_s - s.arrival_s, "tpot_s": tpot,
            "e2e_s": s.finish_s - s.arrival_s, "preemptions": s.preemptions,
            "dropped": s.dropped})

    def timeline_frame(self):
        """KV-cache use and queue length over time, per replica (pandas)."""
        import pandas as pd

        frames = []
        for i, rows in enumerate(self.timeline):
            f = pd.DataFrame(rows, columns=["time_s", "queue", "running", "kv_blocks"])
            f["replica"] = i
            f["kv_used_fraction"] = f["kv_blocks"] * self.block_size \
                / max(self.kv_capacity_tokens, 1)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)


def build_replicas(spec: ReplicaSpec, count: int, reqs: Requests, config: SchedulerConfig,
                   cost: IterationCost | None = None) -> tuple[list[Replica], RequestState, int]:
    if count < 1:
        raise ValueError(f"replicas must be at least 1, not {count}")
    max_ctx = int((reqs.input_len + reqs.output_len).max()) if len(reqs) else 1
    cost = cost or IterationCost(spec, max_context=max_ctx)
    kv_tokens = cost.kv_capacity_tokens(config.max_batched_tokens)
    if config.kv_tokens_limit is not None:
        kv_tokens = min(kv_tokens, config.kv_tokens_limit)
    if kv_tokens < config.block_size:
        weights, act, _ = cost.memory(config.max_batched_tokens)
        raise ValueError(f"{spec.model} does not fit on {spec.label}: weights "
                         f"{weights / 1e9:.1f} GB and activations {act / 1e9:.1f} GB per GPU "
                         f"leave no room for a KV cache in "
                         f"{spec.system.device.mem_capacity_bytes / 1e9:.0f} GB")
    state = RequestState(reqs.arrival_s, reqs.input_len, reqs.output_len)
    return [Replica(i, cost, config, kv_tokens, state) for i in range(count)], state, kv_tokens


def kv_link(spec: ReplicaSpec) -> tuple[float, float]:
    """(bytes/s per GPU, latency s) of the link that moves a KV cache between pools."""
    device = spec.system.device
    link = device.scale_out or device.scale_up
    if link is None:
        raise ValueError(f"{device.name} has no scale-out or scale-up link in its spec to move "
                         "KV caches between prefill and decode replicas")
    return link.bw_bytes_per_s, link.latency_s


def _disaggregate(reps: list[Replica], prefill_replicas: int, reqs: Requests, router: str,
                  spec: ReplicaSpec) -> None:
    """Prefill pool first; each request then reaches the decode pool once its KV has moved.

    NB: each GPU sends its KV shard over its own link at full rate, with no contention."""
    pre, dec = reps[:prefill_replicas], reps[prefill_replicas:]
    route(pre, reqs.arrival_s, router)
    handoffs = sorted((t, r) for rep in pre for r, t in rep.handoffs)
    if not handoffs:
        return
    times, ids = (np.array(x) for x in zip(*handoffs, strict=True))
    bw, latency = kv_link(spec)
    per_token = dec[0].cost.memory(dec[0].cfg.max_batched_tokens)[2]
    arrive = times + latency + dec[0].s.cached[ids] * per_token / bw
    order = np.argsort(arrive, kind="stable")
    route(dec, arrive[order], router, ids[order])


def simulate_serving(spec: ReplicaSpec, traffic: Traffic, replicas: int = 1,
                     config: SchedulerConfig | None = None, router: str = "round_robin",
                     slo: Slo | None = None, cost: IterationCost | None = None,
                     prefill_replicas: int = 0) -> ServingResult:
    """Simulate `replicas` copies of `spec` serving `traffic` until every request is done.

    `prefill_replicas` > 0 disaggregates: that many replicas only prefill, and `replicas`
    decode, the KV cache moving between them over the device's scale-out link."""
    config = config or SchedulerConfig()
    check_router(router)
    if prefill_replicas < 0:
        raise ValueError(f"prefill replicas must be 0 or more, not {prefill_replicas}")
    reqs = traffic.requests()
    if len(reqs) == 0:
        raise ValueError(f"no request arrives in {traffic.duration_s} s at "
                         f"{traffic.rate_per_s} requests/s; raise the rate or the duration")
    reps, state, kv_tokens = build_replicas(spec, replicas + prefill_replicas, reqs, config,
                                            cost)
    if prefill_replicas:
        for rep in reps:
            rep.role = "prefill" if rep.index < prefill_replicas else "decode"
        _disaggregate(reps, prefill_replicas, reqs, router, spec)
    else:
        route(reps, reqs.arrival_s, router)
    if state.dropped.all():
        raise ValueError(f"no request can ever be scheduled on {spec.label}: "
                         f"{DROP_REASONS[int(state.drop_why.max())]} (the shortest prompt is "
                         f"{int(reqs.input_len.min()):,} tokens, the budget "
                         f"{config.max_batched_tokens:,} tokens, the KV cache "
                         f"{kv_tokens:,} tokens)")
    timeline = tuple(np.array(r.log, dtype=float).reshape(-1, 4) for r in reps)
    return ServingResult(spec=spec, replicas=replicas + prefill_replicas, requests=reqs,
                         state=state,
                         kv_capacity_tokens=kv_tokens, timeline=timeline,
                         block_size=config.block_size, slo=slo or Slo())
