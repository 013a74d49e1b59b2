"""Speed of the serving simulation and the capacity planner (issue 8 targets):
10,000 requests on 4 replicas in <= 2 s; a capacity plan over 6 devices x TP {1, 2, 4, 8} in
<= 60 s; (issue 16) one closed-loop run of 1,000 requests in <= 1 s, and the README's
steady-state plan-capacity example (Llama-3.1-70B, 8 x H100, fp8) timed whole.

Run: .venv/bin/python benchmarks/bench_serving.py [model]
The serving run's iteration costs are priced (and the model traced) first and timed apart; the
capacity plan is timed whole, traces included.
"""

from __future__ import annotations

import sys
import time

SERVE_TARGET_S = 2.0
CLOSED_LOOP_TARGET_S = 1.0
PLAN_TARGET_S = 60.0
DEVICES = ("h100-sxm", "h200-sxm", "a100-sxm-80gb", "b200", "mi300x", "mi325x")


def _serving(model: str) -> None:
    from hwspecs import load_system
    from simulator import ReplicaSpec, Traffic, parse_length, simulate_serving
    from simulator.serving.iteration_cost import IterationCost

    spec = ReplicaSpec(model, load_system("h100-sxm"))
    rate = 40.0
    traffic = Traffic(rate_per_s=rate, duration_s=10_000 / rate,
                      input_len=parse_length("uniform:128:2048"),
                      output_len=parse_length("lognormal:256:0.6"))
    t = time.perf_counter()
    cost = IterationCost(spec, traffic.input_len.max_tokens + traffic.output_len.max_tokens)
    simulate_serving(spec, traffic, replicas=4, cost=cost)      # prices the buckets it meets
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    result = simulate_serving(spec, traffic, replicas=4, cost=cost)
    run_s = time.perf_counter() - t
    m = result.metrics()
    print(f"pricing {cost.evaluations} iteration buckets of {model} (traces included): "
          f"{warm_s:.2f} s")
    print(f"serving {len(result.requests):,} requests on 4 x h100-sxm at {rate:g} req/s: "
          f"{run_s:.3f} s (target {SERVE_TARGET_S:.1f} s)"
          + ("" if run_s <= SERVE_TARGET_S else "  (over target)"))
    print(f"  TTFT p99 {m['ttft_p99_s'] * 1e3:.1f} ms, TPOT p99 {m['tpot_p99_s'] * 1e3:.2f} ms, "
          f"{m['output_tokens_per_s']:,.0f} output tokens/s, {m['preemptions']} preemptions")


def _capacity(model: str) -> None:
    from simulator import CapacityQuery, Slo, parse_length, plan_capacity

    q = CapacityQuery(model=model, qps=100.0, input_len=parse_length("uniform:128:2048"),
                      output_len=parse_length("lognormal:256:0.6"), slo=Slo(0.5, 0.05),
                      hardware=DEVICES, tps=(1, 2, 4, 8))
    t = time.perf_counter()
    plan = plan_capacity(q)
    plan_s = time.perf_counter() - t
    n = len(plan.ranked) + len(plan.refused)
    print(f"capacity plan, {len(DEVICES)} devices x TP {{1,2,4,8}} ({n} candidates, "
          f"{len(plan.ranked)} feasible): {plan_s:.2f} s (target {PLAN_TARGET_S:.0f} s)"
          + ("" if plan_s <= PLAN_TARGET_S else "  (over target)"))
    for c in plan.ranked[:3]:
        print(f"  {c.hardware} TP{c.tp}: {c.replicas} replicas, ${c.usd_per_hour:,.2f}/h, "
              f"${c.usd_per_1m_output_tokens:,.3f} per 1M output tokens")


def _closed_loop() -> None:
    from bench_serving_validation import timed_closed_loop

    from hwspecs import load_system
    from simulator import ReplicaSpec, parse_length
    from simulator.core.options import Options
    from simulator.core.precision import Precision
    from simulator.parallel.plan import Plan
    from simulator.serving.closed_loop import ClosedLoop
    from simulator.serving.iteration_cost import IterationCost

    spec = ReplicaSpec("llama-3.1-70b", load_system("dgx-h100"), Plan(tp=8),
                       Options(precision=Precision.parse("fp8")))
    loop = ClosedLoop(concurrency=64, requests=1000, input_len=parse_length("1024"),
                      output_len=parse_length("1024"))
    t = time.perf_counter()
    cost = IterationCost(spec, max_context=2048, prompt_tokens=1024)
    setup_s = time.perf_counter() - t
    warm_s, run_s, m = timed_closed_loop(spec, loop, cost)
    warm_s += setup_s
    print(f"closed loop, llama-3.1-70b on 8 x h100 fp8, concurrency 64, 1,000 requests: "
          f"{run_s:.3f} s (target {CLOSED_LOOP_TARGET_S:.1f} s; pricing first {warm_s:.2f} s)"
          + ("" if run_s <= CLOSED_LOOP_TARGET_S else "  (over target)"))
    print(f"  TPOT mean {m['tpot_mean_s'] * 1e3:.2f} ms, "
          f"{m['output_tokens_per_s_per_gpu']:,.0f} output tokens/s per GPU")


def _plan_example() -> None:
    from simulator import CapacityQuery, Slo, parse_length, plan_capacity

    q = CapacityQuery(model="llama-3.1-70b", qps=20.0, input_len=parse_length("2048"),
                      output_len=parse_length("256"), slo=Slo(1.0, 0.06),
                      hardware=("h100-sxm",), tps=(8,), precisions=("fp8",))
    t = time.perf_counter()
    plan = plan_capacity(q)
    plan_s = time.perf_counter() - t
    c = plan.ranked[0]
    print(f"plan-capacity example (llama-3.1-70b, 20 req/s, h100-sxm TP8 fp8, steady state): "
          f"{plan_s:.2f} s; {c.max_rate_per_replica:.3f} req/s per replica, "
          f"{c.replicas} replicas")


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "llama-3.1-8b"
    _serving(model)
    _closed_loop()
    _plan_example()
    _capacity(model)


if __name__ == "__main__":
    main()
