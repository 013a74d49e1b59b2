"""Speed of the closed loop and of `validate --serving` (issue 16 targets): one closed-loop run
of 1,000 requests <= 1 s; validating every H100 aggregated run of the shipped aiconfigurator
file <= 2 minutes on a 2-core machine.

Run: .venv/bin/python benchmarks/bench_serving_validation.py [model]
The closed loop's iteration costs are priced (and the model traced) first and timed apart. The
validation is timed whole in a fresh process (imports, trace-cache loads and pricing included);
a cold trace cache adds each model's first trace (about 10-20 s per model, once).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

LOOP_TARGET_S = 1.0
VALIDATE_TARGET_S = 120.0
ROOT = Path(__file__).resolve().parents[1]


def timed_closed_loop(spec, loop, cost) -> tuple[float, float, dict]:
    """(seconds of the first run, which prices the buckets it meets; seconds of a second run
    on those prices; its metrics) of one closed loop."""
    from simulator import Pool, simulate_closed_loop

    t = time.perf_counter()
    simulate_closed_loop(loop, Pool(spec, cost=cost))
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    m = simulate_closed_loop(loop, Pool(spec, cost=cost)).metrics()
    return warm_s, time.perf_counter() - t, m


def _closed_loop(model: str) -> None:
    from hwspecs import load_system
    from simulator import ClosedLoop, ReplicaSpec, parse_length
    from simulator.serving.iteration_cost import IterationCost

    spec = ReplicaSpec(model, load_system("h100-sxm"))
    for inp, out in (("1024", "1024"), ("uniform:128:2048", "lognormal:256:0.6")):
        loop = ClosedLoop(64, parse_length(inp), parse_length(out), requests=1000)
        cost = IterationCost(spec, max_context=loop.input_len.max_tokens
                             + loop.output_len.max_tokens, prompt_tokens=1024)
        warm_s, run_s, m = timed_closed_loop(spec, loop, cost)
        print(f"closed loop, {model} on h100-sxm, concurrency 64, 1,000 requests of {inp} in "
              f"/ {out} out: {run_s:.3f} s (target {LOOP_TARGET_S:.1f} s; pricing first "
              f"{warm_s:.2f} s)" + ("" if run_s <= LOOP_TARGET_S else "  (over target)"))
        print(f"  TTFT mean {m['ttft_mean_s'] * 1e3:.1f} ms, TPOT mean "
              f"{m['tpot_mean_s'] * 1e3:.2f} ms, {m['output_tokens_per_s_per_gpu']:,.0f} "
              f"tokens/s per GPU; N = throughput x latency: "
              f"{m['requests_per_s'] * m['e2e_latency_mean_s']:.1f}")


def _validate_agg() -> None:
    code = ("import time; t = time.perf_counter(); "
            "from validation.compare.serving import validate_serving; "
            "r = validate_serving(mode='agg'); s = r.as_dict()['summary']; "
            "print(len(r.rows), len(r.skipped), s['ttft']['median_abs_error'], "
            "s['tpot']['median_abs_error'], time.perf_counter() - t)")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True,
                         env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                              "PATH": "/usr/bin:/bin"}).stdout.split()
    wall_s = time.perf_counter() - t
    rows, skipped, ttft, tpot, inner_s = out[-5:]
    print(f"validate --serving, every H100 aggregated run ({rows} simulated, {skipped} "
          f"skipped): {wall_s:.1f} s in a fresh process ({float(inner_s):.1f} s of it in Python; "
          f"target {VALIDATE_TARGET_S:.0f} s)"
          + ("" if wall_s <= VALIDATE_TARGET_S else "  (over target)"))
    print(f"  median |error|: TTFT {float(ttft):.0%}, TPOT {float(tpot):.0%}")


def main() -> int:
    model = sys.argv[1] if len(sys.argv) > 1 else "llama-3.1-8b"
    _closed_loop(model)
    _validate_agg()
    return 0


if __name__ == "__main__":
    sys.exit(main())
