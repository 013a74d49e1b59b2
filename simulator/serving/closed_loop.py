"""Closed-loop serving, as serving benchmarks run it (trtllm-bench, vLLM's `benchmark_serving
--max-concurrency`, SGLang's bench_serving, genai-perf): N requests in flight, each finished one
replaced at once by the next, until R requests have been sent.

    loop = ClosedLoop(concurrency=64, input_len=parse_length("1024"),
                      output_len=parse_length("1024"))
    result = simulate_closed_loop(loop, Pool(spec, config=engine.scheduler))
    result.metrics()["tpot_mean_s"], result.metrics()["output_tokens_per_s_per_gpu"]

Warm-up and drain are left out of the metrics, as a steady-state measurement does: the first N
requests (sent together at time 0, before any finished) are the warm-up, and the loop keeps N
in flight with extra requests until the last of the R it was asked for has finished, so none
of those R - N measured requests runs while the loop drains (the extra ones, and the drain
after them, are not measured). Latencies are the mean and percentiles over the measured
requests; throughput is the requests (and their output tokens) finishing from the first
measured send to the first extra one (each send answers a finish: R - N of them), over that
window, all through which N are in flight: N = throughput x mean latency (Little's law).

Disaggregated serving is a prefill pool and a decode pool: a request's prompt runs on a
prefill replica, its KV cache moves over the device's link, and it decodes on a decode replica;
the loop sends the next request when one finishes decoding. Requests go to the replica of a
pool with the fewest outstanding (the lowest index on a tie).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from simulator.serving.replica import ReplicaSpec
from simulator.serving.scheduler import DROP_REASONS, Replica, RequestState, SchedulerConfig

ROUNDS = 10                  # default requests: ROUNDS x concurrency (at least MIN_REQUESTS)
MIN_REQUESTS = 50
EXTRA = 4                    # extra requests at most, in units of the concurrency
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class ClosedLoop:
    concurrency: int
    input_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 1024))
    output_len: LengthDist = field(default_factory=lambda: LengthDist("fixed", 128))
    requests: int | None = None          # None: ROUNDS x concurrency
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("concurrency", "requests"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a whole number of at least 1, not {v!r}")
        if self.requests is not None and self.requests < self.concurrency:
            raise ValueError(f"a closed loop of concurrency {self.concurrency} sends at least "
                             f"that many requests, not {self.requests}")

    @property
    def total(self) -> int:
        """R: the warm-up and the measured requests."""
        if self.requests is not None:
            return self.requests
        return max(ROUNDS * self.concurrency, MIN_REQUESTS)

    @property
    def capacity(self) -> int:
        """R and the extra requests that hold the load until the last measured one finishes.
        NB: past EXTRA x N extra requests the loop stops sending (only with very long tails)."""
        return self.total + EXTRA * self.concurrency

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        n = self.capacity
        return self.input_len.sample(n, rng), self.output_len.sample(n, rng)


@dataclass(frozen=True)
class Pool:
    """Identical replicas of one spec under one scheduler."""

    spec: ReplicaSpec
    replicas: int = 1
    config: SchedulerConfig = field(default_factory=SchedulerConfig)
    cost: IterationCost | None = None

    def __post_init__(self) -> None:
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int) \
                or self.replicas < 1:
            raise ValueError(f"a pool needs at least one replica, not {self.replicas!r}")

    @property
    def gpus(self) -> int:
        return self.spec.gpus * self.replicas


@dataclass(frozen=True)
class ClosedLoopResult:
    loop: ClosedLoop
    state: RequestState
    gpus: int
    kv_capacity_tokens: int              # per replica of the (decode) pool
    window_s: tuple[float, float]        # (first replacement, last send)
    measured: np.ndarray                 # requests the latencies are taken over
    steady: bool                         # False: too few requests for a window; all are used

    def latencies(self) -> dict[str, np.ndarray]:
        s, m = self.state, self.measured
        steps = s.out[m] - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = np.where(steps > 0, (s.finish_s[m] - s.first_s[m]) / steps, np.nan)
        return {"ttft": (s.first_s - s.arrival_s)[m], "tpot": tpot,
                "e2e": (s.finish_s - s.arrival_s)[m]}

    def metrics(self) -> dict[str, float | int | bool]:
        s, lat = self.state, self.latencies()
        out: dict[str, float | int | bool] = {"concurrency": self.loop.concurrency,
                                              "requests": self.loop.total}
        for name, x in lat.items():
            x = x[np.isfinite(x)]
            key = "e2e_latency" if name == "e2e" else name
            out[f"{key}_mean_s"] = float(x.mean()) if x.size else math.nan
            for p in PERCENTILES:
                out[f"{key}_p{p}_s"] = float(np.percentile(x, p)) if x.size else math.nan
        m = self.measured
        decode_s = float(np.nansum((s.finish_s - s.first_s)[m]))
        decode_tokens = float((s.out[m] - 1).sum())
        out["itl_mean_s"] = decode_s / decode_tokens if decode_tokens else math.nan
        t0, t1 = self.window_s
        done = np.isfinite(s.finish_s) & ~s.dropped
        inside = done & (s.finish_s >= t0) & (s.finish_s < t1)
        span = t1 - t0

        def rate(v: float) -> float:
            return v / span if span > 0 else math.nan

        out["requests_per_s"] = rate(float(inside.sum()))
        out["output_tokens_per_s"] = rate(float(s.out[inside].sum()))
        out["input_tokens_per_s"] = rate(float(s.prompt[inside].sum()))
        out["output_tokens_per_s_per_gpu"] = out["output_tokens_per_s"] / self.gpus
        tpot = out["tpot_mean_s"]
        out["output_tokens_per_s_per_user"] = 1.0 / tpot if tpot and tpot > 0 else math.nan
        out["gpus"] = self.gpus
        out["measured_requests"] = int(m.sum())
        out["steady_state"] = self.steady
        out["window_s"] = float(t1 - t0)
        out["preemptions"] = int(s.preemptions.sum())
        out["dropped"] = int(s.dropped.sum())
        out["kv_capacity_tokens"] = self.kv_capacity_tokens
        return out

    def dropped_reasons(self) -> dict[str, int]:
        codes, counts = np.unique(self.state.drop_why[self.state.dropped], return_counts=True)
        return {DROP_REASONS[c]: int(n) for c, n in zip(codes, counts, strict=True)}


def simulate_closed_loop(loop: ClosedLoop, pool: Pool, prefill: Pool | None = None
                         ) -> ClosedLoopResult:
    """Run `loop` against `pool` (with `prefill`, `pool` is the decode pool)."""
    prompt, out = loop.lengths()
    max_ctx = int((prompt + out).max())
    state = RequestState(np.full(loop.capacity, np.nan), prompt, out)
    decode = _replicas(pool, state, max_ctx, 0, "decode" if prefill else "both", prompt)
    front = _replicas(prefill, state, max_ctx, len(decode), "prefill", prompt) \
        if prefill else decode
    _refuse_unschedulable(front, decode, prompt, out)
    link = _kv_link(prefill.spec, decode[0]) if prefill else None
    _drive(loop, state, front, decode, link)
    return _result(loop, state, pool.gpus + (prefill.gpus if prefill else 0),
                   decode[0].total_blocks * decode[0].cfg.block_size)


def _replicas(pool: Pool, state: RequestState, max_ctx: int, first: int, role: str,
              prompt: np.ndarray) -> list[Replica]:
    cfg = pool.config
    cost = pool.cost or IterationCost(pool.spec, max_context=max_ctx,
                                      prompt_tokens=int(np.median(prompt)))
    kv = cost.kv_capacity_tokens(cfg.max_batched_tokens)
    if cfg.kv_tokens_limit is not None:
        kv = min(kv, cfg.kv_tokens_limit)
    if kv < cfg.block_size:
        weights, act, _ = cost.memory(cfg.max_batched_tokens)
        raise ValueError(f"{pool.spec.model} does not fit on {pool.spec.label}: weights "
                         f"{weights / 1e9:.1f} GB and activations {act / 1e9:.1f} GB per GPU "
                         f"leave no room for a KV cache in "
                         f"{pool.spec.system.device.mem_capacity_bytes / 1e9:.0f} GB")
    reps = [Replica(first + i, cost, cfg, kv, state, role) for i in range(pool.replicas)]
    for rep in reps:
        rep.done = []
    return reps


def _refuse_unschedulable(front: list[Replica], decode: list[Replica], prompt: np.ndarray,
                          out: np.ndarray) -> None:
    """A loop whose every request would be dropped is refused here, with the reason."""
    f = front[0]
    shortest = int(prompt.min())
    if f.cfg.never_fits(shortest):
        raise ValueError(f"no request can ever be scheduled: the shortest prompt, {shortest:,} "
                         f"tokens, is longer than the {f.cfg.max_batched_tokens:,} tokens per "
                         "iteration and chunked prefill is off; raise --max-batched-tokens or "
                         "turn chunked prefill on")
    pools = [(decode[0], int((prompt + out).min()))]
    if f is not decode[0]:
        pools.append((f, shortest + 1))            # a prefill replica keeps the prompt only
    for rep, tokens in pools:
        have = rep.total_blocks * rep.cfg.block_size
        if tokens > have:
            raise ValueError(f"no request can ever be scheduled: the smallest request needs "
                             f"{tokens:,} tokens of KV cache (prompt and output) and a replica "
                             f"of {rep.cost.spec.label} holds {have:,}; use more GPUs per "
                             "replica, a smaller KV-cache dtype or shorter requests")


def _kv_link(prefill: ReplicaSpec, decode: Replica) -> tuple[float, float, float]:
    """(bytes/s per GPU, latency s, KV bytes per token per GPU) of the prefill -> decode move."""
    from simulator.serving.simulation import kv_link

    bw, latency = kv_link(prefill)
    return bw, latency, decode.cost.memory(decode.cfg.max_batched_tokens)[2]


def _least(reps: list[Replica]) -> Replica:
    return reps[0] if len(reps) == 1 else min(reps, key=lambda r: (r.outstanding, r.index))


def _drive(loop: ClosedLoop, state: RequestState, front: list[Replica],
           decode: list[Replica], link: tuple[float, float, float] | None) -> None:
    """Event loop: the busy replica furthest behind runs its next iteration; requests sent and
    KV caches arriving are delivered once every busy replica has reached their time."""
    n, cap = loop.total, loop.capacity
    everyone = front if front is decode else front + decode
    pending: list[tuple[float, int, int]] = []       # (time, kind 0 send / 1 KV arrives, id)
    sent, open_ = 0, n                               # measured or warm-up, not finished
    for _ in range(loop.concurrency):
        heapq.heappush(pending, (0.0, 0, sent))
        sent += 1
    while True:
        busy = [r for r in everyone if r.busy]
        t_rep = min((r.now for r in busy), default=math.inf)
        t_ev = pending[0][0] if pending else math.inf
        if t_ev == math.inf and t_rep == math.inf:
            return
        if t_ev <= t_rep:
            t, kind, r = heapq.heappop(pending)
            if kind == 0:
                state.arrival_s[r] = t
            rep = _least(front if kind == 0 else decode)
            rep.add(r, t)
            when = t
        else:
            rep = min(busy, key=lambda x: (x.now, x.index))
            rep.run_once(min([t_ev] + [x.now for x in busy if x is not rep]))
            when = rep.now
        for r in rep.done:                 # finished or dropped: the next request goes out
            open_ -= r < n
            if sent < n or (open_ > 0 and sent < cap):
                heapq.heappush(pending, (when, 0, sent))
                sent += 1
        rep.done.clear()
        if rep.handoffs:
            bw, latency, per_token = link
            for r, t in rep.handoffs:
                heapq.heappush(pending, (t + latency + state.cached[r] * per_token / bw, 1, r))
            rep.handoffs.clear()


def _result(loop: ClosedLoop, state: RequestState, gpus: int, kv_tokens: int
            ) -> ClosedLoopResult:
    n, c = loop.total, loop.concurrency
    ids = np.arange(len(state.arrival_s))
    done = np.isfinite(state.finish_s) & ~state.dropped
    measured = done & (ids >= c) & (ids < n)
    steady = bool(measured.any())
    if not steady:                    # R = N: no request after the warm-up
        measured = done & (ids < n)
    # The window: from the first measured send to the next send after the last measured one
    # (a whole number of the loop's rounds when sends come in waves), else the last finish.
    t0 = float(state.arrival_s[c]) if steady else 0.0
    extra = state.arrival_s[n] if len(ids) > n else np.nan
    t1 = float(extra) if np.isfinite(extra) else float(state.finish_s[done].max())
    return ClosedLoopResult(loop=loop, state=state, gpus=gpus, kv_capacity_tokens=kv_tokens,
                            window_s=(t0, t1), measured=measured, steady=steady)
